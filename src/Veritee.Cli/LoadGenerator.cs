using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Veritee.Cli;

/// <summary>What one load phase measured.</summary>
/// <param name="Requests">Answers counted (200, or any status with accept-any).</param>
/// <param name="Errors">Failed exchanges, and non-200 answers unless accept-any.</param>
/// <param name="Refused">Non-200 answers with accept-any.</param>
/// <param name="Seconds">Wall time of the phase.</param>
/// <param name="P50">Median latency of the counted answers, milliseconds.</param>
/// <param name="P99">99th percentile latency, milliseconds.</param>
internal sealed record LoadResult(long Requests, long Errors, long Refused, double Seconds, double P50, double P99)
{
    /// <summary>Counted answers per second.</summary>
    public double PerSecond => Seconds > 0 ? Requests / Seconds : 0;
}

/// <summary>
/// The load loop of every <c>veritee bench</c> that drives a service over HTTP: <c>inFlight</c> workers, each on its
/// own keep-alive <see cref="Http1Connection"/> (kept between phases, reopened after a failure), sending prepared
/// requests in turn from one shared sequence.
/// </summary>
internal sealed class LoadGenerator(Uri server, X509Certificate2? extraCa, int inFlight) : IAsyncDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly Http1Connection?[] _connections = new Http1Connection?[inFlight];

    /// <summary>
    /// Sends <paramref name="requests"/>(0), (1), ... until <paramref name="stopAt"/> (a <see cref="Stopwatch"/>
    /// timestamp), or, with <paramref name="count"/>, until that many have been sent.
    /// </summary>
    public async Task<LoadResult> RunAsync(Func<long, byte[]> requests, long stopAt, bool acceptAny = false, long? count = null)
    {
        long next = -1, errors = 0, refused = 0;
        var latencies = new List<double>[_connections.Length];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, _connections.Length).Select(async slot =>
        {
            var mine = latencies[slot] = [];
            var timeout = new CancellationTokenSource();
            try
            {
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    var index = Interlocked.Increment(ref next);
                    if (index >= count)
                    {
                        return;
                    }

                    var start = Stopwatch.GetTimestamp();
                    int status;
                    try
                    {
                        timeout.CancelAfter(RequestTimeout);
                        status = await ExchangeAsync(slot, requests(index), timeout.Token).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or AuthenticationException)
                    {
                        // Counted, never fatal to the run; a short pause keeps a refused connection from spinning.
                        Interlocked.Increment(ref errors);
                        await DropAsync(slot).ConfigureAwait(false);
                        Renew(ref timeout);
                        await Task.Delay(10).ConfigureAwait(false);
                        continue;
                    }

                    Renew(ref timeout);
                    if (status != 200)
                    {
                        if (!acceptAny)
                        {
                            Interlocked.Increment(ref errors);
                            continue;
                        }

                        Interlocked.Increment(ref refused);
                    }

                    mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
            finally
            {
                timeout.Dispose();
            }
        })).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double Percentile(double p) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)Math.Ceiling(p * all.Length) - 1)];
        return new LoadResult(all.Length, errors, refused, elapsed, Percentile(0.50), Percentile(0.99));
    }

    /// <summary>A <see cref="Stopwatch"/> timestamp <paramref name="seconds"/> from now.</summary>
    public static long After(double seconds) => Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);

    private async Task<int> ExchangeAsync(int slot, byte[] request, CancellationToken cancellationToken)
    {
        if (_connections[slot] is not { IsReusable: true })
        {
            await DropAsync(slot).ConfigureAwait(false);
            _connections[slot] = await Http1Connection.OpenAsync(server, extraCa, cancellationToken).ConfigureAwait(false);
        }

        return await _connections[slot]!.ExchangeAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private async Task DropAsync(int slot)
    {
        if (_connections[slot] is { } connection)
        {
            _connections[slot] = null;
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops <paramref name="timeout"/>'s timer, or replaces it once it has fired.</summary>
    private static void Renew(ref CancellationTokenSource timeout)
    {
        if (!timeout.TryReset())
        {
            timeout.Dispose();
            timeout = new CancellationTokenSource();
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        for (var slot = 0; slot < _connections.Length; slot++)
        {
            await DropAsync(slot).ConfigureAwait(false);
        }
    }
}
