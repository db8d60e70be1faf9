using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Veritee.Policy;

namespace Veritee.Cli;

/// <summary><c>veritee bench policy FILE --claims CLAIMS.json</c>: single-threaded policy evaluations per second.</summary>
internal static class BenchPolicyCommand
{
    public static Command Create(CliIo io)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "Policy text file." };
        var claims = new Option<FileInfo>("--claims") { Description = "JSON array of {\"type\", \"value\", \"issuer\"?}.", Required = true };
        var seconds = new Option<double>("--seconds") { Description = "Measured duration in seconds (after a warm-up of a quarter of it, at most 1 s).", DefaultValueFactory = _ => 3.0 };
        var json = new Option<bool>("--json") { Description = "Print {\"mode\",\"threads\",\"operations\",\"seconds\",\"opsPerSecond\",\"floor\":null} (no floorPerSecond or ratio: see above)." };
        var command = new Command(
            "policy",
            "Evaluate a compiled policy repeatedly on one thread and report evaluations per second. "
            + "No floor is reported (\"floor\": null): evaluation is pure computation with no cryptographic step to be bounded by.");
        command.Arguments.Add(file);
        command.Options.Add(claims);
        command.Options.Add(seconds);
        command.Options.Add(json);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var duration = parse.GetValue(seconds);
            if (!(duration > 0 && duration <= 3600))
            {
                throw new CliException("--seconds must be between 0 and 3600.");
            }

            var policy = PolicyCommands.LoadPolicy(io, parse.GetValue(file)!);
            var incoming = PolicyCommands.LoadClaims(parse.GetValue(claims)!).ToArray();
            PolicyEvaluationResult first;
            try
            {
                first = policy.Evaluate(incoming);
            }
            catch (PolicyLimitExceededException e)
            {
                throw new CliException(e.Message);
            }

            Run(policy, incoming, Math.Min(1.0, duration / 4));
            var (operations, elapsed) = Run(policy, incoming, duration);
            var rate = operations / elapsed;
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"mode\":\"policy\",\"threads\":1,\"operations\":{operations},\"seconds\":{elapsed:0.###},\"opsPerSecond\":{rate:0},\"floor\":null}}"));
            }
            else
            {
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"policy: {operations:N0} evaluations in {elapsed:0.###} s on 1 thread = {rate:N0} evaluations/s"));
                io.Out.WriteLine("floor: none (policy evaluation has no cryptographic step)");
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"result: {(first.Authorized ? "authorized" : first.IsError ? "error" : "denied")}, {first.Issued.Count} issued claim(s), {first.Properties.Count} property claim(s)"));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static (long Operations, double Seconds) Run(CompiledPolicy policy, PolicyClaim[] incoming, double seconds)
    {
        var stopwatch = Stopwatch.StartNew();
        var limit = (long)(seconds * Stopwatch.Frequency);
        long operations = 0;
        while (true)
        {
            // Check the clock every 256 evaluations so timing costs stay out of the measurement.
            for (var i = 0; i < 256; i++)
            {
                policy.Evaluate(incoming);
            }

            operations += 256;
            if (stopwatch.ElapsedTicks >= limit)
            {
                return (operations, stopwatch.Elapsed.TotalSeconds);
            }
        }
    }
}
