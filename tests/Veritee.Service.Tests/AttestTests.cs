using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

public class AttestTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private static readonly string RealToken = Path.Combine(Vectors.Directory, "maa", "sdk-cpp-2022", "tokens",
        "Attestation-AttestationTests.AttestWithRuntimeData-SgxEnclave_Shared.1.POST.attest_SgxEnclave.jwt");

    private static string B64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    private static byte[] Quote => File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"));

    private static byte[] RuntimeData => File.ReadAllBytes(ServiceFixture.Evidence("runtime-data.bin"));

    private static string SgxBody(byte[]? quote = null, string dataType = "Binary", string? extra = null) =>
        "{\"quote\":\"" + B64Url(quote ?? Quote) + "\",\"runtimeData\":{\"data\":\"" + B64Url(RuntimeData) + "\",\"dataType\":\"" + dataType + "\"}" + extra + "}";

    [Fact]
    public async Task Golden_quote_gives_the_claims_of_the_real_MAA_token()
    {
        var (status, body) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", SgxBody());
        Assert.Equal(HttpStatusCode.OK, status);
        var token = body["token"]!.GetValue<string>();
        var ours = Jwt.Claims(token);
        var real = Jwt.Claims(File.ReadAllText(RealToken).Trim());

        Assert.Equal(real.Select(p => p.Key).Order(StringComparer.Ordinal), ours.Select(p => p.Key).Order(StringComparer.Ordinal));
        string[] timeOrInstance = ["exp", "iat", "nbf", "iss", "jti", "x-ms-sgx-collateral", "maa-attestationcollateral"];
        foreach (var (name, value) in real)
        {
            if (!timeOrInstance.Contains(name))
            {
                Assert.True(JsonNode.DeepEquals(value, ours[name]), $"claim {name}: real {value?.ToJsonString()}, ours {ours[name]?.ToJsonString()}");
            }
        }

        // The quote is the same bytes MAA saw, so its hash matches too; the other collateral hashes name our collateral.
        Assert.Equal(real["x-ms-sgx-collateral"]!["quotehash"]!.GetValue<string>(), ours["x-ms-sgx-collateral"]!["quotehash"]!.GetValue<string>());
        Assert.Equal(ours["exp"]!.GetValue<long>() - 28800, ours["iat"]!.GetValue<long>());
        Assert.Equal(ours["iat"]!.GetValue<long>(), ours["nbf"]!.GetValue<long>());
        Assert.Equal(service.BaseUrl, ours["iss"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{64}$", ours["jti"]!.GetValue<string>());
    }

    [Fact]
    public async Task Token_header_and_signature_follow_MAA()
    {
        var (_, body) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", SgxBody());
        var token = body["token"]!.GetValue<string>();
        var header = Jwt.HeaderText(token);
        Assert.Matches("^\\{\"alg\":\"RS256\",\"jku\":\"[^\"]+/certs\",\"kid\":\"[^\"]+\",\"typ\":\"JWT\"\\}$", header);
        Assert.Equal(service.BaseUrl + "/certs", Jwt.Header(token)["jku"]!.GetValue<string>());
        using var certs = await service.Http.GetAsync(service.BaseUrl + "/certs");
        var jwks = (JsonObject)JsonNode.Parse(await certs.Content.ReadAsStringAsync())!;
        Assert.True(Jwt.VerifiesWith(token, jwks));
        Assert.Equal(["kid", "kty", "x5c"], jwks["keys"]![0]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task OpenEnclave_report_is_attested_and_hashed_whole()
    {
        var report = File.ReadAllBytes(ServiceFixture.Evidence("oe-report.debug.bin"));
        var body = "{\"report\":\"" + B64Url(report) + "\",\"runtimeData\":{\"data\":\"" + B64Url(RuntimeData) + "\",\"dataType\":\"Binary\"}}";
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/openenclave?api-version=2020-10-01", body);
        Assert.Equal(HttpStatusCode.OK, status);
        var claims = Jwt.Claims(response["token"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(report)), claims["x-ms-sgx-collateral"]!["quotehash"]!.GetValue<string>());
        Assert.Equal("sgx", claims["x-ms-attestation-type"]!.GetValue<string>());
    }

    [Fact]
    public async Task SgxEnclave_and_OpenEnclave_are_served_at_api_version_2025_06_01()
    {
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2025-06-01", SgxBody());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("sgx", Jwt.Claims(response["token"]!.GetValue<string>())["x-ms-attestation-type"]!.GetValue<string>());
        var report = File.ReadAllBytes(ServiceFixture.Evidence("oe-report.debug.bin"));
        var (oe, _) = await service.Send(HttpMethod.Post, "/attest/OpenEnclave?api-version=2025-06-01", "{\"report\":\"" + B64Url(report) + "\"}");
        Assert.Equal(HttpStatusCode.OK, oe);
    }

    [Fact]
    public async Task Json_runtime_data_becomes_x_ms_runtime()
    {
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", SgxBody(dataType: "JSON"));
        Assert.Equal(HttpStatusCode.OK, status);
        var claims = Jwt.Claims(response["token"]!.GetValue<string>());
        Assert.NotNull(claims["x-ms-runtime"]!["jwk"]);
        Assert.False(claims.ContainsKey("x-ms-sgx-ehd"));
    }

    [Fact]
    public async Task Standard_base64_with_padding_is_accepted_as_Occlum_sends_it()
    {
        var body = "{\"quote\":\"" + Convert.ToBase64String(Quote) + "\",\"runtimeData\":{\"data\":\"" + Convert.ToBase64String(RuntimeData) + "\",\"dataType\":\"Binary\"},\"nonce\":\"n-1\"}";
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", body);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("n-1", Jwt.Claims(response["token"]!.GetValue<string>())["nonce"]!.GetValue<string>());
    }

    [Fact]
    public async Task Draft_policy_gives_an_unsigned_token_and_a_deny_gives_PolicyEvaluationError()
    {
        var permit = SgxBody(extra: ""","draftPolicyForAttestation":"version=1.0; authorizationrules{=> permit();}; issuancerules{=> issue(type=\"custom-name\", value=\"x\");};" """);
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", permit);
        Assert.Equal(HttpStatusCode.OK, status);
        var token = response["token"]!.GetValue<string>();
        Assert.EndsWith(".", token, StringComparison.Ordinal);
        Assert.Equal("none", Jwt.Header(token)["alg"]!.GetValue<string>());
        Assert.Equal("x", Jwt.Claims(token)["custom-name"]!.GetValue<string>());
        Assert.False(Jwt.Claims(token).ContainsKey("product-id"));

        var deny = SgxBody(extra: ""","draftPolicyForAttestation":"version=1.0; authorizationrules{=> deny();}; issuancerules{};" """);
        var (denied, error) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", deny);
        Assert.Equal(HttpStatusCode.BadRequest, denied);
        Assert.Equal("PolicyEvaluationError", error["error"]!["code"]!.GetValue<string>());

        var broken = SgxBody(extra: ""","draftPolicyForAttestation":"version=1.0; authorizationrules{=> permit()}; issuancerules{};" """);
        var (bad, parseError) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", broken);
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Equal("PolicyParsingError", parseError["error"]!["code"]!.GetValue<string>());
        Assert.Contains("Line: '1'", parseError["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/attest/SgxEnclave", "InvalidParameter")]
    [InlineData("/attest/SgxEnclave?api-version=2019-01-01", "InvalidParameter")]
    [InlineData("/attest/Tpm?api-version=2020-10-01", "InvalidParameter")]
    public async Task Bad_api_version_or_type_is_an_error_envelope(string path, string code)
    {
        var (status, body) = await service.Send(HttpMethod.Post, path, SgxBody());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(code, body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(code, body["error"]!["innererror"]!["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("{\"quote\":\"***\"}")]
    [InlineData("{\"quote\":\"AAAA\"}")]
    [InlineData("{\"quote\":5}")]
    public async Task Malformed_requests_are_400_InvalidParameter(string body)
    {
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", response["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Runtime_data_that_does_not_match_the_report_data_is_refused()
    {
        var body = "{\"quote\":\"" + B64Url(Quote) + "\",\"runtimeData\":{\"data\":\"AQID\",\"dataType\":\"Binary\"}}";
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("RuntimeData", response["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tampered_quote_gets_no_token()
    {
        var quote = Quote;
        quote[100] ^= 1;
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", SgxBody(quote));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("STATUS_INVALID_QUOTE_SIGNATURE", response["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_bodies_are_refused_with_the_envelope()
    {
        var huge = "{\"quote\":\"" + new string('A', 2 * 1024 * 1024) + "\"}";
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", huge);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("RequestEntityTooLarge", response["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task OpenId_metadata_points_at_the_instance()
    {
        var (status, body) = await service.Send(HttpMethod.Get, "/.well-known/openid-configuration");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(service.BaseUrl, body["issuer"]!.GetValue<string>());
        Assert.Equal(service.BaseUrl + "/certs", body["jwks_uri"]!.GetValue<string>());
    }
}

public class HardeningTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private static string Quote => System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));

    private static string Draft(string policy) => "{\"quote\":\"" + Quote + "\",\"draftPolicyForAttestation\":" + System.Text.Json.JsonSerializer.Serialize(policy) + "}";

    [Fact]
    public async Task A_policy_cannot_put_service_claims_at_the_top_level()
    {
        const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{" +
            "=> issue(type=\"x-ms-sgx-ehd\", value=\"forged\"); => issue(type=\"nonce\", value=\"forged\"); => issue(type=\"veritee-simulated\", value=true); => issue(type=\"ok\", value=\"fine\");};";
        var (status, body) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", Draft(Policy));
        Assert.Equal(HttpStatusCode.OK, status);
        var claims = Jwt.Claims(body["token"]!.GetValue<string>());
        Assert.False(claims.ContainsKey("x-ms-sgx-ehd"));
        Assert.False(claims.ContainsKey("nonce"));
        Assert.False(claims.ContainsKey("veritee-simulated"));
        Assert.Equal("fine", claims["ok"]!.GetValue<string>());
        Assert.Equal("forged", claims["x-ms-policy"]!["nonce"]!.GetValue<string>());
    }

    [Fact]
    public async Task Policies_see_the_TCB_status_and_can_deny_on_it()
    {
        // The 2022 Azure-sample platform is OutOfDate under its collateral.
        const string Deny = "version=1.0; authorizationrules{c:[type==\"veritee-tcb-status\", value==\"UpToDate\"] => permit();}; issuancerules{};";
        var (denied, error) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", Draft(Deny));
        Assert.Equal(HttpStatusCode.BadRequest, denied);
        Assert.Equal("PolicyEvaluationError", error["error"]!["code"]!.GetValue<string>());

        const string Issue = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"veritee-tcb-status\"] => issue(type=\"tcb\", value=c.value);};";
        var (ok, body) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", Draft(Issue));
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Equal("OutOfDate", Jwt.Claims(body["token"]!.GetValue<string>())["tcb"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{\"quote\":\"AAAA\",\"Quote\":\"AAAA\"}")]
    [InlineData("{\"quote\":\"AAAA\",\"quote\":\"AAAA\"}")]
    public async Task Duplicate_properties_are_400_not_500(string body)
    {
        var (status, response) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", response["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Runtime_json_with_duplicate_keys_is_400()
    {
        // Bind a different runtime JSON to the report data is impossible with a real quote, so the digest check comes
        // first; a JSON document with duplicate keys is refused before it could reach a token either way.
        var json = System.Text.Encoding.UTF8.GetBytes("{\"a\":1,\"a\":2}");
        var body = "{\"quote\":\"" + Quote + "\",\"runtimeData\":{\"data\":\"" + System.Buffers.Text.Base64Url.EncodeToString(json) + "\",\"dataType\":\"JSON\"}}";
        var (status, _) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }
}

/// <summary>An instance that accepts only UpToDate platforms.</summary>
public sealed class StrictTcbTests : IAsyncLifetime
{
    private readonly StrictNode _service = new();

    private sealed class StrictNode : ServiceFixture
    {
        protected override ServiceOptions Configure(ServiceOptions options) =>
            options with { AcceptedTcbStatuses = new HashSet<Veritee.Dcap.TcbStatus> { Veritee.Dcap.TcbStatus.UpToDate } };
    }

    public Task InitializeAsync() => _service.InitializeAsync();

    public Task DisposeAsync() => _service.DisposeAsync();

    [Fact]
    public async Task An_out_of_date_platform_gets_no_token()
    {
        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        var (status, body) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + quote + "\"}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("OutOfDate", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
