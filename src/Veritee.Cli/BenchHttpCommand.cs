using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Veritee.Cli;

/// <summary>
/// <c>veritee bench http BASE [PEER ...] --path P</c>: loads the same GET requests against several HTTP services in one
/// run (Veritee's PCCS routes beside Intel's PCCS, say) and reports requests/s and latency for each, with each peer's
/// figure as a ratio to the first. Absolute rates do not travel between machines; a ratio measured in one run does.
/// </summary>
internal static class BenchHttpCommand
{
    private const int MaxPaths = 64;

    public static Command Create(CliIo io)
    {
        var bases = new Argument<string[]>("BASE") { Description = "Base URLs, e.g. http://127.0.0.1:5080 https://127.0.0.1:8081; the first is measured, the others are its peers.", Arity = new ArgumentArity(1, 8) };
        var paths = new Option<string[]>("--path") { Description = "Path and query to GET (repeatable; requests cycle through them), e.g. /sgx/certification/v4/tcb?fmspc=00A067110000.", Required = true, AllowMultipleArgumentsPerToken = false };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight (default 16).", DefaultValueFactory = _ => 16 };
        var seconds = new Option<double>("--seconds") { Description = "Measurement time per base and round (default 10).", DefaultValueFactory = _ => 10 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds; each round measures every base once, in turn (default 3; medians are reported).", DefaultValueFactory = _ => 3 };
        var ca = new Option<FileInfo?>("--ca") { Description = "Trust HTTPS servers whose certificate chains to this PEM CA certificate (a self-signed server certificate may be given itself); the system store is used otherwise." };
        var header = new Option<string[]>("--header") { Description = "Extra request header NAME:VALUE (repeatable)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per base: {\"base\",\"requestsPerSecond\",\"p50Ms\",\"p99Ms\",\"requests\",\"errors\",\"rounds\",\"peerOf\",\"ratio\"}; ratio = requests/s of the first base divided by this base's." };
        var command = new Command(
            "http",
            "Load GET routes on one or more HTTP services with the same requests in the same run and report requests/s, p50 and p99 for each "
            + "(medians over rounds that alternate between the bases), and the first base's rate as a ratio to each peer's. Every answer must be 200. "
            + "Each request in flight has its own keep-alive HTTP/1.1 connection, opened directly (no proxy).");
        command.Arguments.Add(bases);
        foreach (var option in new Option[] { paths, concurrency, seconds, rounds, ca, header, json })
        {
            command.Options.Add(option);
        }

        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var urls = parse.GetValue(bases)!.Select(b => ParseBase(b)).ToArray();
            var requestPaths = parse.GetValue(paths)!;
            var inFlight = parse.GetValue(concurrency);
            var duration = parse.GetValue(seconds);
            var roundCount = parse.GetValue(rounds);
            if (requestPaths.Length is 0 or > MaxPaths || requestPaths.Any(p => !p.StartsWith('/')))
            {
                throw new CliException($"--path must be given 1..{MaxPaths} times, each starting with '/'");
            }

            if (inFlight is < 1 or > 1024 || duration is <= 0 or > 3600 || roundCount is < 1 or > 25)
            {
                throw new CliException("--concurrency must be in 1..1024, --seconds in (0, 3600] and --rounds in 1..25");
            }

            var headers = (parse.GetValue(header) ?? []).Select(ParseHeader).ToArray();
            using var trust = parse.GetValue(ca) is { } caFile ? LoadCa(caFile) : null;
            var perBase = urls.Select(_ => new List<LoadResult>()).ToArray();
            for (var round = 0; round < roundCount; round++)
            {
                for (var i = 0; i < urls.Length; i++)
                {
                    perBase[i].Add(Run(urls[i], requestPaths, headers, inFlight, duration, trust).GetAwaiter().GetResult());
                }
            }

            var first = Median(perBase[0].Select(r => r.PerSecond));
            var failed = false;
            for (var i = 0; i < urls.Length; i++)
            {
                var results = perBase[i];
                var rate = Median(results.Select(r => r.PerSecond));
                var p50 = Median(results.Select(r => r.P50));
                var p99 = Median(results.Select(r => r.P99));
                var errors = results.Sum(r => r.Errors);
                failed |= errors > 0;
                var ratio = i == 0 || rate == 0 ? (double?)null : first / rate;
                if (parse.GetValue(json))
                {
                    io.Out.WriteLine(JsonSerializer.Serialize(new
                    {
                        @base = urls[i].ToString(),
                        requestsPerSecond = Math.Round(rate, 1),
                        p50Ms = Math.Round(p50, 2),
                        p99Ms = Math.Round(p99, 2),
                        requests = results.Sum(r => r.Requests),
                        errors,
                        rounds = results.Count,
                        peerOf = i == 0 ? null : urls[0].ToString(),
                        ratio = ratio is { } x ? Math.Round(x, 3) : (double?)null,
                    }));
                }
                else
                {
                    var tail = ratio is { } x ? string.Create(CultureInfo.InvariantCulture, $"; {urls[0]} does {x:F2}x this") : " (measured base)";
                    io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{urls[i]}: {rate:F1} requests/s, p50 {p50:F2} ms, p99 {p99:F2} ms (median of {results.Count} rounds; {results.Sum(r => r.Requests)} requests, {errors} errors, {inFlight} in flight){tail}"));
                }
            }

            return failed ? ExitCodes.Negative : ExitCodes.Ok;
        }));
        return command;
    }

    private static Uri ParseBase(string text) =>
        Uri.TryCreate(text.TrimEnd('/'), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new CliException($"BASE '{text}' is not an http(s) URL");

    private static (string Name, string Value) ParseHeader(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? (text[..colon].Trim(), text[(colon + 1)..].Trim()) : throw new CliException($"--header '{text}' is not NAME:VALUE");
    }

    private static X509Certificate2 LoadCa(FileInfo file)
    {
        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(file.FullName));
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--ca {file.Name}: {e.Message}");
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static async Task<LoadResult> Run(Uri root, string[] paths, (string Name, string Value)[] headers, int inFlight, double seconds, X509Certificate2? ca)
    {
        var targets = paths.Select(p => new Uri(root, p)).ToArray();

        // Every path once first, through HttpClient for its error text: never measure an error path.
        using (var handler = new SocketsHttpHandler { UseProxy = false })
        {
            if (ca is not null)
            {
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => ChainsTo(certificate, errors, ca);
            }

            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
            foreach (var (name, value) in headers)
            {
                http.DefaultRequestHeaders.TryAddWithoutValidation(name, value);
            }

            foreach (var target in targets)
            {
                HttpResponseMessage first;
                try
                {
                    first = await http.GetAsync(target, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    throw new CliException($"{target}: {(e.InnerException ?? e).Message}", ExitCodes.Negative);
                }

                using var answer = first;
                if (first.StatusCode != HttpStatusCode.OK)
                {
                    throw new CliException($"{target} answered {(int)first.StatusCode}: {Shorten(await first.Content.ReadAsStringAsync().ConfigureAwait(false))}", ExitCodes.Negative);
                }
            }
        }

        var requests = targets.Select(t => Http1Connection.Request("GET", t, [], null, headers)).ToArray();
        await using var load = new LoadGenerator(root, ca, inFlight);
        await load.RunAsync(i => requests[i % requests.Length], LoadGenerator.After(Math.Min(2, seconds / 5))).ConfigureAwait(false);
        return await load.RunAsync(i => requests[i % requests.Length], LoadGenerator.After(seconds)).ConfigureAwait(false);
    }

    internal static bool ChainsTo(X509Certificate? presented, SslPolicyErrors errors, X509Certificate2 ca)
    {
        if (presented is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            return false;
        }

        using var leaf = new X509Certificate2(presented);
        if (leaf.RawDataMemory.Span.SequenceEqual(ca.RawDataMemory.Span))
        {
            return true;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
