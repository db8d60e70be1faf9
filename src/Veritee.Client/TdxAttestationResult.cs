using System.Text.Json;

namespace Veritee.Client;

/// <summary>
/// The claims of a TDX attestation token (<c>POST /attest/TdxVm</c>) as MAA's TDX EAT profile names them. Hex values
/// are lower case as the token carries them; a claim the token lacks is null. The client refuses a token whose TDX
/// claims have the wrong type or length, or whose <c>tdx_td_attributes_debug</c> disagrees with <c>tdx_td_attributes</c>.
/// </summary>
public sealed record TdxAttestationResult
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

    /// <summary><c>x-ms-attestation-type</c>: always <c>tdxvm</c> (the client refuses anything else).</summary>
    public required string VerifierType { get; init; }

    /// <summary><c>eat_profile</c> (MAA: <c>https://aka.ms/maa-eat-profile-tdxvm</c>).</summary>
    public string? EatProfile { get; init; }

    /// <summary><c>dbgstat</c> (<c>enabled</c> / <c>disabled</c>).</summary>
    public string? DebugStatus { get; init; }

    /// <summary><c>intuse</c> (<c>generic</c>).</summary>
    public string? IntendedUse { get; init; }

    /// <summary><c>tdx_mrtd</c>: the measurement of the TD's initial contents, 96 hex.</summary>
    public string? MrTd { get; init; }

    /// <summary><c>tdx_rtmr0</c> … <c>tdx_rtmr3</c>, 96 hex each (an element is null when the claim is absent).</summary>
    public required IReadOnlyList<string?> Rtmrs { get; init; }

    /// <summary><c>tdx_mrconfigid</c>, 96 hex.</summary>
    public string? MrConfigId { get; init; }

    /// <summary><c>tdx_mrowner</c>, 96 hex.</summary>
    public string? MrOwner { get; init; }

    /// <summary><c>tdx_mrownerconfig</c>, 96 hex.</summary>
    public string? MrOwnerConfig { get; init; }

    /// <summary><c>tdx_mrseam</c>: the TDX module's measurement, 96 hex.</summary>
    public string? MrSeam { get; init; }

    /// <summary><c>tdx_mrsignerseam</c>, 96 hex.</summary>
    public string? MrSignerSeam { get; init; }

    /// <summary><c>tdx_seam_attributes</c>, 16 hex.</summary>
    public string? SeamAttributes { get; init; }

    /// <summary><c>tdx_td_attributes</c>: the 8 bytes in quote order, 16 hex.</summary>
    public string? TdAttributes { get; init; }

    /// <summary><c>tdx_td_attributes_debug</c> (TUD bit 0).</summary>
    public bool? TdAttributesDebug { get; init; }

    /// <summary><c>tdx_td_attributes_septve_disable</c> (bit 28).</summary>
    public bool? SeptVeDisable { get; init; }

    /// <summary><c>tdx_td_attributes_protection_keys</c> (bit 30).</summary>
    public bool? ProtectionKeys { get; init; }

    /// <summary><c>tdx_td_attributes_key_locker</c> (bit 31).</summary>
    public bool? KeyLocker { get; init; }

    /// <summary><c>tdx_td_attributes_perfmon</c> (bit 63).</summary>
    public bool? Perfmon { get; init; }

    /// <summary><c>tdx_xfam</c>: the 8 bytes in quote order, 16 hex.</summary>
    public string? Xfam { get; init; }

    /// <summary><c>tdx_seamsvn</c>.</summary>
    public ulong? SeamSvn { get; init; }

    /// <summary><c>tdx_tee_tcb_svn</c>, 32 hex.</summary>
    public string? TeeTcbSvn { get; init; }

    /// <summary><c>tdx_report_data</c>: all 64 bytes, 128 hex.</summary>
    public string? ReportData { get; init; }

    /// <summary><c>attester_tcb_status</c>: Intel's TCB status of the platform (<c>UpToDate</c>, <c>OutOfDate</c>, …).</summary>
    public string? AttesterTcbStatus { get; init; }

    /// <summary><c>x-ms-compliance-status</c> (Azure only; its TDX criteria are unpublished: not a measurement check).</summary>
    public string? ComplianceStatus { get; init; }

    /// <summary><c>x-ms-policy-hash</c>.</summary>
    public string? PolicyHash { get; init; }

    /// <summary><c>nonce</c>: echoed from the request, not bound to the evidence.</summary>
    public string? Nonce { get; init; }

    /// <summary>
    /// <c>x-ms-runtime</c> (runtime data sent as JSON), or null. On an Azure CVM this is the paravisor's JSON, and the
    /// caller's nonce lives in its <c>user-data</c>, not in <see cref="ReportData"/>.
    /// </summary>
    public JsonElement? RuntimeClaims { get; init; }

    /// <summary><c>x-ms-inittime</c>, or null.</summary>
    public JsonElement? InitTimeClaims { get; init; }

    /// <summary><c>x-ms-policy</c>: the claims the policy issued.</summary>
    public JsonElement? PolicyClaims { get; init; }

    /// <summary>
    /// <c>veritee-simulated</c>: true when a Veritee service attested evidence from its simulated platform (never
    /// trust such a token as hardware evidence). Always false for tokens without the claim (e.g. Azure's).
    /// </summary>
    public bool IsSimulated { get; init; }

    /// <summary>Every claim of the token.</summary>
    public required JsonElement Claims { get; init; }

    /// <summary>
    /// True when the token says the TD is debuggable (the host can read its memory and CPU state): either
    /// <c>tdx_td_attributes_debug</c> or bit 0 of <c>tdx_td_attributes</c>. Null when the token carries neither.
    /// </summary>
    public bool? IsDebuggable => TdAttributesDebug ?? (TdAttributes is { Length: 16 } a ? (Convert.FromHexString(a)[0] & 1) != 0 : null);
}
