using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

// Documentation types: they mirror the JSON the handlers read and write by hand (docs/protocol.md) so that ASP.NET
// Core's OpenAPI generator can describe it. No handler uses them; changing one changes the document, not the wire.
namespace Veritee.Service.OpenApi;

/// <summary>The answer of every attestation and management operation: a JWT whose claims are the result.</summary>
internal sealed class TokenResponse
{
    /// <summary>A compact JWT (RS256 with the instance key; an unsigned <c>alg: none</c> token for a draft policy).</summary>
    public required string Token { get; init; }
}

/// <summary>How the service reads the bytes of <c>runtimeData</c> or <c>initTimeData</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DataType>))]
internal enum DataType
{
    /// <summary>Opaque bytes (the default).</summary>
    Binary,

    /// <summary>UTF-8 JSON: its object becomes a token claim (<c>x-ms-runtime</c>, <c>x-ms-inittime</c>).</summary>
    [JsonStringEnumMemberName("JSON")]
    Json,
}

/// <summary>Data held by the enclave or TD whose SHA-256 the quote binds.</summary>
internal sealed class EnclaveData
{
    /// <summary>The bytes, base64url (padding and standard base64 are tolerated).</summary>
    public required string Data { get; init; }

    /// <summary><c>Binary</c> (default) or <c>JSON</c> (names match case-insensitively).</summary>
    public DataType DataType { get; init; } = DataType.Binary;
}

/// <summary>Body of <c>POST /attest/SgxEnclave</c> (property names match case-insensitively).</summary>
internal sealed class AttestSgxEnclaveRequest
{
    /// <summary>The SGX ECDSA quote (v3, v4 or v5), base64url.</summary>
    public required string Quote { get; init; }

    /// <summary>Runtime data: its SHA-256 must equal REPORTDATA[0..32).</summary>
    public EnclaveData? RuntimeData { get; init; }

    /// <summary>Init-time data: its SHA-256 must equal CONFIGID[0..32) (KSS platforms).</summary>
    public EnclaveData? InitTimeData { get; init; }

    /// <summary>A policy text to evaluate instead of the stored one; the token is then unsigned (refused under <c>serve --draft-policy off</c>).</summary>
    public string? DraftPolicyForAttestation { get; init; }

    /// <summary>Copied verbatim into the token's <c>nonce</c> claim.</summary>
    public string? Nonce { get; init; }
}

/// <summary>Body of <c>POST /attest/OpenEnclave</c> (property names match case-insensitively).</summary>
internal sealed class AttestOpenEnclaveRequest
{
    /// <summary>An Open Enclave remote report (16-byte header followed by the SGX quote), base64url.</summary>
    public required string Report { get; init; }

    /// <summary>Runtime data: its SHA-256 must equal REPORTDATA[0..32).</summary>
    public EnclaveData? RuntimeData { get; init; }

    /// <summary>Init-time data: its SHA-256 must equal CONFIGID[0..32) (KSS platforms).</summary>
    public EnclaveData? InitTimeData { get; init; }

    /// <summary>A policy text to evaluate instead of the stored one; the token is then unsigned (refused under <c>serve --draft-policy off</c>).</summary>
    public string? DraftPolicyForAttestation { get; init; }

    /// <summary>Copied verbatim into the token's <c>nonce</c> claim.</summary>
    public string? Nonce { get; init; }
}

/// <summary>Body of <c>POST /attest/TdxVm</c> (property names match case-insensitively).</summary>
internal sealed class AttestTdxVmRequest
{
    /// <summary>An Intel TDX quote (v4, or v5 with a TD 1.0 or TD 1.5 body), base64url.</summary>
    public required string Quote { get; init; }

    /// <summary>Runtime data: its SHA-256 must equal the TD report's report_data[0..32).</summary>
    public EnclaveData? RuntimeData { get; init; }

    /// <summary>Init-time data: MRCONFIGID must be its SHA-256 followed by 16 zero bytes, or its SHA-384.</summary>
    public EnclaveData? InitTimeData { get; init; }

    /// <summary>A policy text to evaluate instead of the stored one; the token is then unsigned (refused under <c>serve --draft-policy off</c>).</summary>
    public string? DraftPolicyForAttestation { get; init; }

    /// <summary>Copied verbatim into the token's <c>nonce</c> claim.</summary>
    public string? Nonce { get; init; }
}

/// <summary>The 2025-06-01 body of <c>POST /certificates:add</c> (the bare JWS is accepted too).</summary>
internal sealed class PolicyCertificateToAddRequest
{
    /// <summary>A JWS signed by a registered policy-management certificate whose payload names the certificate to add.</summary>
    public required string PolicyCertificateToAdd { get; init; }
}

/// <summary>The 2025-06-01 body of <c>POST /certificates:remove</c> (the bare JWS is accepted too).</summary>
internal sealed class PolicyCertificateToRemoveRequest
{
    /// <summary>A JWS signed by a registered policy-management certificate whose payload names the certificate to remove.</summary>
    public required string PolicyCertificateToRemove { get; init; }
}

/// <summary>A public key of the instance, as MAA publishes it.</summary>
internal sealed class SigningKey
{
    /// <summary>Key id: base64(SHA-256(PEM SubjectPublicKeyInfo text and a NUL byte)), the <c>kid</c> of token headers.</summary>
    public required string Kid { get; init; }

    /// <summary>Always <c>RSA</c>.</summary>
    public required string Kty { get; init; }

    /// <summary>The instance certificate, base64 DER.</summary>
    public required IReadOnlyList<string> X5c { get; init; }
}

/// <summary>The JSON Web Key Set that validates the instance's tokens.</summary>
internal sealed class SigningKeySet
{
    /// <summary>The instance's signing keys.</summary>
    public required IReadOnlyList<SigningKey> Keys { get; init; }
}

/// <summary>OpenID Connect discovery metadata of the instance.</summary>
internal sealed class OpenIdConfiguration
{
    /// <summary>The token issuer (the instance URL).</summary>
    [JsonPropertyName("issuer")]
    public required string Issuer { get; init; }

    /// <summary>Where the signing keys are (<c>/certs</c>).</summary>
    [JsonPropertyName("jwks_uri")]
    public required string JwksUri { get; init; }

    /// <summary>Always <c>token</c> and <c>none</c>.</summary>
    [JsonPropertyName("response_types_supported")]
    public required IReadOnlyList<string> ResponseTypesSupported { get; init; }

    /// <summary>Always <c>RS256</c>.</summary>
    [JsonPropertyName("id_token_signing_alg_values_supported")]
    public required IReadOnlyList<string> IdTokenSigningAlgValuesSupported { get; init; }

    /// <summary>Named as MAA names it; Veritee serves no revocation.</summary>
    [JsonPropertyName("revocation_endpoint")]
    public required string RevocationEndpoint { get; init; }

    /// <summary>Claim names tokens may carry.</summary>
    [JsonPropertyName("claims_supported")]
    public required IReadOnlyList<string> ClaimsSupported { get; init; }
}

/// <summary>A TCB baseline as MAA lists them (Veritee lists none).</summary>
internal sealed class TcbBaseline
{
    /// <summary>The baseline's name, e.g. <c>azuredefault</c> or an evaluation data number.</summary>
    public string? TcbIdentifier { get; init; }

    /// <summary>Intel's TCB evaluation data number.</summary>
    public int? TcbEvaluationDataNumber { get; init; }

    /// <summary>Release date of the TCB.</summary>
    public string? TcbReleaseDate { get; init; }

    /// <summary>Lowest SGX platform software version for Linux.</summary>
    public string? MinimumPswLinuxVersion { get; init; }

    /// <summary>Lowest SGX platform software version for Windows.</summary>
    public string? MinimumPswWindowsVersion { get; init; }

    /// <summary>Whether this baseline is the instance's.</summary>
    public bool? IsSelectedTcb { get; init; }
}

/// <summary>The answer of <c>GET /tcbbaselines/{type}</c>: always an empty list (docs/protocol.md §9.4).</summary>
internal sealed class TcbBaselinesResponse
{
    /// <summary>The baselines (none).</summary>
    public required IReadOnlyList<TcbBaseline> TcbBaselines { get; init; }
}

/// <summary>MAA's error envelope, the body of every 4xx and 5xx answer.</summary>
internal sealed class MaaErrorResponse
{
    /// <summary>What went wrong.</summary>
    public required MaaError Error { get; init; }
}

/// <summary>The error of the envelope; <c>code</c> is repeated in the <c>x-ms-error-code</c> header.</summary>
internal sealed class MaaError
{
    /// <summary>A stable MAA error code.</summary>
    public required string Code { get; init; }

    /// <summary>What is at fault (field, offset or limit); never a secret.</summary>
    public required string Message { get; init; }

    /// <summary>The same code and message (as MAA sends them).</summary>
    public required MaaInnerError Innererror { get; init; }
}

/// <summary>The inner error MAA repeats.</summary>
internal sealed class MaaInnerError
{
    /// <summary>The same code.</summary>
    public required string Code { get; init; }

    /// <summary>The same message.</summary>
    public required string Message { get; init; }
}

/// <summary>The liveness answer.</summary>
internal sealed class LiveResponse
{
    /// <summary>Always <c>live</c>.</summary>
    public required string Status { get; init; }
}

/// <summary>The readiness answer (200 when ready, 503 with the same shape when not).</summary>
internal sealed class ReadyResponse
{
    /// <summary><c>ready</c> or <c>unavailable</c>.</summary>
    public required string Status { get; init; }

    /// <summary>The checks behind the status.</summary>
    public required ReadyChecks Checks { get; init; }
}

/// <summary>The checks of the readiness probe.</summary>
internal sealed class ReadyChecks
{
    /// <summary>The store ping: <c>status</c> (<c>ok</c> or <c>unreachable</c>), <c>kind</c>, <c>durationMs</c>, <c>error</c>.</summary>
    public required JsonObject Store { get; init; }

    /// <summary>The collateral sources (folders and the collateral service), or <c>{"status": "not-configured"}</c>.</summary>
    public required JsonObject Collateral { get; init; }
}

/// <summary>One record of the audit trail (docs/operations.md, Audit trail); fields that do not apply are null.</summary>
internal sealed class AuditEntry
{
    /// <summary>The record's id: increasing, used as <c>after</c> to page.</summary>
    public required long Id { get; init; }

    /// <summary>When the operation was answered (UTC, RFC 3339).</summary>
    public required string Time { get; init; }

    /// <summary>e.g. <c>policy.set</c>, <c>policy.reset</c>, <c>signer.add</c>, <c>signer.remove</c>.</summary>
    public required string Operation { get; init; }

    /// <summary>The attestation type of a policy operation.</summary>
    public string? AttestationType { get; init; }

    /// <summary><c>succeeded</c> or <c>refused</c>.</summary>
    public required string Outcome { get; init; }

    /// <summary>The MAA error code of a refused operation.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Who asked: an admin-token fingerprint, an OIDC subject and issuer, <c>anonymous</c> or <c>invalid-bearer</c>.</summary>
    public required string Caller { get; init; }

    /// <summary>The SHA-256 thumbprint of the policy signer that signed the change (isolated model).</summary>
    public string? Signer { get; init; }

    /// <summary><c>aad</c> or <c>isolated</c>.</summary>
    public string? TrustModel { get; init; }

    /// <summary>Policy hash (as <c>x-ms-policy-hash</c>) before the change.</summary>
    public string? OldPolicyHash { get; init; }

    /// <summary>Policy hash after the change.</summary>
    public string? NewPolicyHash { get; init; }

    /// <summary>Thumbprint of the certificate added or removed.</summary>
    public string? CertificateThumbprint { get; init; }

    /// <summary>The <c>x-ms-request-id</c> the caller received.</summary>
    public string? RequestId { get; init; }

    /// <summary>The client address as the service logs it (<c>serve --log-client-address</c>).</summary>
    public string? Client { get; init; }
}

/// <summary>The answer of <c>GET /audit</c>.</summary>
internal sealed class AuditPage
{
    /// <summary>The records, oldest first.</summary>
    public required IReadOnlyList<AuditEntry> Value { get; init; }

    /// <summary>The URL of the next page, when there is one.</summary>
    public string? NextLink { get; init; }

    /// <summary>Refused records deleted by the retention bound so far.</summary>
    public required long RefusedPruned { get; init; }
}
