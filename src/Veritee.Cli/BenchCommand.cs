using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Veritee.Dcap;
using Veritee.Dcap.Verification;

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
        command.Subcommands.Add(BenchPlatformsCommand.Create(io));
        return command;
    }

    private static Command BenchVerify(CliIo io)
    {
        var quote = new Argument<FileInfo>("QUOTE") { Description = "Quote file." };
        var options = new VerifyOptions();
        var seconds = new Option<double>("--seconds") { Description = "Measurement time per run (default 5).", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { Description = "Parallel verifying threads (default 1).", DefaultValueFactory = _ => 1 };
        var cold = new Option<bool>("--cold") { Description = "Verify every certificate, CRL and collateral signature from bytes on every call, as Intel QVL does (default: warm, a repeat platform with the verification cache on)." };
        var json = new Option<bool>("--json") { Description = "Print {\"mode\",\"threads\",\"operations\",\"seconds\",\"opsPerSecond\",\"floor\",\"floorPerSecond\",\"ratio\"}." };
        var command = new Command(
            "verify",
            "Verify one quote in a loop and report verifications per second, beside the floor measured in the same process on the same number of threads: "
            + "ECDSA P-256 verify with an imported key (floor \"ecdsa-p256-verify\", warm) or key import from the raw point plus verify (\"ecdsa-p256-import-verify\", --cold); ratio = ops/s divided by floor/s.");
        command.Arguments.Add(quote);
        options.AddTo(command);
        command.Options.Add(seconds);
        command.Options.Add(threads);
        command.Options.Add(cold);
        command.Options.Add(json);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var input = options.Read(parse, parse.GetValue(quote)!);
            var isCold = parse.GetValue(cold);
            var cache = new VerificationCache();
            var verifier = new QuoteVerifier(cache);
            Func<VerificationResult> once = isCold
                ? () => QuoteVerifier.VerifyCold(input.Quote, input.Collateral, input.Anchor, input.Time)
                : () => verifier.Verify(input.Quote, input.Collateral, input.Anchor, input.Time);

            // Never benchmark an error path: the quote must verify, and every iteration must agree.
            var reference = once();
            if (!reference.IsVerified)
            {
                throw new CliException($"the quote does not verify at this time ({reference.Status.Name()}: {reference.Detail}); benchmark refused", ExitCodes.Negative);
            }

            var result = BenchRunner.Run(() => once().Status == reference.Status, parse.GetValue(seconds), parse.GetValue(threads));

            // The floor right after, on as many threads: a warm verification cannot beat one ECDSA check with a
            // ready key, a cold one cannot beat importing the quote's key and checking its signature.
            var floor = BenchFloor.EcdsaP256Verify(isCold, BenchFloor.SecondsFor(result.Seconds), result.Threads);
            BenchRunner.Print(io, isCold ? "verify-cold" : "verify-warm", result, floor, parse.GetValue(json));
            return ExitCodes.Ok;
        }));
        return command;
    }
}

/// <summary>Measured throughput of one benchmark run.</summary>
internal sealed record BenchResult(int Threads, long Operations, double Seconds)
{
    public double OpsPerSecond => Operations / Seconds;
}

/// <summary>Runs an operation in a timed loop on N threads after a warm-up.</summary>
internal static class BenchRunner
{
    public static BenchResult Run(Func<bool> operation, double seconds, int threads)
    {
        if (seconds is <= 0 or > 3600)
        {
            throw new CliException("--seconds must be in (0, 3600]");
        }

        if (threads is < 1 or > 256)
        {
            throw new CliException("--threads must be in 1..256");
        }

        // Warm-up: JIT tiering and caches, a tenth of the run, at least 200 ms.
        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed.TotalSeconds < Math.Max(0.2, seconds / 10))
        {
            Check(operation());
        }

        long total = 0;
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
        return new BenchResult(threads, total, clock.Elapsed.TotalSeconds);
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
            }));
        }
        else
        {
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{mode}: {r.OpsPerSecond:F1} ops/s ({r.Operations} operations in {r.Seconds:F2} s on {r.Threads} thread(s), {Environment.ProcessorCount} CPU(s))"));
            io.Out.WriteLine(floor.Describe(r.OpsPerSecond));
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
