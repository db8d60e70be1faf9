using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Veritee.Dcap;
using Veritee.Dcap.Verification;
using Veritee.Policy;
using Veritee.Sgx;

namespace Veritee.Service;

/// <summary>The <c>TdxVm</c> path: binding, incoming claims and the TDX token (docs/protocol.md, TDX claims).</summary>
public sealed partial class AttestationEngine
{
    /// <summary>The EAT profile MAA names in its TDX tokens.</summary>
    public const string TdxEatProfile = "https://aka.ms/maa-eat-profile-tdxvm";

    /// <summary>Refuses evidence whose TEE is not the one the route attests (400 InvalidParameter).</summary>
    private static void RequireTee(Quote quote, string attestationType)
    {
        var wantTd = attestationType == DefaultPolicies.TdxVmType;
        var isTd = quote.BodyType != QuoteBodyType.SgxReport;
        if (wantTd && !isTd)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter,
                $"TdxVm evidence must be a TDX quote (version 4 or 5, tee_type 0x81); this is an SGX enclave quote (version {quote.Header.Version}, tee_type 0x{(uint)quote.TeeType:X}): use /attest/SgxEnclave");
        }

        if (!wantTd && isTd)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter,
                $"{attestationType} evidence must be an SGX enclave quote; this is a TDX quote (version {quote.Header.Version}, tee_type 0x81, a TD report): use /attest/TdxVm");
        }
    }

    private (JsonObject Claims, bool Unsigned) AttestTd(AttestRequest request, TdReportBody report, VerificationResult result, CompiledPolicy storedPolicy, string storedPolicyText, JsonObject? policySigner, bool simulated, CancellationToken cancellationToken)
    {
        if (request.RuntimeData is { } runtime && !SHA256.HashData(runtime).AsSpan().SequenceEqual(report.ReportData.Span[..32]))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "SuppliedRuntimeDataDigest does not match RuntimeData Digest in quote: SHA-256(runtimeData.data) must equal report_data[0..32] of the TD report");
        }

        if (request.InitTimeData is { } initTime && !InitTimeDataMatches(initTime, report.MrConfigId.Span))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "SuppliedInitTimeDataDigest does not match MRCONFIGID in the quote: it must be SHA-256(initTimeData.data) followed by 16 zero bytes, or SHA-384(initTimeData.data)");
        }

        var runtimeJson = request.RuntimeData is { } data && request.RuntimeDataIsJson ? ParseJsonData(data, "runtimeData") : null;
        var initTimeJson = request.InitTimeData is { } init && request.InitTimeDataIsJson ? ParseJsonData(init, "initTimeData") : null;
        var (policy, policyText) = SelectPolicy(request, storedPolicy, storedPolicyText, ref policySigner);
        var tcbStatus = RequireAcceptedTcb(result);
        var measured = TdClaims(report, tcbStatus);
        var incoming = TdIncomingClaims(report, tcbStatus, result.AdvisoryIds, runtimeJson, initTimeJson);
        var evaluation = Evaluate(policy, incoming, DefaultPolicies.TdxVmType, cancellationToken);

        var claims = measured;
        claims["x-ms-ver"] = "1.0";
        claims["x-ms-policy-hash"] = StoredPolicyHash(policyText);
        claims["jti"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        if (_tdxExtensionClaims)
        {
            if (report.IsTdx15)
            {
                claims["tdx_tee_tcb_svn2"] = Hex.Lower(report.TeeTcbSvn2.Span);
                claims["tdx_mrservicetd"] = Hex.Lower(report.MrServiceTd.Span);
            }

            claims["attester_advisory_ids"] = new JsonArray([.. result.AdvisoryIds.Select(id => (JsonNode?)JsonValue.Create(id))]);
            if (result.TdxTcbLevel is { } level)
            {
                claims["attester_tcb_date"] = level.TcbDate.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            }
        }

        if (runtimeJson is not null)
        {
            claims["x-ms-runtime"] = runtimeJson;
        }

        if (initTimeJson is not null)
        {
            claims["x-ms-inittime"] = initTimeJson;
        }

        // MAA's TDX sample token has no x-ms-policy when its policy issued nothing; ours follows it.
        AddCommonClaims(claims, request, policySigner, simulated, evaluation, omitEmptyPolicyClaims: true);
        return (claims, request.DraftPolicy is not null);
    }

    /// <summary>
    /// initTimeData binds to MRCONFIGID (set by the host at TD creation): SHA-256 zero-padded to 48 bytes, or SHA-384.
    /// MAA does not document the TD field; this is Veritee's rule (the binding Trustee uses).
    /// </summary>
    internal static bool InitTimeDataMatches(byte[] data, ReadOnlySpan<byte> mrConfigId)
    {
        Span<byte> padded = stackalloc byte[48];
        padded.Clear();
        SHA256.HashData(data, padded);
        return mrConfigId.SequenceEqual(padded) || mrConfigId.SequenceEqual(SHA384.HashData(data));
    }

    /// <summary>
    /// The claims MAA derives from a TD report (its TDX EAT profile): measurements as lowercase hex in quote byte order,
    /// attribute bits as booleans, <c>tdx_seamsvn</c> = tee_tcb_svn[0] | tee_tcb_svn[1] &lt;&lt; 8.
    /// </summary>
    public static JsonObject TdClaims(TdReportBody report, TcbStatus tcbStatus)
    {
        var attributes = report.TdAttributes.Span;
        var bits = BinaryPrimitives.ReadUInt64LittleEndian(attributes);
        var svn = report.TeeTcbSvn.Span;
        return new JsonObject
        {
            ["x-ms-attestation-type"] = "tdxvm",
            ["eat_profile"] = TdxEatProfile,

            // EAT debug status: any TUD bit (byte 0 of TDATTRIBUTES) lets the host look inside the TD.
            ["dbgstat"] = attributes[0] != 0 ? "enabled" : "disabled",
            ["intuse"] = "generic",
            ["attester_tcb_status"] = tcbStatus.ToWireString(),
            ["tdx_tee_tcb_svn"] = Hex.Lower(svn),
            ["tdx_seamsvn"] = svn[0] | (svn[1] << 8),
            ["tdx_mrseam"] = Hex.Lower(report.MrSeam.Span),
            ["tdx_mrsignerseam"] = Hex.Lower(report.MrSignerSeam.Span),
            ["tdx_seam_attributes"] = Hex.Lower(report.SeamAttributes.Span),
            ["tdx_td_attributes"] = Hex.Lower(attributes),
            ["tdx_td_attributes_debug"] = (bits & 1UL) != 0,
            ["tdx_td_attributes_septve_disable"] = (bits & (1UL << 28)) != 0,
            ["tdx_td_attributes_protection_keys"] = (bits & (1UL << 30)) != 0,
            ["tdx_td_attributes_key_locker"] = (bits & (1UL << 31)) != 0,
            ["tdx_td_attributes_perfmon"] = (bits & (1UL << 63)) != 0,
            ["tdx_xfam"] = Hex.Lower(report.Xfam.Span),
            ["tdx_mrtd"] = Hex.Lower(report.MrTd.Span),
            ["tdx_mrconfigid"] = Hex.Lower(report.MrConfigId.Span),
            ["tdx_mrowner"] = Hex.Lower(report.MrOwner.Span),
            ["tdx_mrownerconfig"] = Hex.Lower(report.MrOwnerConfig.Span),
            ["tdx_rtmr0"] = Hex.Lower(report.RtMr(0).Span),
            ["tdx_rtmr1"] = Hex.Lower(report.RtMr(1).Span),
            ["tdx_rtmr2"] = Hex.Lower(report.RtMr(2).Span),
            ["tdx_rtmr3"] = Hex.Lower(report.RtMr(3).Span),
            ["tdx_report_data"] = Hex.Lower(report.ReportData.Span),
        };
    }

    /// <summary>
    /// What a TdxVm policy sees (issuer AttestationService): every claim of <see cref="TdClaims"/> (strings, the
    /// attribute booleans, <c>tdx_seamsvn</c> as an integer), <c>x-ms-runtime</c>/<c>x-ms-inittime</c> as JSON text
    /// for <c>JmesPath</c>, and Veritee's <c>veritee-tcb-status</c> and <c>veritee-advisory-ids</c>.
    /// </summary>
    public static List<PolicyClaim> TdIncomingClaims(TdReportBody report, TcbStatus tcbStatus, IReadOnlyList<string> advisories, JsonNode? runtimeJson = null, JsonNode? initTimeJson = null)
    {
        ArgumentNullException.ThrowIfNull(advisories);
        var measured = TdClaims(report, tcbStatus);
        var incoming = new List<PolicyClaim>(measured.Count + 4);
        foreach (var (name, value) in measured)
        {
            var claim = value!.GetValueKind() switch
            {
                System.Text.Json.JsonValueKind.True => ClaimValue.FromBoolean(true),
                System.Text.Json.JsonValueKind.False => ClaimValue.FromBoolean(false),
                System.Text.Json.JsonValueKind.Number => ClaimValue.FromInteger(value.GetValue<int>()),
                _ => ClaimValue.FromString(value.GetValue<string>()),
            };
            incoming.Add(PolicyClaim.Service(name, claim));
        }

        if (runtimeJson is not null)
        {
            incoming.Add(PolicyClaim.Service("x-ms-runtime", ClaimValue.FromString(runtimeJson.ToJsonString())));
        }

        if (initTimeJson is not null)
        {
            incoming.Add(PolicyClaim.Service("x-ms-inittime", ClaimValue.FromString(initTimeJson.ToJsonString())));
        }

        incoming.Add(PolicyClaim.Service("veritee-tcb-status", ClaimValue.FromString(measured["attester_tcb_status"]!.GetValue<string>())));
        incoming.Add(PolicyClaim.Service("veritee-advisory-ids", ClaimValue.FromSet(advisories.Select(ClaimValue.FromString))));
        return incoming;
    }
}
