using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Veritee.Enclave;
using Veritee.Sgx;

namespace Veritee.Client;

/// <summary>The comparison of a TD evidence file (<c>td.info.json</c>) with a validated TDX attestation token.</summary>
public sealed record TdInfoReport
{
    /// <summary>The endpoint that attested the evidence (the pinned issuer).</summary>
    public required string Endpoint { get; init; }

    /// <summary>The validated token.</summary>
    public required AttestationToken Token { get; init; }

    /// <summary>The token's TDX claims.</summary>
    public required TdxAttestationResult Result { get; init; }

    /// <summary>The checks, in <see cref="TdInfoComparison.Compare"/>'s order.</summary>
    public required IReadOnlyList<EnclaveCheck> Checks { get; init; }

    /// <summary>
    /// True when the token says the TD is debuggable, or does not say (the host can then read its memory: nothing it
    /// reports is trustworthy).
    /// </summary>
    public bool IsDebuggable => Result.IsDebuggable != false;

    /// <summary>True when the caller accepts a debuggable TD (<c>--allow-debug</c>).</summary>
    public required bool DebugAllowed { get; init; }

    /// <summary>True when the TD is debuggable and that was not allowed.</summary>
    public bool DebugRefused => IsDebuggable && !DebugAllowed;

    /// <summary>True only when the token is signed by the pinned instance, every check passed and no debug TD was refused.</summary>
    public bool AllPassed => Token.IsSigned && Checks.Count > 0 && Checks.All(c => c.Passed) && !DebugRefused;
}

/// <summary>
/// The relying party's side for a TD: attest the file's quote at <c>/attest/TdxVm</c> with its runtime data, validate
/// the token against the pinned instance, check the report-data binding and compare the measurements the file expects.
/// </summary>
public static class TdInfoComparison
{
    /// <summary>Attests <paramref name="info"/> with <paramref name="client"/>, validates the token and compares.</summary>
    /// <param name="client">The client pinned to the instance.</param>
    /// <param name="info">The TD evidence file.</param>
    /// <param name="allowDebug">Accept a debuggable TD (a report on a debug TD fails otherwise).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="AttestationException">The service refused the evidence.</exception>
    /// <exception cref="AttestationTokenValidationException">The token is not valid for the client's pinned instance.</exception>
    public static async Task<TdInfoReport> AttestAsync(AttestationClient client, TdInfo info, bool allowDebug = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(info);
        var response = await client.AttestTdxVmAsync(new AttestationRequest
        {
            Evidence = info.Quote,
            RuntimeData = new AttestationData(info.RuntimeData, info.RuntimeDataIsJson),
        }, cancellationToken).ConfigureAwait(false);
        return new TdInfoReport
        {
            Endpoint = client.Endpoint,
            Token = response.Token,
            Result = response.Value,
            Checks = Compare(info, response.Value),
            DebugAllowed = allowDebug,
        };
    }

    /// <summary>
    /// The checks: <c>Report Data</c> (the token's <c>tdx_report_data</c> is the file quote's report data), <c>Runtime
    /// Data</c> (SHA-256 of the file's runtime data is the first 32 bytes of <c>tdx_report_data</c>), for JSON runtime
    /// data <c>Runtime Claims</c> (the token's <c>x-ms-runtime</c> is that JSON: on Azure the caller's nonce is read
    /// from it, as <c>user-data</c>), then MRTD, RTMR0–3,
    /// MRCONFIGID, MROWNER, MROWNERCONFIG, TD Attributes and XFAM against the file. Hex compares case-insensitively.
    /// </summary>
    public static IReadOnlyList<EnclaveCheck> Compare(TdInfo info, TdxAttestationResult result)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(result);
        var checks = new List<EnclaveCheck>(12);

        string quoteReportData;
        try
        {
            quoteReportData = Hex.Lower(Quote.Parse(info.Quote).ReportData.Span);
        }
        catch (SgxFormatException e)
        {
            quoteReportData = "(the file's quote does not parse: " + e.Message + ")";
        }

        checks.Add(HexCheck("Report Data", quoteReportData, result.ReportData));
        var runtimeHash = Hex.Lower(SHA256.HashData(info.RuntimeData));
        var boundHash = result.ReportData is { Length: 128 } rd ? rd[..64] : null;
        checks.Add(HexCheck("Runtime Data", runtimeHash, boundHash));
        if (info.RuntimeDataIsJson)
        {
            checks.Add(RuntimeClaimsCheck(info.RuntimeData, result.RuntimeClaims));
        }

        checks.Add(HexCheck("MRTD", info.MrTdHex, result.MrTd));
        for (var i = 0; i < 4; i++)
        {
            checks.Add(HexCheck("RTMR" + i, info.Rtmr(i), result.Rtmrs.Count > i ? result.Rtmrs[i] : null));
        }

        checks.Add(HexCheck("MRCONFIGID", info.MrConfigIdHex, result.MrConfigId));
        checks.Add(HexCheck("MROWNER", info.MrOwnerHex, result.MrOwner));
        checks.Add(HexCheck("MROWNERCONFIG", info.MrOwnerConfigHex, result.MrOwnerConfig));
        checks.Add(HexCheck("TD Attributes", info.TdAttributesHex, result.TdAttributes));
        checks.Add(HexCheck("XFAM", info.XfamHex, result.Xfam));
        return checks;
    }

    private static EnclaveCheck RuntimeClaimsCheck(byte[] runtimeData, JsonElement? claims)
    {
        JsonNode? expected;
        try
        {
            expected = JsonNode.Parse(runtimeData);
        }
        catch (JsonException)
        {
            return new EnclaveCheck("Runtime Claims", "(the file's runtime data is not JSON)", claims?.GetRawText() ?? "(absent)", false);
        }

        var actual = claims is { } c ? JsonNode.Parse(c.GetRawText()) : null;
        return new EnclaveCheck(
            "Runtime Claims",
            expected?.ToJsonString() ?? "null",
            actual?.ToJsonString() ?? "(absent)",
            claims is not null && JsonNode.DeepEquals(expected, actual));
    }

    private static EnclaveCheck HexCheck(string name, string expected, string? actual) =>
        new(name, expected.ToLowerInvariant(), actual ?? "(absent)",
            actual is not null && Hex.TryDecode(actual, out var a) && Hex.TryDecode(expected, out var e) && a.Length > 0 && a.AsSpan().SequenceEqual(e));
}
