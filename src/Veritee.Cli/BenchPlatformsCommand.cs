using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Veritee.Enclave;
using Veritee.Service;

namespace Veritee.Cli;

/// <summary>
/// <c>veritee bench platforms</c>: cost growth with the number of platforms. For each count N, N simulated platforms
/// (distinct FMSPCs and PCK certificates under one simulated root, as Intel's platforms share Intel's root) get a
/// collateral folder each (their own TCB Info; QE Identity and CRLs shared, as Intel publishes them), a fresh service
/// is started in this process on loopback with that folder, every platform is attested once (first sight), then the
/// platforms are attested round robin for the measurement time. Reports attestations/s of both phases, the process's
/// working set, and the managed heap the service kept per platform seen.
/// </summary>
internal static class BenchPlatformsCommand
{
    public static Command Create(CliIo io)
    {
        var counts = new Option<string>("--counts") { Description = "Comma-separated platform counts (default 1,100,10000); each at most 100000.", DefaultValueFactory = _ => "1,100,10000" };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight (default 16).", DefaultValueFactory = _ => 16 };
        var seconds = new Option<double>("--seconds") { Description = "Round-robin measurement time per count (default 10).", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per count: {\"platforms\",\"firstSightPerSecond\",\"attestationsPerSecond\",\"p99Ms\",\"errors\",\"workingSetMiB\",\"heapMiB\",\"heapPerPlatformKiB\",\"floorPerSecond\",\"ratio\",\"floor\"}; ratio = attestationsPerSecond divided by floorPerSecond." };
        var command = new Command(
            "platforms",
            "Attest across N simulated platforms (distinct FMSPCs and PCK chains under one root) on an in-process service and report attestations/s, "
            + "working set and the managed heap kept per platform against N, beside the RS256 signing floor (one thread) measured in the same run.");
        foreach (var option in new Option[] { counts, concurrency, seconds, json })
        {
            command.Options.Add(option);
        }

        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var list = ParseCounts(parse.GetValue(counts)!);
            var inFlight = parse.GetValue(concurrency);
            var duration = parse.GetValue(seconds);
            if (inFlight is < 1 or > 1024 || duration is <= 0 or > 3600)
            {
                throw new CliException("--concurrency must be in 1..1024 and --seconds in (0, 3600]");
            }

            var folder = Path.Combine(Path.GetTempPath(), "veritee-bench-platforms-" + Guid.NewGuid().ToString("N"));
            try
            {
                var failed = false;
                foreach (var count in list)
                {
                    var row = RunOne(folder, count, inFlight, duration).GetAwaiter().GetResult();
                    failed |= row.Errors > 0;
                    io.Out.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(row, JsonOptions) : row.Describe());
                }

                return failed ? ExitCodes.Negative : ExitCodes.Ok;
            }
            finally
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
        }));
        return command;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static List<int> ParseCounts(string text)
    {
        var list = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is < 1 or > 100_000)
            {
                throw new CliException($"--counts: '{part}' is not a platform count in 1..100000");
            }

            list.Add(n);
        }

        return list.Count > 0 ? list : throw new CliException("--counts names no platform count");
    }

    /// <summary>One row of the report.</summary>
    internal sealed record Row(
        int Platforms, double FirstSightPerSecond, double AttestationsPerSecond, double P99Ms, long Errors,
        double WorkingSetMiB, double HeapMiB, double HeapPerPlatformKiB, double FloorPerSecond, double Ratio)
    {
        /// <summary>The floor: one thread of RS256 signing, as <c>bench attest</c>.</summary>
        public string Floor => "rs256-sign";

        public string Describe() => string.Create(CultureInfo.InvariantCulture,
            $"platforms {Platforms,6}: first sight {FirstSightPerSecond,7:F1}/s, round robin {AttestationsPerSecond,7:F1}/s (p99 {P99Ms:F1} ms, {Errors} errors); working set {WorkingSetMiB:F0} MiB, service heap {HeapMiB:F1} MiB, {HeapPerPlatformKiB:F1} KiB per platform; rs256-sign floor {FloorPerSecond:F0}/s, ratio {Ratio:F3}");
    }

    private static async Task<Row> RunOne(string root, int count, int inFlight, double seconds)
    {
        var folder = Path.Combine(root, count.ToString(CultureInfo.InvariantCulture));
        var collateral = Path.Combine(folder, "collateral");
        var now = DateTimeOffset.UtcNow;
        var bodies = MakePlatforms(folder, collateral, count, now);

        var port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        var options = new ServiceOptions
        {
            InstanceUrl = url,
            DataDirectory = Path.Combine(folder, "data"),
            SimulationCollateralDirectory = collateral,
            LogLevel = LogLevel.Warning,
            PerClientRequestsPerSecond = 0,
            AdminToken = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)),
            KeyEncryptionKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
        };
        var app = await VeriteeServer.BuildAsync(options, url).ConfigureAwait(false);
        await app.StartAsync().ConfigureAwait(false);
        try
        {
            var target = new Uri(url + "/attest/SgxEnclave?api-version=2022-08-01");
            var requests = bodies.Select(b => Http1Connection.Request("POST", target, b, "application/json")).ToArray();
            await using var load = new LoadGenerator(target, null, inFlight);

            // The first platform once, through HttpClient for the service's reason if it is refused: never measured.
            using (var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) })
            using (var content = new ByteArrayContent(bodies[0]))
            {
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                using var warm = await http.PostAsync(target, content).ConfigureAwait(false);
                if (warm.StatusCode != HttpStatusCode.OK)
                {
                    throw new CliException($"the service refused a simulated platform's quote ({(int)warm.StatusCode}): {await warm.Content.ReadAsStringAsync().ConfigureAwait(false)}", ExitCodes.Negative);
                }
            }

            // Warm (JIT, connections, pools) on the first platform alone, so the heap difference is the platforms'.
            var warming = await load.RunAsync(_ => requests[0], LoadGenerator.After(Math.Min(2, seconds / 5))).ConfigureAwait(false);
            var heapBefore = Heap();
            var first = await load.RunAsync(i => requests[i], long.MaxValue, count: requests.Length).ConfigureAwait(false);
            var firstSight = requests.Length / first.Seconds;

            var measured = await load.RunAsync(i => requests[i % requests.Length], LoadGenerator.After(seconds)).ConfigureAwait(false);
            var errors = warming.Errors + first.Errors + measured.Errors;
            var p99 = measured.P99;

            var heapAfter = Heap();
            var workingSet = Environment.WorkingSet;
            var floor = BenchFloor.Rs256Sign(BenchFloor.SecondsFor(seconds));
            var rate = measured.PerSecond;
            return new Row(
                count, Math.Round(firstSight, 1), Math.Round(rate, 1), Math.Round(p99, 2), errors,
                Math.Round(workingSet / 1048576.0, 1), Math.Round((heapAfter - heapBefore) / 1048576.0, 2),
                Math.Round((heapAfter - heapBefore) / 1024.0 / count, 2), Math.Round(floor.PerSecond, 1), Math.Round(floor.RatioOf(rate), 4));
        }
        finally
        {
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    /// <summary>The managed heap after a full, compacting collection.</summary>
    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    /// <summary>
    /// <paramref name="count"/> platforms under one root: a collateral folder per FMSPC (its own TCB Info; the QE Identity
    /// and CRLs of the first platform, shared as Intel's are) and one request body per platform.
    /// </summary>
    private static byte[][] MakePlatforms(string folder, string collateral, int count, DateTimeOffset now)
    {
        using var baseline = SimulatedPlatform.Create(Path.Combine(folder, "platform"), now);
        var enclave = new SimulatedEnclave { MrEnclave = SimulatedEnclave.MeasureName(SimulatedEnclave.DefaultName), MrSigner = SimulatedEnclave.MrSignerOf(baseline.EnclaveSignerKey) };
        var options = new CollateralOptions { IssuedAt = now.AddMinutes(-5) };
        var shared = CollateralAuthority.Issue(baseline, options);
        Directory.CreateDirectory(collateral);
        File.WriteAllText(Path.Combine(collateral, SimulatedCollateral.TrustAnchorFile), shared.TrustAnchorPem);
        var bodies = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            // FMSPCs 0xF0xxxxxx0000: distinct per platform, none the baseline's.
            var fmspc = new byte[6];
            fmspc[0] = 0xF0;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(fmspc.AsSpan(1, 4), (uint)i);
            using var platform = baseline.CreateSibling(baseline.Profile with { Fmspc = fmspc }, now);
            var own = CollateralAuthority.Issue(platform, options);
            (own with { QeIdentity = shared.QeIdentity, RootCaCrl = shared.RootCaCrl, PckCrl = shared.PckCrl }).WriteTo(Path.Combine(collateral, Convert.ToHexString(fmspc)));
            var quote = platform.Quote(enclave, []);
            bodies[i] = Encoding.UTF8.GetBytes("{\"quote\":\"" + System.Buffers.Text.Base64Url.EncodeToString(quote) + "\"}");
        }

        return bodies;
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
