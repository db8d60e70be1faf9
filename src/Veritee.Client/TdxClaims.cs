using System.Text.Json;

namespace Veritee.Client;

/// <summary>Reads a TDX token's claims into <see cref="TdxAttestationResult"/>, refusing malformed ones.</summary>
internal static class TdxClaims
{
    /// <summary>The <c>x-ms-attestation-type</c> of a TdxVm token.</summary>
    public const string AttestationType = "tdxvm";

    public static TdxAttestationResult Read(JsonElement claims)
    {
        var type = String(claims, "x-ms-attestation-type");
        if (!string.Equals(type, AttestationType, StringComparison.Ordinal))
        {
            throw Bad($"x-ms-attestation-type is '{type ?? "(absent)"}', not '{AttestationType}': not a TDX token");
        }

        var result = new TdxAttestationResult
        {
            Issuer = String(claims, "iss") ?? string.Empty,
            IssuedAt = MaaConnection.UnixTime(claims, "iat"),
            NotBefore = MaaConnection.UnixTime(claims, "nbf"),
            Expires = MaaConnection.UnixTime(claims, "exp"),
            UniqueIdentifier = String(claims, "jti"),
            Version = String(claims, "x-ms-ver"),
            VerifierType = AttestationType,
            EatProfile = String(claims, "eat_profile"),
            DebugStatus = String(claims, "dbgstat"),
            IntendedUse = String(claims, "intuse"),
            MrTd = HexClaim(claims, "tdx_mrtd", 48),
            Rtmrs = [HexClaim(claims, "tdx_rtmr0", 48), HexClaim(claims, "tdx_rtmr1", 48), HexClaim(claims, "tdx_rtmr2", 48), HexClaim(claims, "tdx_rtmr3", 48)],
            MrConfigId = HexClaim(claims, "tdx_mrconfigid", 48),
            MrOwner = HexClaim(claims, "tdx_mrowner", 48),
            MrOwnerConfig = HexClaim(claims, "tdx_mrownerconfig", 48),
            MrSeam = HexClaim(claims, "tdx_mrseam", 48),
            MrSignerSeam = HexClaim(claims, "tdx_mrsignerseam", 48),
            SeamAttributes = HexClaim(claims, "tdx_seam_attributes", 8),
            TdAttributes = HexClaim(claims, "tdx_td_attributes", 8),
            TdAttributesDebug = Bool(claims, "tdx_td_attributes_debug"),
            SeptVeDisable = Bool(claims, "tdx_td_attributes_septve_disable"),
            ProtectionKeys = Bool(claims, "tdx_td_attributes_protection_keys"),
            KeyLocker = Bool(claims, "tdx_td_attributes_key_locker"),
            Perfmon = Bool(claims, "tdx_td_attributes_perfmon"),
            Xfam = HexClaim(claims, "tdx_xfam", 8),
            SeamSvn = UInt(claims, "tdx_seamsvn"),
            TeeTcbSvn = HexClaim(claims, "tdx_tee_tcb_svn", 16),
            ReportData = HexClaim(claims, "tdx_report_data", 64),
            AttesterTcbStatus = String(claims, "attester_tcb_status"),
            ComplianceStatus = String(claims, "x-ms-compliance-status"),
            PolicyHash = String(claims, "x-ms-policy-hash"),
            Nonce = String(claims, "nonce"),
            RuntimeClaims = Value(claims, "x-ms-runtime"),
            InitTimeClaims = Value(claims, "x-ms-inittime"),
            PolicyClaims = Value(claims, "x-ms-policy"),
            IsSimulated = Bool(claims, "veritee-simulated") == true,
            Claims = claims.Clone(),
        };

        // The flag and the attribute byte are two renderings of one bit: a token where they differ is not trusted either way.
        if (result.TdAttributesDebug is { } flag && result.TdAttributes is { } attributes && flag != ((Convert.FromHexString(attributes)[0] & 1) != 0))
        {
            throw Bad($"tdx_td_attributes_debug is {(flag ? "true" : "false")} but bit 0 of tdx_td_attributes {attributes} says otherwise");
        }

        return result;
    }

    private static AttestationTokenValidationException Bad(string message) => new("UnexpectedContent", "the token's " + message);

    private static JsonElement? Present(JsonElement claims, string name) =>
        claims.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static string? String(JsonElement claims, string name) => Present(claims, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw Bad(name + " is not a string"),
    };

    private static bool? Bool(JsonElement claims, string name) => Present(claims, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True or JsonValueKind.False } v => v.GetBoolean(),
        _ => throw Bad(name + " is not a boolean"),
    };

    private static ulong? UInt(JsonElement claims, string name) => Present(claims, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetUInt64(out var n) => n,
        _ => throw Bad(name + " is not a non-negative integer"),
    };

    private static JsonElement? Value(JsonElement claims, string name) => Present(claims, name)?.Clone();

    /// <summary>A hex claim of exactly <paramref name="bytes"/> bytes, returned lower case.</summary>
    private static string? HexClaim(JsonElement claims, string name, int bytes)
    {
        var text = String(claims, name);
        if (text is null)
        {
            return null;
        }

        if (text.Length != bytes * 2 || !text.All(char.IsAsciiHexDigit))
        {
            throw Bad($"{name} is not {bytes} bytes of hex ({bytes * 2} characters)");
        }

        return text.ToLowerInvariant();
    }
}
