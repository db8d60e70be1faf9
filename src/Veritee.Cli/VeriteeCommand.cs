using System.CommandLine;
using System.CommandLine.Parsing;
using System.Runtime.CompilerServices;

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
    /// <summary>
    /// File arguments and options that name a file to write; every other file argument or option is an input that
    /// must exist, checked for all commands at once before any command runs (see <see cref="RequireInputFiles"/>).
    /// </summary>
    private static readonly ConditionalWeakTable<Symbol, object> OutputFiles = [];

    /// <summary>Marks <paramref name="symbol"/> as a file the command writes (so it need not exist yet).</summary>
    public static T WritesFile<T>(T symbol)
        where T : Symbol
    {
        OutputFiles.AddOrUpdate(symbol, symbol);
        return symbol;
    }

    public static RootCommand Build(CliIo io)
    {
        var root = new RootCommand("Veritee: attestation service and toolkit for Intel SGX and TDX, speaking the Microsoft Azure Attestation protocol.");
        foreach (var command in Commands(io))
        {
            root.Subcommands.Add(command);
        }

        RequireInputFiles(root);
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
        yield return AuditCommand.Create(io);
        yield return GenquoteCommand.Create(io);
        yield return PlatformCommand.Create(io);
        yield return ServeCommand.Create(io);
        yield return AttestCommand.Create(io);
        yield return StoreCommand.Create(io);
        yield return PccsCommand.Create(io);
    }

    /// <summary>
    /// Runs the command line. Whatever goes wrong, the user sees one line on <paramref name="stderr"/> and exit 2
    /// (usage or input), or the command's own one-line negative answer and exit 1; never a stack trace.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var io = new CliIo(stdout, stderr);
        try
        {
            var root = Build(io);
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                stderr.WriteLine("veritee: " + UsageError(parse));
                return ExitCodes.UsageOrInput;
            }

            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (CliException e)
        {
            stderr.WriteLine("veritee: " + OneLine(e.Message));
            return e.ExitCode;
        }
        catch (Exception e) when (Describe(e) is { } message)
        {
            stderr.WriteLine("veritee: " + message);
            return ExitCodes.UsageOrInput;
        }
        catch (Exception e)
        {
            // A failure no command anticipated: still one line (the type says where to look), never a stack trace.
            stderr.WriteLine($"veritee: unexpected error: {e.GetType().Name}: {OneLine(e.Message)}");
            return ExitCodes.UsageOrInput;
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
        catch (Exception e) when (Describe(e) is { } message)
        {
            throw new CliException(message);
        }
    };

    /// <summary>
    /// The one-line message for an input failure (a file that is missing or unreadable, bad data), without .NET's
    /// wording and naming the file once; null for exceptions that are not input errors.
    /// </summary>
    internal static string? Describe(Exception e) => e switch
    {
        FileNotFoundException { FileName: { } file } => $"{file}: no such file",
        DirectoryNotFoundException d => $"{QuotedPath(d) ?? "a folder"}: no such file or folder",
        UnauthorizedAccessException u => $"{QuotedPath(u) ?? "a file"}: permission denied",
        IOException x when x.Message.EndsWith("' already exists.", StringComparison.Ordinal) && QuotedPath(x) is { } existing => $"{existing}: already exists",
        IOException or FormatException or InvalidDataException or ArgumentException or System.Security.Cryptography.CryptographicException => OneLine(e.Message),
        _ => null,
    };

    /// <summary>The path .NET quotes in its IO messages ("… the path '/x/y'."), if any.</summary>
    private static string? QuotedPath(Exception e)
    {
        var first = e.Message.IndexOf('\'', StringComparison.Ordinal);
        var last = e.Message.LastIndexOf('\'');
        return first >= 0 && last > first + 1 ? e.Message[(first + 1)..last] : null;
    }

    private static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>
    /// One line for a command line that does not parse: the first unknown word if there is one (System.CommandLine
    /// would first say "Required command was not provided."), else the first error, and where to read the usage.
    /// </summary>
    private static string UsageError(ParseResult parse)
    {
        var path = new List<string>();
        for (SymbolResult? r = parse.CommandResult; r is CommandResult { Parent: not null } c; r = c.Parent)
        {
            path.Insert(0, c.Command.Name);
        }

        var command = parse.CommandResult.Command;
        var where = path.Count == 0 ? string.Empty : string.Join(' ', path) + ": ";
        var help = $" (see 'veritee {string.Join(' ', path.Append("--help"))}')";
        if (parse.UnmatchedTokens.Count > 0)
        {
            var token = parse.UnmatchedTokens[0];
            return token.StartsWith('-') ? $"{where}unknown option '{token}'{help}"
                : command.Subcommands.Count > 0 && command.Action is null ? $"{where}unknown command '{token}'{help}"
                : $"{where}unexpected argument '{token}'{help}";
        }

        var errors = parse.Errors.Select(e => OneLine(e.Message)).ToList();
        if (command.Subcommands.Count > 0 && command.Action is null && command.Arguments.Count == 0)
        {
            return $"{where}a command is needed: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}{help}";
        }

        // A missing input file is not a usage problem: its message stands alone.
        return parse.Errors[0].SymbolResult is ArgumentResult or OptionResult && IsInputFileError(errors[0])
            ? errors[0]
            : $"{where}{errors[0].TrimEnd('.')}{help}";
    }

    private static bool IsInputFileError(string message) =>
        message.Contains(": no such file: ", StringComparison.Ordinal) || message.EndsWith(" is a folder, not a file", StringComparison.Ordinal);

    /// <summary>Adds to every file argument and option not marked <see cref="WritesFile"/> a check that the file exists.</summary>
    private static void RequireInputFiles(Command command)
    {
        foreach (var argument in command.Arguments.Where(IsInputFile))
        {
            argument.Validators.Add(result => CheckFiles(result, result.Tokens, argument.Name));
        }

        foreach (var option in command.Options.Where(IsInputFile))
        {
            option.Validators.Add(result => CheckFiles(result, result.Tokens, option.Name));
        }

        foreach (var sub in command.Subcommands)
        {
            RequireInputFiles(sub);
        }
    }

    private static bool IsInputFile(Symbol symbol) =>
        !OutputFiles.TryGetValue(symbol, out _) &&
        (symbol is Argument { ValueType: var a } && (a == typeof(FileInfo) || a == typeof(FileInfo[])) ||
         symbol is Option { ValueType: var o } && (o == typeof(FileInfo) || o == typeof(FileInfo[])));

    private static void CheckFiles(SymbolResult result, IReadOnlyList<System.CommandLine.Parsing.Token> tokens, string name)
    {
        foreach (var token in tokens)
        {
            if (Directory.Exists(token.Value))
            {
                result.AddError($"{name}: {token.Value} is a folder, not a file");
                return;
            }

            if (!File.Exists(token.Value))
            {
                result.AddError($"{name}: no such file: {token.Value}");
                return;
            }
        }
    }
}
