using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Enclave;
using Veritee.Sgx;

namespace Veritee.Cli;

/// <summary><c>veritee bench</c>: throughput benchmarks.</summary>
internal static class BenchCommand
{
    public static Command Create(CliIo io)
    {
        var command = new Command("bench", "Measure throughput (operations per second).");
        command.Subcommands.Add(BenchVerify(io));
        command.Subcommands.Add(BenchPolicyCommand.Create(io));
        command.Subcommands.Add(BenchAttestCommand.Create(io));
        command.Subcommands.Add(BenchHttpCommand.Create(io));
        command.Subcommands.Add(BenchPlatformsCommand.Create(io));
        return command;
    }

    private static Command BenchVerify(CliIo io)
    {
        var quote = new Argument<FileInfo?>("QUOTE") { Description = "Quote file (none with --distinct-quotes).", Arity = ArgumentArity.ZeroOrOne };
        var options = new VerifyOptions();
        options.Collateral.Required = false;
        var seconds = new Option<double>("--seconds") { Description = "Measurement time per run (default 5).", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { Description = "Parallel verifying threads (default 1).", DefaultValueFactory = _ => 1 };
        var cold = new Option<bool>("--cold") { Description = "Verify every certificate, CRL and collateral signature from bytes on every call, as Intel QVL does (default: warm, a repeat platform with the verification cache on)." };
        var distinct = new Option<bool>("--distinct-quotes")
        {
            Description = "Verify a different quote each call, as a service does: a throwaway simulated platform (temporary folder, deleted after) with its own "
                + $"collateral and trust anchor, and {DistinctQuotes.Count} quotes of one enclave, each with its own random report data and attestation-key signature; "
                + "the QE report and its PCK signature are the same in every quote, as a hardware quoting enclave's certification data is for the life of its "
                + "attestation key. No QUOTE, --collateral or --trust-anchor; --at defaults to now.",
        };
        var json = new Option<bool>("--json") { Description = "Print {\"mode\",\"threads\",\"operations\",\"seconds\",\"opsPerSecond\",\"floor\",\"floorPerSecond\",\"ratio\",\"cpuSeconds\",\"opsPerCpuSecond\",\"floorPerCpuSecond\",\"cpuRatio\"} (the cpu fields count process CPU time, not waiting for a core; per operation with one thread)." };
        var command = new Command(
            "verify",
            "Verify one quote in a loop (or, with --distinct-quotes, a new quote of one simulated platform each call) and report verifications per second, "
            + "beside the floor measured in the same process on the same number of threads: "
            + "ECDSA P-256 verify with an imported key (floor \"ecdsa-p256-verify\", warm) or key import from the raw point plus verify (\"ecdsa-p256-import-verify\", --cold), "
            + "run in 50 ms turns alternating with the benchmark so that both see the same load; ratio = ops/s divided by floor/s. "
            + "Against Phala dcap-qvl on the same quote, one command: bench/verify-vs-dcap-qvl.sh [CASE] [SECONDS] [RUNS].");
        command.Arguments.Add(quote);
        options.AddTo(command);
        command.Options.Add(seconds);
        command.Options.Add(threads);
        command.Options.Add(cold);
        command.Options.Add(distinct);
        command.Options.Add(json);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var isCold = parse.GetValue(cold);
            var quoteFile = parse.GetValue(quote);
            using var quotes = parse.GetValue(distinct)
                ? DistinctQuotes.Create(quoteFile, parse.GetValue(options.Collateral), parse.GetValue(options.TrustAnchor), CliTime.Parse(parse.GetValue(options.At), DateTimeOffset.UtcNow))
                : DistinctQuotes.One(quoteFile is null ? throw new CliException("QUOTE is required (or --distinct-quotes)") :
                    parse.GetValue(options.Collateral) is null ? throw new CliException("--collateral is required (or --distinct-quotes)") :
                    options.Read(parse, quoteFile));
            var cache = new VerificationCache();
            var verifier = new QuoteVerifier(cache);
            Func<byte[], VerificationResult> once = isCold
                ? q => QuoteVerifier.VerifyCold(q, quotes.Collateral, quotes.Anchor, quotes.Time)
                : q => verifier.Verify(q, quotes.Collateral, quotes.Anchor, quotes.Time);

            // Never benchmark an error path: the quote must verify, and every iteration must agree.
            var reference = once(quotes.Next());
            if (!reference.IsVerified)
            {
                throw new CliException($"the quote does not verify at this time ({reference.Status.Name()}: {reference.Detail}); benchmark refused", ExitCodes.Negative);
            }

            // The floor on as many threads, interleaved with the benchmark in short turns so that both see the same
            // machine (other load comes and goes): a warm verification cannot beat one ECDSA check with a ready key,
            // a cold one cannot beat importing the quote's key and checking its signature.
            using var floorOperation = BenchFloor.EcdsaP256VerifyOperation(isCold);
            var (result, floorResult) = BenchRunner.RunInterleaved(
                () => once(quotes.Next()).Status == reference.Status, floorOperation.Operation, parse.GetValue(seconds), parse.GetValue(threads));
            var floor = new BenchFloor(floorOperation.Name, floorOperation.Description, floorResult);
            var mode = (isCold ? "verify-cold" : "verify-warm") + (quotes.Length > 1 ? "-distinct-quotes" : string.Empty);
            BenchRunner.Print(io, mode, result, floor, parse.GetValue(json));
            return ExitCodes.Ok;
        }));
        return command;
    }
}

/// <summary>The quotes a verify benchmark cycles through, with their collateral, anchor and time; owns a throwaway platform folder.</summary>
internal sealed class DistinctQuotes : IDisposable
{
    /// <summary>Quotes made for <c>--distinct-quotes</c> (made before the timed loop, so signing is not measured).</summary>
    public const int Count = 1024;

    /// <summary>SGX v3 quote: 48-byte header and 384-byte report body are signed; report data is the body's last 64 bytes.</summary>
    private const int SignedLength = 48 + 384;
    private const int ReportDataOffset = 48 + 320;
    private const int SignatureOffset = SignedLength + 4;

    private readonly byte[][] _quotes;
    private readonly DirectoryInfo? _folder;
    private long _next = -1;

    private DistinctQuotes(byte[][] quotes, QuoteCollateral collateral, TrustAnchor anchor, DateTimeOffset time, DirectoryInfo? folder)
    {
        _quotes = quotes;
        Collateral = collateral;
        Anchor = anchor;
        Time = time;
        _folder = folder;
    }

    public QuoteCollateral Collateral { get; }

    public TrustAnchor Anchor { get; }

    public DateTimeOffset Time { get; }

    /// <summary>How many different quotes are cycled through.</summary>
    public int Length => _quotes.Length;

    /// <summary>The next quote, round robin (thread-safe).</summary>
    public byte[] Next() => _quotes[(int)((ulong)Interlocked.Increment(ref _next) % (ulong)_quotes.Length)];

    public static DistinctQuotes One((byte[] Quote, QuoteCollateral Collateral, TrustAnchor Anchor, DateTimeOffset Time) input) =>
        new([input.Quote], input.Collateral, input.Anchor, input.Time, null);

    /// <summary>
    /// A throwaway simulated platform and its collateral at <paramref name="time"/>, and <see cref="Count"/> quotes of one
    /// enclave that differ in report data (random) and hence in the attestation key's signature.
    /// </summary>
    public static DistinctQuotes Create(FileInfo? quote, string? collateral, FileInfo? anchor, DateTimeOffset time)
    {
        if (quote is not null || collateral is not null || anchor is not null)
        {
            throw new CliException("--distinct-quotes makes its own platform, quotes, collateral and trust anchor: give no QUOTE, --collateral or --trust-anchor");
        }

        var folder = Directory.CreateTempSubdirectory("veritee-bench-");
        try
        {
            using var platform = SimulatedPlatform.Create(Path.Combine(folder.FullName, "platform"), time);
            var bundle = CollateralAuthority.Issue(platform, new CollateralOptions { IssuedAt = time }).ToQuoteCollateral();
            var enclave = new SimulatedEnclave
            {
                MrEnclave = SimulatedEnclave.MeasureName(SimulatedEnclave.DefaultName),
                MrSigner = SimulatedEnclave.MrSignerOf(platform.EnclaveSignerKey),
            };
            var template = platform.Quote(enclave, new byte[64], version: 3);
            var parsed = Quote.Parse(template);
            if (parsed.SignedRegion.Length != SignedLength || !parsed.SignatureData.Signature.Span.SequenceEqual(template.AsSpan(SignatureOffset, 64)))
            {
                throw new InvalidOperationException("simulated v3 quote layout is not header ‖ body ‖ u32 length ‖ signature");
            }

            // The platform's attestation key, from the state the platform just wrote: a new quote is a new report
            // signed by the same key, while the QE report and its PCK signature stay as they are.
            using var attestationKey = ECDsa.Create();
            attestationKey.ImportFromPem(File.ReadAllText(Path.Combine(platform.Folder, "attestation-key.pem")));
            var quotes = new byte[Count][];
            for (var i = 0; i < quotes.Length; i++)
            {
                var q = (byte[])template.Clone();
                RandomNumberGenerator.Fill(q.AsSpan(ReportDataOffset, 64));
                attestationKey.SignData(q.AsSpan(0, SignedLength), q.AsSpan(SignatureOffset, 64), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
                quotes[i] = q;
            }

            return new DistinctQuotes(quotes, bundle, platform.TrustAnchor, time, folder);
        }
        catch
        {
            folder.Delete(recursive: true);
            throw;
        }
    }

    public void Dispose() => _folder?.Delete(recursive: true);
}

/// <summary>Measured throughput of one benchmark run: wall time, and the process's CPU time over the same interval.</summary>
internal sealed record BenchResult(int Threads, long Operations, double Seconds, double CpuSeconds)
{
    public double OpsPerSecond => Operations / Seconds;

    /// <summary>
    /// Operations per second of CPU time the process used (all its threads, GC included): on a machine shared with
    /// other work, wall time includes waiting for a core, CPU time does not.
    /// </summary>
    public double OpsPerCpuSecond => CpuSeconds > 0 ? Operations / CpuSeconds : double.NaN;
}

/// <summary>Runs an operation in a timed loop on N threads after a warm-up.</summary>
internal static class BenchRunner
{
    private static void RequireRange(double seconds, int threads)
    {
        if (seconds is <= 0 or > 3600)
        {
            throw new CliException("--seconds must be in (0, 3600]");
        }

        if (threads is < 1 or > 256)
        {
            throw new CliException("--threads must be in 1..256");
        }
    }

    public static BenchResult Run(Func<bool> operation, double seconds, int threads)
    {
        RequireRange(seconds, threads);

        // Warm-up: JIT tiering and caches, a tenth of the run, at least 200 ms.
        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed.TotalSeconds < Math.Max(0.2, seconds / 10))
        {
            Check(operation());
        }

        long total = 0;
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var stopAt = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            // At least one operation per thread: on a loaded machine a thread may start after the deadline.
            long count = 0;
            do
            {
                Check(operation());
                count++;
            }
            while (Stopwatch.GetTimestamp() < stopAt);

            Interlocked.Add(ref total, count);
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        var elapsed = clock.Elapsed.TotalSeconds;
        process.Refresh();
        return new BenchResult(threads, total, elapsed, (process.TotalProcessorTime - cpuBefore).TotalSeconds);
    }

    /// <summary>Turn length of <see cref="RunInterleaved"/>: long against timer and CPU-time reads, short against load changes.</summary>
    private const double TurnSeconds = 0.05;

    /// <summary>
    /// Runs <paramref name="operation"/> for <paramref name="seconds"/> and <paramref name="floor"/> for as long, on
    /// each of <paramref name="threads"/> threads, alternating every 50 ms, after a warm-up of both. Each result counts
    /// only its own turns (wall time, and process CPU time, which is per operation only with one thread).
    /// </summary>
    public static (BenchResult Operation, BenchResult Floor) RunInterleaved(Func<bool> operation, Func<bool> floor, double seconds, int threads)
    {
        RequireRange(seconds, threads);

        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed.TotalSeconds < Math.Max(0.2, seconds / 10))
        {
            Check(operation());
            Check(floor());
        }

        long opCount = 0, floorCount = 0, opTicks = 0, floorTicks = 0;
        double opCpu = 0, floorCpu = 0;
        var turn = (long)(TurnSeconds * Stopwatch.Frequency);
        var cpuLock = new object();
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            using var process = Process.GetCurrentProcess();
            long ops = 0, floors = 0, myOpTicks = 0, myFloorTicks = 0;
            double myOpCpu = 0, myFloorCpu = 0;

            // Turns until this thread has spent the measurement time on the operation (at least one turn each).
            do
            {
                myOpTicks += Turn(operation, turn, process, ref ops, ref myOpCpu);
                myFloorTicks += Turn(floor, turn, process, ref floors, ref myFloorCpu);
            }
            while (myOpTicks < seconds * Stopwatch.Frequency);

            Interlocked.Add(ref opCount, ops);
            Interlocked.Add(ref floorCount, floors);
            Interlocked.Add(ref opTicks, myOpTicks);
            Interlocked.Add(ref floorTicks, myFloorTicks);
            lock (cpuLock)
            {
                opCpu += myOpCpu;
                floorCpu += myFloorCpu;
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());

        // Per-thread time, averaged: the threads ran side by side.
        double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency / threads;
        return (new BenchResult(threads, opCount, Seconds(opTicks), opCpu / threads), new BenchResult(threads, floorCount, Seconds(floorTicks), floorCpu / threads));
    }

    private static long Turn(Func<bool> operation, long ticks, Process process, ref long count, ref double cpuSeconds)
    {
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var start = Stopwatch.GetTimestamp();
        long now;
        do
        {
            Check(operation());
            count++;
            now = Stopwatch.GetTimestamp();
        }
        while (now - start < ticks);

        process.Refresh();
        cpuSeconds += (process.TotalProcessorTime - cpu).TotalSeconds;
        return now - start;
    }

    public static void Print(CliIo io, string mode, BenchResult r, BenchFloor floor, bool json)
    {
        if (json)
        {
            io.Out.WriteLine(JsonSerializer.Serialize(new
            {
                mode,
                threads = r.Threads,
                operations = r.Operations,
                seconds = Math.Round(r.Seconds, 3),
                opsPerSecond = Math.Round(r.OpsPerSecond, 1),
                floor = floor.Name,
                floorPerSecond = Math.Round(floor.PerSecond, 1),
                ratio = Math.Round(floor.RatioOf(r.OpsPerSecond), 4),
                cpuSeconds = Math.Round(r.CpuSeconds, 3),
                opsPerCpuSecond = Math.Round(r.OpsPerCpuSecond, 1),
                floorPerCpuSecond = Math.Round(floor.Result.OpsPerCpuSecond, 1),
                cpuRatio = Math.Round(r.OpsPerCpuSecond / floor.Result.OpsPerCpuSecond, 4),
            }));
        }
        else
        {
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{mode}: {r.OpsPerSecond:F1} ops/s ({r.Operations} operations in {r.Seconds:F2} s on {r.Threads} thread(s), {Environment.ProcessorCount} CPU(s))"));
            io.Out.WriteLine(floor.Describe(r.OpsPerSecond));
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"per CPU second (process CPU time, robust to other load): {r.OpsPerCpuSecond:F1} ops, floor {floor.Result.OpsPerCpuSecond:F1}; ratio {r.OpsPerCpuSecond / floor.Result.OpsPerCpuSecond:F3}"));
        }
    }

    private static void Check(bool ok)
    {
        if (!ok)
        {
            throw new CliException("an iteration gave a different result from the first; benchmark aborted", ExitCodes.Negative);
        }
    }
}
