using System.CommandLine;

namespace Veritee.Cli;

/// <summary><c>veritee quickstart</c>: the whole samples flow on embedded defaults.</summary>
internal static class QuickstartCommand
{
    public static Command Create(CliIo io)
    {
        var command = new Command("quickstart", "Run the whole attestation flow on embedded defaults: local service, simulated enclave, attest, validate, report.");
        command.SetAction(_ =>
        {
            io.Out.WriteLine("veritee quickstart will run, on this machine and with no options:");
            io.Out.WriteLine("  1. start a local MAA-compatible service on 127.0.0.1 (SQLite store in ~/.veritee)");
            io.Out.WriteLine("  2. create a simulated SGX platform and enclave, and write the samples' enclave.info.*.json files");
            io.Out.WriteLine("  3. attest each file against the local service (POST /attest/SgxEnclave)");
            io.Out.WriteLine("  4. validate the returned token against the service's pinned /certs and compare its claims");
            io.Out.WriteLine("  5. print the samples' report");
            io.Out.WriteLine();
            io.Out.WriteLine("Not available yet: the service, the simulated platform and the client are still being built.");
            io.Out.WriteLine("What works today: 'veritee verify QUOTE --collateral DIR' verifies a real SGX/TDX quote (see README).");
            return ExitCodes.Ok;
        });
        return command;
    }
}
