using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Veritee.Tokens;

namespace Veritee.Client;

/// <summary>The attestation types of <c>/attest/{type}</c> and <c>/policies/{type}</c> this client speaks.</summary>
public enum AttestationType
{
    /// <summary>A raw Intel SGX ECDSA quote.</summary>
    SgxEnclave,

    /// <summary>An Open Enclave report (16-byte OE header followed by the SGX quote).</summary>
    OpenEnclave,

    /// <summary>An Intel TDX quote (v4 or v5) of a trust domain (<c>POST /attest/TdxVm</c>, api-version 2023-04-01-preview and later).</summary>
    TdxVm,
}

/// <summary>Data bound to the evidence (<c>runtimeData</c> / <c>initTimeData</c>): bytes, sent as <c>Binary</c> or <c>JSON</c>.</summary>
/// <param name="Data">The bytes (the service checks their SHA-256 against the report data).</param>
/// <param name="IsJson">True to send <c>dataType: JSON</c> (the token then carries <c>x-ms-runtime</c>), false for <c>Binary</c> (<c>x-ms-sgx-ehd</c>).</param>
public sealed record AttestationData(ReadOnlyMemory<byte> Data, bool IsJson = false);

/// <summary>One attest request.</summary>
public sealed record AttestationRequest
{
    /// <summary>The quote (SgxEnclave, TdxVm) or the Open Enclave report (OpenEnclave).</summary>
    public required ReadOnlyMemory<byte> Evidence { get; init; }

    /// <summary>Runtime data (enclave-held data), or null.</summary>
    public AttestationData? RuntimeData { get; init; }

    /// <summary>Init-time data, or null.</summary>
    public AttestationData? InitTimeData { get; init; }

    /// <summary>
    /// A policy text evaluated instead of the stored one. The service then answers with an <b>unsigned</b> token
    /// (<c>alg: none</c>): the result says so in <see cref="AttestationToken.IsSigned"/>.
    /// </summary>
    public string? DraftPolicyForAttestation { get; init; }

    /// <summary>A nonce copied to the token's <c>nonce</c> claim, or null.</summary>
    public string? Nonce { get; init; }
}

/// <summary>A token the client validated.</summary>
public sealed record AttestationToken
{
    /// <summary>The compact token as received.</summary>
    public required string Text { get; init; }

    /// <summary>The decoded header.</summary>
    public required JsonElement Header { get; init; }

    /// <summary>The claims (verified when <see cref="IsSigned"/>).</summary>
    public required JsonElement Claims { get; init; }

    /// <summary>
    /// True for an RS256 token verified with a key of the pinned instance's <c>/certs</c>. False only for the
    /// <c>alg: none</c> answer to a draft-policy request (issuer, <c>jku</c> and lifetime were still checked).
    /// </summary>
    public required bool IsSigned { get; init; }

    /// <summary>The header <c>kid</c>.</summary>
    public string? Kid { get; init; }

    /// <summary>The pinned key that verified the signature (null when unsigned).</summary>
    public MaaSigningKey? SigningKey { get; init; }

    /// <summary>The time the token was validated at.</summary>
    public required DateTimeOffset ValidatedAt { get; init; }
}

/// <summary>A service result together with the validated token it came in.</summary>
/// <typeparam name="T">The result model.</typeparam>
/// <param name="Value">The result.</param>
/// <param name="Token">The validated token.</param>
public sealed record AttestationResponse<T>(T Value, AttestationToken Token);

/// <summary>The claims of an SGX / Open Enclave attestation token, as MAA names them.</summary>
public sealed record AttestationResult
{
    /// <summary><c>iss</c>.</summary>
    public required string Issuer { get; init; }

    /// <summary><c>iat</c>.</summary>
    public DateTimeOffset? IssuedAt { get; init; }

    /// <summary><c>nbf</c>.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary><c>exp</c>.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary><c>jti</c>.</summary>
    public string? UniqueIdentifier { get; init; }

    /// <summary><c>x-ms-ver</c>.</summary>
    public string? Version { get; init; }

    /// <summary><c>x-ms-attestation-type</c> (<c>sgx</c> for both SgxEnclave and OpenEnclave).</summary>
    public string? VerifierType { get; init; }

    /// <summary><c>x-ms-sgx-is-debuggable</c>.</summary>
    public bool? IsDebuggable { get; init; }

    /// <summary><c>x-ms-sgx-mrenclave</c> (lower-case hex).</summary>
    public string? MrEnclave { get; init; }

    /// <summary><c>x-ms-sgx-mrsigner</c> (lower-case hex).</summary>
    public string? MrSigner { get; init; }

    /// <summary><c>x-ms-sgx-product-id</c>.</summary>
    public ulong? ProductId { get; init; }

    /// <summary><c>x-ms-sgx-svn</c>.</summary>
    public ulong? Svn { get; init; }

    /// <summary><c>x-ms-sgx-ehd</c> decoded (runtime data sent as Binary), or null.</summary>
    public ReadOnlyMemory<byte>? EnclaveHeldData { get; init; }

    /// <summary><c>x-ms-sgx-report-data</c> (lower-case hex, 64 bytes).</summary>
    public string? ReportData { get; init; }

    /// <summary><c>x-ms-policy-hash</c>.</summary>
    public string? PolicyHash { get; init; }

    /// <summary><c>nonce</c>.</summary>
    public string? Nonce { get; init; }

    /// <summary><c>x-ms-runtime</c> (runtime data sent as JSON), or null.</summary>
    public JsonElement? RuntimeClaims { get; init; }

    /// <summary><c>x-ms-inittime</c>, or null.</summary>
    public JsonElement? InitTimeClaims { get; init; }

    /// <summary><c>x-ms-policy</c>: the claims the policy issued.</summary>
    public JsonElement? PolicyClaims { get; init; }

    /// <summary><c>x-ms-sgx-collateral</c>.</summary>
    public JsonElement? SgxCollateral { get; init; }

    /// <summary>
    /// <c>veritee-simulated</c>: true when a Veritee service attested evidence from its simulated SGX platform (never
    /// trust such a token as hardware evidence). Always false for tokens without the claim (e.g. Azure's).
    /// </summary>
    public bool IsSimulated { get; init; }

    /// <summary>Every claim of the token.</summary>
    public required JsonElement Claims { get; init; }
}

/// <summary>A stored attestation policy as <c>GET /policies/{type}</c> returns it.</summary>
/// <param name="Text">The policy text.</param>
/// <param name="Jws">The policy JWS as it was uploaded (signature included).</param>
/// <param name="Signer">The certificate that signed it, or null when it was set unsigned.</param>
public sealed record AttestationPolicy(string Text, string Jws, X509Certificate2? Signer);

/// <summary>What a policy set or reset did.</summary>
public enum PolicyModification
{
    /// <summary>The policy was stored (<c>x-ms-policy-result: Updated</c>).</summary>
    Updated,

    /// <summary>The stored policy was removed; the default applies (<c>Removed</c>).</summary>
    Removed,
}

/// <summary>The result of setting or resetting a policy.</summary>
/// <param name="Result">Updated or Removed.</param>
/// <param name="PolicyTokenHash"><c>x-ms-policy-token-hash</c> (set only), already checked against the JWS the client sent.</param>
/// <param name="PolicySigner">The signer the service recorded (<c>x-ms-policy-signer</c>), or null.</param>
/// <param name="SentJws">The JWS the client sent.</param>
public sealed record PolicyResult(PolicyModification Result, string? PolicyTokenHash, X509Certificate2? PolicySigner, string SentJws);

/// <summary>Whether a certificate is in the policy-management set after an add or remove.</summary>
public enum PolicyCertificateResolution
{
    /// <summary>The certificate is in the set (<c>IsPresent</c>).</summary>
    IsPresent,

    /// <summary>The certificate is not in the set (<c>IsAbsent</c>).</summary>
    IsAbsent,
}

/// <summary>The result of adding or removing a policy-management certificate.</summary>
/// <param name="Resolution">IsPresent or IsAbsent.</param>
/// <param name="Thumbprint"><c>x-ms-certificate-thumbprint</c>: upper-case hex SHA-1 of the certificate.</param>
public sealed record PolicyCertificatesModificationResult(PolicyCertificateResolution Resolution, string Thumbprint);
