// Closed-loop HTTP load for the PCCS comparison (tools/pccs-oracle/README.md): CONCURRENCY clients send GET URL
// back to back for SECONDS (after a 2 s warm-up) over kept-alive connections; prints requests/s and latency
// percentiles of 200 answers. TLS certificates are not checked (loopback, self-signed).
// Usage: dotnet run tools/pccs-oracle/load.cs -- URL CONCURRENCY SECONDS
using System.Diagnostics;
using System.Globalization;

var url = new Uri(args[0]);
var concurrency = int.Parse(args[1], CultureInfo.InvariantCulture);
var seconds = double.Parse(args[2], CultureInfo.InvariantCulture);
using var handler = new SocketsHttpHandler
{
    MaxConnectionsPerServer = concurrency,
    SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
};
using var http = new HttpClient(handler);

async Task<List<long>> Run(TimeSpan duration, int[] errors)
{
    var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    var workers = Enumerable.Range(0, concurrency).Select(async _ =>
    {
        var latencies = new List<long>();
        while (Stopwatch.GetTimestamp() < until)
        {
            var start = Stopwatch.GetTimestamp();
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseContentRead);
            var elapsed = Stopwatch.GetTimestamp() - start;
            if ((int)response.StatusCode == 200)
            {
                latencies.Add(elapsed);
            }
            else
            {
                Interlocked.Increment(ref errors[0]);
            }
        }

        return latencies;
    }).ToList();
    return (await Task.WhenAll(workers)).SelectMany(l => l).ToList();
}

var warmErrors = new int[1];
await Run(TimeSpan.FromSeconds(2), warmErrors);
var errors = new int[1];
var all = await Run(TimeSpan.FromSeconds(seconds), errors);
all.Sort();
double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
double Percentile(double p) => all.Count == 0 ? double.NaN : Ms(all[Math.Min(all.Count - 1, (int)(p * all.Count))]);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{url.PathAndQuery}: {all.Count / seconds:F0} req/s, p50 {Percentile(0.50):F2} ms, p99 {Percentile(0.99):F2} ms, non-200 {errors[0]}, concurrency {concurrency}, {seconds} s"));
