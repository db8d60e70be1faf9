using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Veritee.Client;
using Veritee.Enclave;

namespace Veritee.Cli;

/// <summary>
/// <c>veritee attest FILE --endpoint URL</c>: the samples' validatequotes. Attests the enclave.info file's quote,
/// validates the token against the pinned endpoint and prints the samples' comparison report.
/// </summary>
internal static class AttestCommand
{
    private const int LabelWidth = 35;
    private static readonly string Stars = new('*', 100);

    public static Command Create(CliIo io)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The samples' enclave.info JSON file (Type, MrEnclaveHex, MrSignerHex, ProductIdHex, SecurityVersion, Attributes, QuoteHex, EnclaveHeldDataHex)." };
        var endpoint = new EndpointOptions();
        var details = new Option<bool>("--details") { Description = "Print both values of every check (the file's and the token's)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {file, endpoint, attestationType, token, checks, passed} instead of the report." };
        var command = new Command(
            "attest",
            "Attest an enclave.info file with an MAA-compatible endpoint (SgxEnclave, or OpenEnclave when the quote has the OE header), " +
            "validate the token against the endpoint's /certs and issuer, and compare IsDebuggable, MRENCLAVE, MRSIGNER, ProductID, SVN and " +
            "enclave-held data. Exit 0 every check passed, 1 a check failed, the token is invalid or the service refused the evidence, 2 input, usage or connection error.");
        command.Arguments.Add(file);
        endpoint.AddTo(command);
        command.Options.Add(details);
        command.Options.Add(json);
        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            EnclaveInfo info;
            try
            {
                info = EnclaveInfo.Load(path.FullName);
            }
            catch (EnclaveInfoFormatException e)
            {
                throw new CliException(e.Message);
            }

            var asJson = parse.GetValue(json);
            var withDetails = parse.GetValue(details);
            using var client = endpoint.CreateClient(parse);
            var type = EnclaveInfoComparison.TypeFor(info.Quote);
            if (!asJson)
            {
                Banner(io.Out, "PARAMETERS FOR THIS RUN");
                Line(io.Out, "Validating filename", path.ToString());
                Line(io.Out, "Using attestation provider", client.Endpoint);
                Line(io.Out, "Attestation type", type.ToString());
                Line(io.Out, "Including details", withDetails ? "True" : "False");
                io.Out.WriteLine();
            }

            EnclaveInfoReport report;
            try
            {
                report = await EnclaveInfoComparison.AttestAsync(client, info, cancellationToken).ConfigureAwait(false);
            }
            catch (AttestationTokenValidationException e)
            {
                if (asJson)
                {
                    io.Out.WriteLine(Json(path, client.Endpoint, type, null, e));
                }
                else
                {
                    Banner(io.Out, "VALIDATING MAA JWT TOKEN - BASICS");
                    Line(io.Out, "Token valid", $"False ({e.Reason}: {e.Message})");
                }

                return ExitCodes.Negative;
            }

            if (asJson)
            {
                io.Out.WriteLine(Json(path, client.Endpoint, type, report, null));
                return report.AllPassed ? ExitCodes.Ok : ExitCodes.Negative;
            }

            PrintReport(io.Out, report, client.Endpoint, withDetails);
            return report.AllPassed ? ExitCodes.Ok : ExitCodes.Negative;
        }));
        return command;
    }

    /// <summary>The samples' report: token basics, then one True/False line per check, then the verdict.</summary>
    internal static void PrintReport(TextWriter output, EnclaveInfoReport report, string endpoint, bool withDetails)
    {
        Banner(output, "VALIDATING MAA JWT TOKEN - BASICS");
        Line(output, "Token valid", $"True (RS256, kid {report.Token.Kid}, key from {endpoint}/certs)");
        Line(output, "Issuer", report.Result.Issuer);
        Line(output, "Issued at", Utc(report.Result.IssuedAt));
        Line(output, "Expires", Utc(report.Result.Expires));
        if (report.Result.IsSimulated)
        {
            Line(output, "Simulated platform", "True (veritee-simulated: the evidence is not from SGX hardware)");
        }

        output.WriteLine();

        Banner(output, "VALIDATING MAA JWT TOKEN - CLAIMS MATCH CLIENT ENCLAVE INFO");
        foreach (var check in report.Checks)
        {
            Line(output, check.Name + " match", check.Passed ? "True" : "False");
            if (withDetails)
            {
                output.WriteLine("    We think   : " + check.Expected);
                output.WriteLine("    MAA service: " + check.Actual);
            }
        }

        output.WriteLine();
        var failed = report.Checks.Count(c => !c.Passed);
        Line(output, "Result", failed == 0
            ? string.Create(CultureInfo.InvariantCulture, $"PASSED (all {report.Checks.Count} checks)")
            : string.Create(CultureInfo.InvariantCulture, $"FAILED ({failed} of {report.Checks.Count} checks: {string.Join(", ", report.Checks.Where(c => !c.Passed).Select(c => c.Name))})"));
    }

    private static void Banner(TextWriter output, string title)
    {
        output.WriteLine(Stars);
        output.WriteLine("*      " + title);
        output.WriteLine(Stars);
    }

    private static void Line(TextWriter output, string label, string value) => output.WriteLine(label.PadRight(LabelWidth) + ": " + value);

    private static string Utc(DateTimeOffset? time) => time is { } t ? t.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) : "(absent)";

    private static string Json(FileInfo path, string endpoint, AttestationType type, EnclaveInfoReport? report, AttestationTokenValidationException? invalid)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("file", path.ToString());
            w.WriteString("endpoint", endpoint);
            w.WriteString("attestationType", type.ToString());
            w.WriteStartObject("token");
            w.WriteBoolean("valid", report is not null);
            if (report is not null)
            {
                w.WriteNull("reason");
                w.WriteString("kid", report.Token.Kid);
                w.WriteString("issuer", report.Result.Issuer);
                w.WriteBoolean("simulated", report.Result.IsSimulated);
            }
            else
            {
                w.WriteString("reason", invalid!.Reason);
                w.WriteString("message", invalid.Message);
            }

            w.WriteEndObject();
            w.WriteStartArray("checks");
            foreach (var check in report?.Checks ?? [])
            {
                w.WriteStartObject();
                w.WriteString("name", check.Name);
                w.WriteBoolean("passed", check.Passed);
                w.WriteString("expected", check.Expected);
                w.WriteString("actual", check.Actual);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteBoolean("passed", report?.AllPassed ?? false);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
