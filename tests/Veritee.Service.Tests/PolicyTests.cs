using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Veritee.Service.Tests;

public class PolicyTests : IAsyncLifetime
{
    private readonly ServiceFixture _service = new();

    public Task InitializeAsync() => _service.InitializeAsync();

    public Task DisposeAsync() => _service.DisposeAsync();

    private static string UnsignedJws(string policy) =>
        "eyJhbGciOiJub25lIn0." + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            "{\"AttestationPolicy\":\"" + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(policy)) + "\"}")) + ".";

    [Fact]
    public async Task Get_returns_the_default_policy_as_an_unsigned_jws()
    {
        var (status, body) = await _service.Send(HttpMethod.Get, "/policies/SgxEnclave?api-version=2020-10-01", admin: true);
        Assert.Equal(HttpStatusCode.OK, status);
        var claims = Jwt.Claims(body["token"]!.GetValue<string>());
        var jws = claims["x-ms-policy"]!.GetValue<string>();
        Assert.StartsWith("eyJhbGciOiJub25lIn0.", jws, StringComparison.Ordinal);
        var payload = JsonNode.Parse(Jwt.Decode(jws.Split('.')[1]))!;
        Assert.Equal(DefaultPolicies.Sgx, Encoding.UTF8.GetString(Jwt.Decode(payload["AttestationPolicy"]!.GetValue<string>())));
        Assert.Equal(claims["iat"]!.GetValue<long>() + 3600, claims["exp"]!.GetValue<long>());
    }

    [Fact]
    public async Task Management_without_the_admin_token_is_401()
    {
        var (status, body) = await _service.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2020-10-01", UnsignedJws("version=1.0; authorizationrules{=> deny();};"), "text/plain");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Unauthorized", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Set_governs_attestation_and_reset_restores_the_default()
    {
        const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"x-ms-sgx-svn\"] => issue(type=\"my-svn\", value=c.value);};";
        var jws = UnsignedJws(Policy);
        var (status, body) = await _service.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2020-10-01", jws, "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.OK, status);
        var result = Jwt.Claims(body["token"]!.GetValue<string>());
        Assert.Equal("Updated", result["x-ms-policy-result"]!.GetValue<string>());
        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(jws))), result["x-ms-policy-token-hash"]!.GetValue<string>());

        var (_, got) = await _service.Send(HttpMethod.Get, "/policies/sgxenclave?api-version=2020-10-01", admin: true);
        Assert.Equal(jws, Jwt.Claims(got["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>());

        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        var (attested, token) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", $$"""{"quote":"{{quote}}"}""");
        Assert.Equal(HttpStatusCode.OK, attested);
        var claims = Jwt.Claims(token["token"]!.GetValue<string>());
        Assert.Equal(1, claims["my-svn"]!.GetValue<int>());
        Assert.False(claims.ContainsKey("product-id"));
        Assert.Equal(AttestationEngine.PolicyHash(Policy), claims["x-ms-policy-hash"]!.GetValue<string>());

        var (reset, removed) = await _service.Send(HttpMethod.Post, "/policies/SgxEnclave:reset?api-version=2020-10-01", "eyJhbGciOiJub25lIn0..", "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.OK, reset);
        Assert.Equal("Removed", Jwt.Claims(removed["token"]!.GetValue<string>())["x-ms-policy-result"]!.GetValue<string>());
        var (_, again) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", $$"""{"quote":"{{quote}}"}""");
        Assert.Equal(1, Jwt.Claims(again["token"]!.GetValue<string>())["product-id"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_policy_that_does_not_parse_is_refused_and_nothing_is_stored()
    {
        var (status, body) = await _service.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2020-10-01", UnsignedJws("version=1.0; authorizationrules{=> permit()};"), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("PolicyParsingError", body["error"]!["code"]!.GetValue<string>());
        var (_, got) = await _service.Send(HttpMethod.Get, "/policies/SgxEnclave?api-version=2020-10-01", admin: true);
        var payload = JsonNode.Parse(Jwt.Decode(Jwt.Claims(got["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>().Split('.')[1]))!;
        Assert.Equal(DefaultPolicies.Sgx, Encoding.UTF8.GetString(Jwt.Decode(payload["AttestationPolicy"]!.GetValue<string>())));
    }

    [Theory]
    [InlineData("not a jws")]
    [InlineData("a.b")]
    [InlineData("eyJhbGciOiJub25lIn0.e30.")]
    [InlineData("eyJhbGciOiJub25lIn0.eyJBdHRlc3RhdGlvblBvbGljeSI6IkFBQUEifQ.c2ln")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.eyJBdHRlc3RhdGlvblBvbGljeSI6IkFBQUEifQ.c2ln")]
    public async Task Malformed_policy_tokens_are_refused(string body)
    {
        var (status, response) = await _service.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2020-10-01", body, "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(response["error"]!["code"]);
    }

    [Fact]
    public async Task Certificates_are_empty_and_cannot_be_added_on_an_aad_instance()
    {
        var (status, body) = await _service.Send(HttpMethod.Get, "/certificates?api-version=2020-10-01", admin: true);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(Jwt.Claims(body["token"]!.GetValue<string>())["x-ms-policy-certificates"]!["keys"]!.AsArray());
        var (add, error) = await _service.Send(HttpMethod.Post, "/certificates:add?api-version=2020-10-01", "\"x.y.z\"", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, add);
        Assert.Equal("InvalidOperation", error["error"]!["code"]!.GetValue<string>());
    }
}
