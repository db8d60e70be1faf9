using System.CommandLine;

namespace Veritee.Cli;

internal static class VerifyCommand
{
    public static Command Create(CliIo io)
    {
        _ = io;
        return new Command("verify", "Verify an SGX or TDX quote against DCAP collateral.");
    }
}
