using System.CommandLine;

namespace Veritee.Cli;

/// <summary><c>veritee bench</c>: throughput benchmarks.</summary>
internal static class BenchCommand
{
    public static Command Create(CliIo io)
    {
        _ = io;
        var command = new Command("bench", "Measure throughput (operations per second).");
        return command;
    }
}
