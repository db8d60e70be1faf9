using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Veritee.Cluster.Tests;

/// <summary>One request of a load run: when it was sent and answered (Stopwatch ticks), and what came back.</summary>
public sealed record Outcome(int Index, long Sent, long Done, HttpStatusCode? Status, string? Upstream, string Body, string? Error, AttestSample Sample)
{
    public string Nonce => "req-" + Index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public bool Ok => Status == HttpStatusCode.OK;

    public override string ToString() => $"#{Index} {(Status is { } s ? ((int)s).ToString(System.Globalization.CultureInfo.InvariantCulture) : "no answer")} {Upstream} {Error} {Body[..Math.Min(Body.Length, 200)]}";
}

/// <summary>
/// Attestations through nginx from <c>concurrency</c> workers, bounded in requests and seconds; stops by itself.
/// Every request carries its own nonce and one of a pool of quotes, each over its own runtime data.
/// </summary>
public sealed class LoadDriver : IAsyncDisposable
{
    private readonly ConcurrentQueue<Outcome> _outcomes = new();
    private readonly HttpClient _http;
    private readonly string _url;
    private readonly IReadOnlyList<AttestSample> _samples;
    private readonly int _maxRequests;
    private readonly CancellationTokenSource _stop;
    private readonly Task[] _workers;
    private int _next = -1;
    private int _inFlight;

    public LoadDriver(ClusterFixture cluster, int concurrency, int maxRequests, TimeSpan maxDuration)
    {
        _http = cluster.CreateClient(concurrency);
        _url = cluster.LoadBalancerUrl + Api.AttestPath;
        _samples = Enumerable.Range(0, 32).Select(_ => AttestSample.Create(cluster.Platform, cluster.Enclave)).ToArray();
        _maxRequests = maxRequests;
        _stop = new CancellationTokenSource(maxDuration);
        _workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkAsync)).ToArray();
    }

    public IReadOnlyCollection<Outcome> Outcomes => _outcomes;

    public int Completed => _outcomes.Count;

    /// <summary>Requests sent and not yet answered.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public bool Finished => _stop.IsCancellationRequested || Volatile.Read(ref _next) >= _maxRequests - 1;

    /// <summary>Waits until <paramref name="condition"/> holds; false when the run ended first.</summary>
    public async Task<bool> WaitUntilAsync(Func<LoadDriver, bool> condition)
    {
        while (!condition(this))
        {
            if (_workers.All(w => w.IsCompleted))
            {
                return condition(this);
            }

            await Task.Delay(5);
        }

        return true;
    }

    /// <summary>Stops the workers (in-flight requests complete) and returns every outcome in send order.</summary>
    public async Task<IReadOnlyList<Outcome>> StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
        return [.. _outcomes.OrderBy(o => o.Index)];
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_workers);
        }
        finally
        {
            _http.Dispose();
            _stop.Dispose();
        }
    }

    private async Task WorkAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var index = Interlocked.Increment(ref _next);
            if (index >= _maxRequests)
            {
                return;
            }

            var sample = _samples[index % _samples.Count];
            var nonce = "req-" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var sent = Stopwatch.GetTimestamp();
            Interlocked.Increment(ref _inFlight);
            try
            {
                // No cancellation token on the request itself: a request once sent is always seen to its end (30 s timeout).
                using var content = new StringContent(sample.Body(nonce), Encoding.UTF8, "application/json");
                using var response = await _http.PostAsync(_url, content);
                var body = await response.Content.ReadAsStringAsync();
                var upstream = response.Headers.TryGetValues("X-Veritee-Upstream", out var values) ? string.Join(",", values) : null;
                _outcomes.Enqueue(new Outcome(index, sent, Stopwatch.GetTimestamp(), response.StatusCode, upstream, body, null, sample));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                _outcomes.Enqueue(new Outcome(index, sent, Stopwatch.GetTimestamp(), null, null, string.Empty, e.GetType().Name + ": " + e.Message, sample));
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }

    /// <summary>Every 200 whose token is wrong for its request (signature, issuer, nonce, runtime data, enclave), with why.</summary>
    public static List<string> WrongAnswers(IEnumerable<Outcome> outcomes, JsonObject jwks, ClusterFixture cluster)
    {
        var wrong = new List<string>();
        foreach (var o in outcomes.Where(o => o.Ok))
        {
            string? problem;
            try
            {
                var token = (JsonNode.Parse(o.Body) as JsonObject)?["token"]?.GetValue<string>();
                problem = token is null ? "200 without a token" : Api.AttestationProblem(token, jwks, cluster.LoadBalancerUrl, o.Sample, o.Nonce, cluster.Enclave);
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
            {
                problem = e.Message;
            }

            if (problem is not null)
            {
                wrong.Add($"#{o.Index}: {problem}");
            }
        }

        return wrong;
    }

    public static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;
}
