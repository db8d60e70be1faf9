using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Veritee.Client;
using Veritee.Enclave;

namespace Veritee.Cli;

/// <summary>
/// <c>veritee attest FILE --endpoint URL</c>: the samples' validatequotes. Attests the enclave.info file's quote (or a
/// TD evidence file's, at <c>/attest/TdxVm</c>), validates the token against the pinned endpoint and prints the
/// samples' comparison report.
/// </summary>
internal static class AttestCommand
{
    private const int LabelWidth = 35;
    private static readonly string Stars = new('*', 100);

    public static Command Create(CliIo io)
    {
        var file = new Argument<FileInfo>("FILE")
        {
            Description = "The samples' enclave.info JSON file (Type 2: MrEnclaveHex, MrSignerHex, ProductIdHex, SecurityVersion, Attributes, QuoteHex, EnclaveHeldDataHex) " +
                "or a TD evidence file (Type 129, td.info.json: MrTdHex, Rtmr0Hex..Rtmr3Hex, MrConfigIdHex, MrOwnerHex, MrOwnerConfigHex, TdAttributesHex, XfamHex, QuoteHex, RuntimeDataHex, RuntimeDataType).",
        };
        var endpoint = new EndpointOptions();
        endpoint.ApiVersion.Description = $"The api-version query parameter (default {AttestationClientOptions.DefaultApiVersion} for SGX, {AttestationClientOptions.DefaultTdxApiVersion} for TD evidence; " +
            $"Microsoft's CVM tools send {AttestationClientOptions.CvmToolsTdxApiVersion}).";
        endpoint.ApiVersion.DefaultValueFactory = null; // the default depends on the file's type (chosen when the client is built)
        var allowDebug = new Option<bool>("--allow-debug") { Description = "TD evidence: accept a debuggable TD (by default a token saying the TD is debuggable fails with exit 1)." };
        var details = new Option<bool>("--details") { Description = "Print both values of every check (the file's and the token's)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {file, endpoint, attestationType, token, checks, passed} (TD evidence adds debug) instead of the report." };
        var command = new Command(
            "attest",
            "Attest an enclave.info file with an MAA-compatible endpoint (SgxEnclave, or OpenEnclave when the quote has the OE header), " +
            "validate the token against the endpoint's /certs and issuer, and compare IsDebuggable, MRENCLAVE, MRSIGNER, ProductID, SVN and " +
            "enclave-held data. A TD evidence file (Type 129) is attested at /attest/TdxVm with its runtime data; the token's tdx_report_data must be the quote's " +
            "report data beginning with SHA-256(runtime data), x-ms-runtime must be JSON runtime data as sent, MRTD, RTMR0-3, MRCONFIGID, MROWNER, MROWNERCONFIG, TD attributes and XFAM must match the file, " +
            "and a debuggable TD fails unless --allow-debug. " +
            "Exit 0 every check passed, 1 a check failed, the token is invalid or the service refused the evidence, 2 input, usage or connection error.");
        command.Arguments.Add(file);
        endpoint.AddTo(command);
        command.Options.Add(details);
        command.Options.Add(json);
        command.Options.Add(allowDebug);
        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            var bytes = File.ReadAllBytes(path.FullName);
            if (TdInfo.IsTdInfo(bytes))
            {
                return await AttestTdAsync(io, parse, endpoint, path, bytes, parse.GetValue(json), parse.GetValue(details), parse.GetValue(allowDebug), cancellationToken).ConfigureAwait(false);
            }

            if (parse.GetValue(allowDebug))
            {
                throw new CliException("--allow-debug applies to TD evidence files (Type 129) only");
            }

            EnclaveInfo info;
            try
            {
                info = EnclaveInfo.Parse(bytes, path.FullName);
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

    /// <summary>The TD path: attest at /attest/TdxVm, validate, check the binding and measurements, refuse debug TDs unless allowed.</summary>
    private static async Task<int> AttestTdAsync(CliIo io, ParseResult parse, EndpointOptions endpoint, FileInfo path, byte[] bytes, bool asJson, bool withDetails, bool allowDebug, CancellationToken cancellationToken)
    {
        TdInfo info;
        try
        {
            info = TdInfo.Parse(bytes, path.FullName);
            _ = TdInfo.FromQuote(info.Quote, [], runtimeDataIsJson: false);
        }
        catch (EnclaveInfoFormatException e)
        {
            throw new CliException(e.Message.StartsWith(path.FullName, StringComparison.Ordinal) ? e.Message : $"{path.FullName}: QuoteHex: {e.Message}");
        }

        // An explicit --api-version applies to TdxVm too; otherwise the first GA version that has TdxVm.
        var options = endpoint.ClientOptions(parse);
        options = options with
        {
            TdxApiVersion = parse.GetResult(endpoint.ApiVersion) is { Implicit: false } ? options.ApiVersion : AttestationClientOptions.DefaultTdxApiVersion,
        };
        using var client = EndpointOptions.CreateClient(endpoint.EndpointUri(parse).ToString(), options);
        if (!asJson)
        {
            Banner(io.Out, "PARAMETERS FOR THIS RUN");
            Line(io.Out, "Validating filename", path.ToString());
            Line(io.Out, "Using attestation provider", client.Endpoint);
            Line(io.Out, "Attestation type", nameof(AttestationType.TdxVm) + " (api-version " + options.TdxApiVersion + ")");
            Line(io.Out, "Including details", withDetails ? "True" : "False");
            Line(io.Out, "Debug TD allowed", allowDebug ? "True" : "False");
            io.Out.WriteLine();
        }

        TdInfoReport report;
        try
        {
            report = await TdInfoComparison.AttestAsync(client, info, allowDebug, cancellationToken).ConfigureAwait(false);
        }
        catch (AttestationTokenValidationException e)
        {
            if (asJson)
            {
                io.Out.WriteLine(TdJson(path, client.Endpoint, null, e));
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
            io.Out.WriteLine(TdJson(path, client.Endpoint, report, null));
        }
        else
        {
            PrintTdReport(io.Out, report, client.Endpoint, withDetails);
        }

        if (report.DebugRefused)
        {
            io.Error.WriteLine($"attest: the TD is debuggable (tdx_td_attributes_debug: {Flag(report.Result.TdAttributesDebug)}): its host can read its memory; pass --allow-debug to accept it");
        }

        return report.AllPassed ? ExitCodes.Ok : ExitCodes.Negative;
    }

    /// <summary>The TD report, in the samples' style: token basics, one True/False line per check, the debug verdict, the result.</summary>
    internal static void PrintTdReport(TextWriter output, TdInfoReport report, string endpoint, bool withDetails)
    {
        var r = report.Result;
        Banner(output, "VALIDATING MAA JWT TOKEN - BASICS");
        Line(output, "Token valid", $"True (RS256, kid {report.Token.Kid}, key from {endpoint}/certs)");
        Line(output, "Issuer", r.Issuer);
        Line(output, "Issued at", Utc(r.IssuedAt));
        Line(output, "Expires", Utc(r.Expires));
        Line(output, "Attestation type", r.VerifierType);
        Line(output, "TCB status", r.AttesterTcbStatus ?? "(absent)");
        Line(output, "TDX module SVN", r.SeamSvn is { } svn ? svn.ToString(CultureInfo.InvariantCulture) : "(absent)");
        if (r.IsSimulated)
        {
            Line(output, "Simulated platform", "True (veritee-simulated: the evidence is not from TDX hardware)");
        }

        output.WriteLine();

        Banner(output, "VALIDATING MAA JWT TOKEN - CLAIMS MATCH CLIENT TD INFO");
        foreach (var check in report.Checks)
        {
            Line(output, check.Name + " match", check.Passed ? "True" : "False");
            if (withDetails)
            {
                output.WriteLine("    We think   : " + check.Expected);
                output.WriteLine("    MAA service: " + check.Actual);
            }
        }

        Line(output, "Debug TD", !report.IsDebuggable ? "False"
            : report.DebugAllowed ? "True (allowed by --allow-debug)"
            : "True (refused: the host can read the TD's memory; --allow-debug accepts it)");
        output.WriteLine();
        var failed = report.Checks.Where(c => !c.Passed).Select(c => c.Name).ToList();
        if (report.DebugRefused)
        {
            failed.Add("Debug TD");
        }

        Line(output, "Result", failed.Count == 0
            ? string.Create(CultureInfo.InvariantCulture, $"PASSED (all {report.Checks.Count} checks)")
            : string.Create(CultureInfo.InvariantCulture, $"FAILED ({failed.Count} of {report.Checks.Count + (report.DebugRefused ? 1 : 0)} checks: {string.Join(", ", failed)})"));
    }

    private static string Flag(bool? value) => value switch { true => "true", false => "false", null => "absent" };

    private static string TdJson(FileInfo path, string endpoint, TdInfoReport? report, AttestationTokenValidationException? invalid) =>
        ReportJson(
            path,
            endpoint,
            nameof(AttestationType.TdxVm),
            report is null ? null : (report.Token, report.Result.Issuer, report.Result.IsSimulated),
            report?.Checks,
            report?.AllPassed ?? false,
            invalid,
            tokenExtra: report is null ? null : w => w.WriteString("attesterTcbStatus", report.Result.AttesterTcbStatus),
            tail: report is null ? null : w =>
            {
                w.WriteStartObject("debug");
                w.WriteBoolean("debuggable", report.IsDebuggable);
                w.WriteBoolean("allowed", report.DebugAllowed);
                w.WriteBoolean("refused", report.DebugRefused);
                w.WriteEndObject();
            });

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

    private static string Json(FileInfo path, string endpoint, AttestationType type, EnclaveInfoReport? report, AttestationTokenValidationException? invalid) =>
        ReportJson(path, endpoint, type.ToString(), report is null ? null : (report.Token, report.Result.Issuer, report.Result.IsSimulated), report?.Checks, report?.AllPassed ?? false, invalid);

    /// <summary>The <c>--json</c> object of either file kind: {file, endpoint, attestationType, token, checks, …, passed}.</summary>
    private static string ReportJson(
        FileInfo path,
        string endpoint,
        string attestationType,
        (AttestationToken Token, string Issuer, bool Simulated)? token,
        IReadOnlyList<EnclaveCheck>? checks,
        bool passed,
        AttestationTokenValidationException? invalid,
        Action<Utf8JsonWriter>? tokenExtra = null,
        Action<Utf8JsonWriter>? tail = null)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("file", path.ToString());
            w.WriteString("endpoint", endpoint);
            w.WriteString("attestationType", attestationType);
            w.WriteStartObject("token");
            w.WriteBoolean("valid", token is not null);
            if (token is { } t)
            {
                w.WriteNull("reason");
                w.WriteString("kid", t.Token.Kid);
                w.WriteString("issuer", t.Issuer);
                w.WriteBoolean("simulated", t.Simulated);
                tokenExtra?.Invoke(w);
            }
            else
            {
                w.WriteString("reason", invalid!.Reason);
                w.WriteString("message", invalid.Message);
            }

            w.WriteEndObject();
            w.WriteStartArray("checks");
            foreach (var check in checks ?? [])
            {
                w.WriteStartObject();
                w.WriteString("name", check.Name);
                w.WriteBoolean("passed", check.Passed);
                w.WriteString("expected", check.Expected);
                w.WriteString("actual", check.Actual);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            tail?.Invoke(w);
            w.WriteBoolean("passed", passed);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
