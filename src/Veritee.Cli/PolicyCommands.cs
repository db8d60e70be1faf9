using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Veritee.Policy;

namespace Veritee.Cli;

/// <summary><c>veritee policy check|eval</c>: the MAA attestation policy language.</summary>
internal static class PolicyCommands
{
    public static Command Create(CliIo io)
    {
        var command = new Command("policy", "Check and evaluate Microsoft Azure Attestation policies (versions 1.0, 1.1, 1.2).");
        command.Subcommands.Add(CreateCheck(io));
        command.Subcommands.Add(CreateEval(io));
        command.Subcommands.Add(PolicySignCommand.Create(io));
        PolicyAdminCommands.AddTo(command, io);
        return command;
    }

    private static Command CreateCheck(CliIo io)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "Policy text file." };
        var command = new Command("check", "Parse and check a policy. Exit 0 valid (warnings allowed), 1 errors, 2 unreadable file.");
        command.Arguments.Add(file);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var path = parse.GetValue(file)!;
            var text = ReadText(path);
            var result = PolicyParser.Parse(text);
            WriteDiagnostics(io.Out, path.ToString(), text, result.Diagnostics);
            if (result.Document is not { } document)
            {
                var errors = result.Errors.Count();
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path}: {errors} error{(errors == 1 ? string.Empty : "s")}; policy rejected (PolicyParsingError)."));
                return ExitCodes.Negative;
            }

            io.Out.WriteLine(Summary(path.ToString(), document, result.Diagnostics.Count));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command CreateEval(CliIo io)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "Policy text file." };
        var claims = new Option<FileInfo>("--claims") { Description = "JSON array of {\"type\", \"value\", \"issuer\"?} (issuer defaults to AttestationService).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {authorized, issued, properties, reason}." };
        var command = new Command("eval", "Evaluate a policy against claims. Exit 0 authorized, 1 denied, 2 policy/claims/evaluation error.");
        command.Arguments.Add(file);
        command.Options.Add(claims);
        command.Options.Add(json);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var policy = LoadPolicy(io, parse.GetValue(file)!);
            var incoming = LoadClaims(parse.GetValue(claims)!);
            PolicyEvaluationResult result;
            try
            {
                result = policy.Evaluate(incoming);
            }
            catch (PolicyLimitExceededException e)
            {
                throw new CliException(e.Message);
            }

            if (parse.GetValue(json))
            {
                io.Out.WriteLine(ResultJson(result));
            }
            else
            {
                WriteResultText(io.Out, result);
            }

            return result.IsError ? ExitCodes.UsageOrInput : result.Authorized ? ExitCodes.Ok : ExitCodes.Negative;
        }));
        return command;
    }

    /// <summary>Parses and compiles, or prints the diagnostics to stderr and fails with exit 2.</summary>
    internal static CompiledPolicy LoadPolicy(CliIo io, FileInfo path)
    {
        var text = ReadText(path);
        var result = PolicyParser.Parse(text);
        if (result.Document is not { } document)
        {
            WriteDiagnostics(io.Error, path.ToString(), text, result.Diagnostics);
            throw new CliException($"{path}: the policy has errors (run 'veritee policy check {path}').");
        }

        return CompiledPolicy.Compile(document);
    }

    internal static List<PolicyClaim> LoadClaims(FileInfo path)
    {
        try
        {
            return PolicyJson.ReadClaims(ReadText(path));
        }
        catch (FormatException e)
        {
            throw new CliException($"{path}: {e.Message}");
        }
    }

    private static string ReadText(FileInfo path)
    {
        try
        {
            return File.ReadAllText(path.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{path}: {e.Message}");
        }
    }

    internal static string ResultJson(PolicyEvaluationResult result)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteBoolean("authorized", result.Authorized);
            writer.WritePropertyName("issued");
            PolicyJson.WriteClaimsObject(writer, result.Issued);
            writer.WritePropertyName("properties");
            PolicyJson.WriteClaimsObject(writer, result.Properties);
            writer.WriteString("reason", result.Reason);
            if (result.IsError)
            {
                writer.WriteBoolean("error", true);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteResultText(TextWriter output, PolicyEvaluationResult result)
    {
        output.WriteLine(result.IsError ? "error" : result.Authorized ? "authorized" : "denied");
        output.WriteLine("reason: " + result.Reason);
        WriteClaims(output, "issued", result.Issued);
        WriteClaims(output, "properties", result.Properties);
    }

    private static void WriteClaims(TextWriter output, string title, IReadOnlyList<PolicyClaim> claims)
    {
        if (claims.Count == 0)
        {
            return;
        }

        output.WriteLine(title + ":");
        foreach (var claim in claims)
        {
            output.WriteLine($"  {claim.Type} = {claim.Value}");
        }
    }

    private static string Summary(string path, PolicyDocument document, int warnings)
    {
        var parts = document.Sections.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Kind.ToString().ToLowerInvariant()}rules: {s.Rules.Count} rule{(s.Rules.Count == 1 ? string.Empty : "s")}"));
        var version = document.Version switch { PolicyVersion.V1_0 => "1.0", PolicyVersion.V1_1 => "1.1", _ => "1.2" };
        return string.Create(CultureInfo.InvariantCulture, $"{path}: OK, version {version}; {string.Join("; ", parts)}; {warnings} warning{(warnings == 1 ? string.Empty : "s")}.");
    }

    /// <summary>Compiler-style diagnostics with the source line and a caret under the offending token.</summary>
    internal static void WriteDiagnostics(TextWriter output, string path, string text, IReadOnlyList<PolicyDiagnostic> diagnostics)
    {
        var lines = text.Split('\n');
        foreach (var diagnostic in diagnostics)
        {
            output.WriteLine($"{path}:{diagnostic}");
            var line = diagnostic.Span.Line;
            if (line < 1 || line > lines.Length)
            {
                continue;
            }

            var source = lines[line - 1].TrimEnd('\r');
            var gutter = line.ToString(CultureInfo.InvariantCulture);
            output.WriteLine($" {gutter} | {source}");
            var column = Math.Min(diagnostic.Span.Column - 1, source.Length);
            var width = Math.Max(1, Math.Min(diagnostic.Span.Length, source.Length - column));

            // Keep tabs so the caret lines up with the source line.
            var pad = new string(source.AsSpan(0, column).ToArray().Select(c => c == '\t' ? '\t' : ' ').ToArray());
            output.WriteLine($" {new string(' ', gutter.Length)} | {pad}^{new string('~', width - 1)}");
        }
    }
}
