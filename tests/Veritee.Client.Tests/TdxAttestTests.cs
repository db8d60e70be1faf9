using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Veritee.Client.Tests;

/// <summary>
/// <c>AttestTdxVmAsync</c> against an in-memory instance: the request MAA's TdxVm contract names, the token validated
/// against the pinned /certs exactly as SGX tokens are, and the TDX claims read into typed values.
/// </summary>
public sealed class TdxAttestTests : IDisposable
{
    private const string Zero48 = "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
    private const string MrTd = "5be56d418d33661a6c21da77c9503a07e430b35eb92a0bd042a6b3c4e79b3c82bb1c594e770d0d129a0724669f1e953f";
    private const string MrSeam = "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656";
    private const string ReportData = "93c6db49f2318387bcebdad0275e206725d948f9000d900344aa44abaef14596" + "0000000000000000000000000000000000000000000000000000000000000000";

    private readonly FakeInstance _instance = new();
    private readonly FakeKey _key = new(FakeInstance.Url, "instance-key");
    private readonly FakeKey _attacker = new("https://attacker.example", "instance-key");

    public TdxAttestTests() => _instance.Keys.Add(_key);

    public void Dispose()
    {
        _instance.Dispose();
        _key.Dispose();
        _attacker.Dispose();
    }

    /// <summary>The claims of MAA's published TDX token (learn.microsoft.com attestation-token-examples), with our issuer and time.</summary>
    internal static JsonObject SampleClaims()
    {
        var t = FakeInstance.Now.ToUnixTimeSeconds();
        return new JsonObject
        {
            ["attester_tcb_status"] = "UpToDate",
            ["dbgstat"] = "disabled",
            ["eat_profile"] = "https://aka.ms/maa-eat-profile-tdxvm",
            ["exp"] = t + 28800,
            ["iat"] = t,
            ["intuse"] = "generic",
            ["iss"] = FakeInstance.Url,
            ["jti"] = "5f65006d573bc1c04f67820348c20f5d8da72ddbbd4d6c03da8de9f11b5cf29b",
            ["nbf"] = t,
            ["tdx_mrconfigid"] = Zero48,
            ["tdx_mrowner"] = Zero48,
            ["tdx_mrownerconfig"] = Zero48,
            ["tdx_mrseam"] = MrSeam,
            ["tdx_mrsignerseam"] = Zero48,
            ["tdx_mrtd"] = MrTd,
            ["tdx_report_data"] = ReportData,
            ["tdx_rtmr0"] = Zero48,
            ["tdx_rtmr1"] = Zero48,
            ["tdx_rtmr2"] = Zero48,
            ["tdx_rtmr3"] = Zero48,
            ["tdx_seam_attributes"] = "0000000000000000",
            ["tdx_seamsvn"] = 3,
            ["tdx_td_attributes"] = "0000000000000000",
            ["tdx_td_attributes_debug"] = false,
            ["tdx_td_attributes_key_locker"] = false,
            ["tdx_td_attributes_perfmon"] = false,
            ["tdx_td_attributes_protection_keys"] = false,
            ["tdx_td_attributes_septve_disable"] = false,
            ["tdx_tee_tcb_svn"] = "03000600000000000000000000000000",
            ["tdx_xfam"] = "e718060000000000",
            ["x-ms-attestation-type"] = "tdxvm",
            ["x-ms-compliance-status"] = "azure-compliant-cvm",
            ["x-ms-policy-hash"] = "B56nbp5slhw66peoRYkpdq1WykMkEworvdol08hnMXE",
            ["x-ms-runtime"] = new JsonObject { ["test-claim-name"] = "test-claim-value" },
            ["x-ms-ver"] = "1.0",
        };
    }

    /// <summary>An RS256 token with MAA's header over <paramref name="claims"/>, signed by <paramref name="key"/>.</summary>
    internal static string Sign(FakeKey key, JsonObject claims, string jku = FakeInstance.Url + "/certs")
    {
        var header = new JsonObject { ["alg"] = "RS256", ["jku"] = jku, ["kid"] = key.Kid, ["typ"] = "JWT" };
        var input = FakeInstance.B64(header.ToJsonString()) + "." + FakeInstance.B64(claims.ToJsonString());
        var signature = key.Rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + Base64Url.EncodeToString(signature);
    }

    private static AttestationRequest Request(string? nonce = null) => new()
    {
        Evidence = new byte[] { 4, 0, 2, 0, 0x81 },
        RuntimeData = new AttestationData(Encoding.UTF8.GetBytes("{ \"test-claim-name\" : \"test-claim-value\" }"), IsJson: true),
        Nonce = nonce,
    };

    private async Task<AttestationTokenValidationException> Refused(JsonObject claims)
    {
        _instance.Answer = _ => FakeInstance.TokenBody(Sign(_key, claims));
        using var client = _instance.Client();
        return await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestTdxVmAsync(Request()));
    }

    [Fact]
    public async Task The_request_goes_to_attest_TdxVm_at_2025_06_01_and_the_token_reads_into_typed_claims()
    {
        _instance.Answer = _ => FakeInstance.TokenBody(Sign(_key, SampleClaims()));
        using var client = _instance.Client();
        var response = await client.AttestTdxVmAsync(Request());

        var request = Assert.Single(_instance.Requests, r => r.RequestUri!.AbsolutePath != "/certs");
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal(FakeInstance.Url + "/attest/TdxVm?api-version=2025-06-01", request.RequestUri!.ToString());
        using var body = JsonDocument.Parse(_instance.Bodies[0]);
        Assert.Equal(Base64Url.EncodeToString([4, 0, 2, 0, 0x81]), body.RootElement.GetProperty("quote").GetString());
        Assert.Equal("JSON", body.RootElement.GetProperty("runtimeData").GetProperty("dataType").GetString());
        Assert.Equal("{ \"test-claim-name\" : \"test-claim-value\" }", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(body.RootElement.GetProperty("runtimeData").GetProperty("data").GetString())));

        Assert.True(response.Token.IsSigned);
        var r = response.Value;
        Assert.Equal(FakeInstance.Url, r.Issuer);
        Assert.Equal("tdxvm", r.VerifierType);
        Assert.Equal("https://aka.ms/maa-eat-profile-tdxvm", r.EatProfile);
        Assert.Equal("disabled", r.DebugStatus);
        Assert.Equal("generic", r.IntendedUse);
        Assert.Equal(MrTd, r.MrTd);
        Assert.Equal([Zero48, Zero48, Zero48, Zero48], r.Rtmrs);
        Assert.Equal(Zero48, r.MrConfigId);
        Assert.Equal(Zero48, r.MrOwner);
        Assert.Equal(Zero48, r.MrOwnerConfig);
        Assert.Equal(MrSeam, r.MrSeam);
        Assert.Equal(Zero48, r.MrSignerSeam);
        Assert.Equal("0000000000000000", r.SeamAttributes);
        Assert.Equal("0000000000000000", r.TdAttributes);
        Assert.False(r.TdAttributesDebug);
        Assert.False(r.IsDebuggable);
        Assert.False(r.SeptVeDisable);
        Assert.False(r.ProtectionKeys);
        Assert.False(r.KeyLocker);
        Assert.False(r.Perfmon);
        Assert.Equal("e718060000000000", r.Xfam);
        Assert.Equal(3UL, r.SeamSvn);
        Assert.Equal("03000600000000000000000000000000", r.TeeTcbSvn);
        Assert.Equal(ReportData, r.ReportData);
        Assert.Equal("UpToDate", r.AttesterTcbStatus);
        Assert.Equal("azure-compliant-cvm", r.ComplianceStatus);
        Assert.Equal("test-claim-value", r.RuntimeClaims!.Value.GetProperty("test-claim-name").GetString());
        Assert.Equal(FakeInstance.Now, r.IssuedAt);
        Assert.Equal(FakeInstance.Now.AddHours(8), r.Expires);
        Assert.False(r.IsSimulated);
        Assert.Null(r.Nonce);

        // The runtime-data binding the relying party relies on holds in MAA's own sample.
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("{ \"test-claim-name\" : \"test-claim-value\" }"))), r.ReportData![..64]);
    }

    [Fact]
    public async Task The_CVM_tools_api_version_is_an_option_and_SGX_calls_keep_theirs()
    {
        _instance.Answer = req => FakeInstance.TokenBody(req.RequestUri!.AbsolutePath == "/attest/TdxVm" ? Sign(_key, SampleClaims()) : FakeInstance.Token(_key));
        using var client = new AttestationClient(new Uri(FakeInstance.Url), new AttestationClientOptions
        {
            Handler = _instance,
            TimeProvider = new Veritee.TestSupport.FixedClock(FakeInstance.Now),
            TdxApiVersion = AttestationClientOptions.CvmToolsTdxApiVersion,
        });
        await client.AttestTdxVmAsync(Request());
        await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 } });
        var sent = _instance.Requests.Where(r => r.RequestUri!.AbsolutePath != "/certs").Select(r => r.RequestUri!.PathAndQuery).ToList();
        Assert.Equal(["/attest/TdxVm?api-version=2023-04-01-preview", "/attest/SgxEnclave?api-version=2022-08-01"], sent);
        Assert.Throws<ArgumentException>(() => new AttestationClient(new Uri(FakeInstance.Url), new AttestationClientOptions { TdxApiVersion = "2025-06-01&x=1" }));
    }

    [Fact]
    public async Task A_TDX_token_is_validated_with_the_pinned_certs_only()
    {
        // Signed by a key the instance does not publish, the token's jku pointing at the attacker: refused.
        _instance.Answer = _ => FakeInstance.TokenBody(Sign(_attacker, SampleClaims()));
        using var client = _instance.Client();
        var e = await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestTdxVmAsync(Request()));
        Assert.Equal("BadSignature", e.Reason);

        _instance.Answer = _ => FakeInstance.TokenBody(Sign(_key, SampleClaims(), jku: "https://attacker.example/certs"));
        e = await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestTdxVmAsync(Request()));
        Assert.Equal("JkuMismatch", e.Reason);

        var other = SampleClaims();
        other["iss"] = "https://attacker.example";
        _instance.Answer = _ => FakeInstance.TokenBody(Sign(_key, other));
        e = await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestTdxVmAsync(Request()));
        Assert.Equal("IssuerMismatch", e.Reason);
    }

    [Fact]
    public async Task An_SGX_token_or_a_malformed_TDX_claim_is_refused()
    {
        var sgx = SampleClaims();
        sgx["x-ms-attestation-type"] = "sgx";
        Assert.Contains("not a TDX token", (await Refused(sgx)).Message, StringComparison.Ordinal);

        var shortMrtd = SampleClaims();
        shortMrtd["tdx_mrtd"] = MrTd[..94];
        var e = await Refused(shortMrtd);
        Assert.Equal("UnexpectedContent", e.Reason);
        Assert.Contains("tdx_mrtd is not 48 bytes", e.Message, StringComparison.Ordinal);

        var stringFlag = SampleClaims();
        stringFlag["tdx_td_attributes_debug"] = "false";
        Assert.Contains("tdx_td_attributes_debug is not a boolean", (await Refused(stringFlag)).Message, StringComparison.Ordinal);

        var lying = SampleClaims();
        lying["tdx_td_attributes"] = "0100001000000000";
        Assert.Contains("says otherwise", (await Refused(lying)).Message, StringComparison.Ordinal);

        var negativeSvn = SampleClaims();
        negativeSvn["tdx_seamsvn"] = -1;
        Assert.Contains("tdx_seamsvn", (await Refused(negativeSvn)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Debug_simulated_and_nonce_are_reported()
    {
        var claims = SampleClaims();
        claims["tdx_td_attributes"] = "0100001000000000";
        claims["tdx_td_attributes_debug"] = true;
        claims["tdx_td_attributes_septve_disable"] = true;
        claims["dbgstat"] = "enabled";
        claims["veritee-simulated"] = true;
        claims["nonce"] = "n-1";
        _instance.Answer = _ => FakeInstance.TokenBody(Sign(_key, claims));
        using var client = _instance.Client();
        var r = (await client.AttestTdxVmAsync(Request("n-1"))).Value;
        Assert.True(r.IsDebuggable);
        Assert.True(r.SeptVeDisable);
        Assert.True(r.IsSimulated);
        Assert.Equal("n-1", r.Nonce);

        var e = await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestTdxVmAsync(Request("n-2")));
        Assert.Equal("UnexpectedContent", e.Reason);
    }

    [Fact]
    public async Task A_service_error_on_TdxVm_is_an_AttestationException_with_its_code()
    {
        _instance.Answer = _ => (HttpStatusCode.BadRequest, "{\"error\":{\"code\":\"InvalidParameter\",\"message\":\"the quote is an SGX quote\"}}");
        using var client = _instance.Client();
        var e = await Assert.ThrowsAsync<AttestationException>(() => client.AttestTdxVmAsync(Request()));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Equal("InvalidParameter", e.ErrorCode);
    }

    [Fact]
    public async Task TdxVm_policies_are_managed_at_the_TdxVm_api_version()
    {
        _instance.Answer = _ => (HttpStatusCode.NotFound, "{\"error\":{\"code\":\"NotFound\",\"message\":\"x\"}}");
        using var admin = new AttestationAdministrationClient(new Uri(FakeInstance.Url), AttestationCredential.FromToken("t"), new AttestationClientOptions { Handler = _instance, TimeProvider = new Veritee.TestSupport.FixedClock(FakeInstance.Now) });
        await Assert.ThrowsAsync<AttestationException>(() => admin.GetPolicyAsync(AttestationType.TdxVm));
        await Assert.ThrowsAsync<AttestationException>(() => admin.GetPolicyAsync(AttestationType.SgxEnclave));
        await Assert.ThrowsAsync<AttestationException>(() => admin.ResetPolicyAsync(AttestationType.TdxVm));
        Assert.Equal(
            ["/policies/TdxVm?api-version=2025-06-01", "/policies/SgxEnclave?api-version=2022-08-01", "/policies/TdxVm:reset?api-version=2025-06-01"],
            _instance.Requests.Select(r => r.RequestUri!.PathAndQuery));
    }
}
