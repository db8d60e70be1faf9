using System.CommandLine;

namespace Veritee.Cli;

/// <summary>Where a command writes; tests pass their own writers.</summary>
internal sealed record CliIo(TextWriter Out, TextWriter Error);

/// <summary>Exit codes shared by every command.</summary>
internal static class ExitCodes
{
    /// <summary>The operation succeeded (verified, authorized, …).</summary>
    public const int Ok = 0;

    /// <summary>The operation ran and the answer is negative (not verified, denied, a policy with errors).</summary>
    public const int Negative = 1;

    /// <summary>Usage or input error: nothing was decided.</summary>
    public const int UsageOrInput = 2;
}

/// <summary>A one-line user-facing failure: the command prints the message and exits with the code.</summary>
internal sealed class CliException(string message, int exitCode = ExitCodes.UsageOrInput) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>The root <c>veritee</c> command.</summary>
internal static class VeriteeCommand
{
    public static RootCommand Build(CliIo io)
    {
        var root = new RootCommand("Veritee: attestation service and toolkit for Intel SGX and TDX, speaking the Microsoft Azure Attestation protocol.");
        foreach (var command in Commands(io))
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    private static IEnumerable<Command> Commands(CliIo io)
    {
        yield return QuickstartCommand.Create(io);
        yield return VerifyCommand.Create(io);
        yield return BenchCommand.Create(io);
        yield return PolicyCommands.Create(io);
        yield return CertCommand.Create(io);
        yield return TokenCommand.Create(io);
        yield return SignerCommand.Create(io);
        yield return GenquoteCommand.Create(io);
        yield return PlatformCommand.Create(io);
        yield return ServeCommand.Create(io);
        yield return AttestCommand.Create(io);
    }

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var io = new CliIo(stdout, stderr);
        var root = Build(io);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                stderr.WriteLine("veritee: " + error.Message);
            }

            stderr.WriteLine("Run 'veritee --help' for usage.");
            return ExitCodes.UsageOrInput;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (CliException e)
        {
            stderr.WriteLine("veritee: " + e.Message);
            return e.ExitCode;
        }
    }

    /// <summary>Wraps a command body so that expected failures become one line and an exit code.</summary>
    public static Func<ParseResult, int> Guard(Func<ParseResult, int> body) => parse =>
    {
        try
        {
            return body(parse);
        }
        catch (CliException)
        {
            throw;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidDataException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            throw new CliException(e.Message);
        }
    };
}
