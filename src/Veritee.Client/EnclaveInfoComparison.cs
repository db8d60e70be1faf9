using System.Globalization;
using System.Numerics;
using Veritee.Enclave;
using Veritee.Sgx;

namespace Veritee.Client;

/// <summary>One line of the samples' report: a value the enclave reported against the one in the token.</summary>
/// <param name="Name">The check, as the samples print it (<c>IsDebuggable</c>, <c>MRENCLAVE</c>, <c>MRSIGNER</c>, <c>ProductID</c>, <c>Security Version</c>, <c>Enclave Held Data</c>).</param>
/// <param name="Expected">What the enclave reported (from the JSON file).</param>
/// <param name="Actual">What the token says, or <c>(absent)</c>.</param>
/// <param name="Passed">True when they agree.</param>
public sealed record EnclaveCheck(string Name, string Expected, string Actual, bool Passed);

/// <summary>The samples' comparison of an <c>enclave.info</c> file with a validated attestation token.</summary>
public sealed record EnclaveInfoReport
{
    /// <summary>The endpoint that attested the evidence (the pinned issuer).</summary>
    public required string Endpoint { get; init; }

    /// <summary>The attest operation used (OpenEnclave when the quote carries the 16-byte OE header).</summary>
    public required AttestationType AttestationType { get; init; }

    /// <summary>The validated token.</summary>
    public required AttestationToken Token { get; init; }

    /// <summary>The token's claims.</summary>
    public required AttestationResult Result { get; init; }

    /// <summary>The six checks, in the samples' order.</summary>
    public required IReadOnlyList<EnclaveCheck> Checks { get; init; }

    /// <summary>True only when the token is signed by the pinned instance and every check passed.</summary>
    public bool AllPassed => Token.IsSigned && Checks.Count > 0 && Checks.All(c => c.Passed);
}

/// <summary>
/// The samples' <c>validatequotes</c> flow: attest the file's quote with its enclave-held data as Binary runtime data,
/// validate the token against the pinned instance, and compare IsDebuggable, MRENCLAVE, MRSIGNER, ProductID, SVN and EHD.
/// </summary>
public static class EnclaveInfoComparison
{
    /// <summary>SGX ATTRIBUTES.FLAGS DEBUG bit (what a raw quote's <c>Attributes</c> carries, as the Intel SDK sample writes it).</summary>
    public const ulong SgxFlagDebug = 0x2;

    /// <summary>Open Enclave report attribute DEBUG (what an OE report's <c>Attributes</c> carries, as the OE SDK sample writes it).</summary>
    public const ulong OeAttributeDebug = 0x1;

    /// <summary>The attest operation for the evidence: OpenEnclave when it starts with the OE report header, SgxEnclave otherwise.</summary>
    public static AttestationType TypeFor(ReadOnlySpan<byte> evidence) =>
        OpenEnclaveReport.HasHeader(evidence) ? AttestationType.OpenEnclave : AttestationType.SgxEnclave;

    /// <summary>Attests the file's evidence with <paramref name="client"/>, validates the token and compares.</summary>
    /// <exception cref="AttestationException">The service refused the evidence.</exception>
    /// <exception cref="AttestationTokenValidationException">The token is not valid for the client's pinned instance.</exception>
    public static async Task<EnclaveInfoReport> AttestAsync(AttestationClient client, EnclaveInfo info, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(info);
        var evidence = info.Quote;
        var type = TypeFor(evidence);
        var response = await client.AttestAsync(type, new AttestationRequest
        {
            Evidence = evidence,
            RuntimeData = new AttestationData(info.EnclaveHeldData, IsJson: false),
        }, cancellationToken).ConfigureAwait(false);
        return new EnclaveInfoReport
        {
            Endpoint = client.Endpoint,
            AttestationType = type,
            Token = response.Token,
            Result = response.Value,
            Checks = Compare(info, response.Value),
        };
    }

    /// <summary>
    /// The six checks. <c>IsDebuggable</c> reads the DEBUG bit of <c>Attributes</c> where each sample puts it: bit 0x1
    /// (Open Enclave's attribute) for evidence with the OE header, bit 0x2 (SGX ATTRIBUTES.FLAGS) for a raw quote.
    /// Hex is compared case-insensitively; ProductID is <c>ProductIdHex</c> read as a little-endian integer.
    /// </summary>
    public static IReadOnlyList<EnclaveCheck> Compare(EnclaveInfo info, AttestationResult result)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(result);
        const string Absent = "(absent)";
        var checks = new List<EnclaveCheck>(6);

        var debugBit = OpenEnclaveReport.HasHeader(info.Quote) ? OeAttributeDebug : SgxFlagDebug;
        var expectedDebug = (info.Attributes & debugBit) != 0;
        checks.Add(new EnclaveCheck("IsDebuggable", Bool(expectedDebug), result.IsDebuggable is { } d ? Bool(d) : Absent, result.IsDebuggable == expectedDebug));

        checks.Add(HexCheck("MRENCLAVE", info.MrEnclaveHex, result.MrEnclave));
        checks.Add(HexCheck("MRSIGNER", info.MrSignerHex, result.MrSigner));

        var productId = new BigInteger(Convert.FromHexString(info.ProductIdHex), isUnsigned: true, isBigEndian: false);
        checks.Add(new EnclaveCheck("ProductID", productId.ToString(CultureInfo.InvariantCulture), Number(result.ProductId), result.ProductId is { } p && productId == p));

        checks.Add(new EnclaveCheck("Security Version", info.SecurityVersion.ToString(CultureInfo.InvariantCulture), Number(result.Svn), result.Svn is { } s && s == info.SecurityVersion));

        var ehd = info.EnclaveHeldData;
        checks.Add(new EnclaveCheck(
            "Enclave Held Data",
            Hex.Lower(ehd),
            result.EnclaveHeldData is { } actual ? Hex.Lower(actual.Span) : Absent,
            result.EnclaveHeldData is { } a && a.Span.SequenceEqual(ehd)));
        return checks;

        static string Bool(bool value) => value ? "True" : "False";
        static string Number(ulong? value) => value is { } v ? v.ToString(CultureInfo.InvariantCulture) : Absent;
    }

    private static EnclaveCheck HexCheck(string name, string expected, string? actual) =>
        new(name, expected.ToLowerInvariant(), actual ?? "(absent)",
            actual is not null && Hex.TryDecode(actual, out var a) && Hex.TryDecode(expected, out var e) && a.Length > 0 && a.AsSpan().SequenceEqual(e));
}
