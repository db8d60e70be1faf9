using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Veritee.Service.Tests;

/// <summary>A single node on SQLite whose store counts policy reads.</summary>
public sealed class PolicyReadCountingFixture : ServiceFixture
{
    public CountingStore? Store { get; private set; }

    protected override ServiceOptions Configure(ServiceOptions options) => options with { StoreDecorator = inner => Store = new CountingStore(inner) };
}

/// <summary>The per-request policy read: kept between changes, never stale after one.</summary>
public sealed class PolicyCacheTests : IAsyncLifetime
{
    private readonly PolicyReadCountingFixture _service = new();

    public Task InitializeAsync() => _service.InitializeAsync();

    public Task DisposeAsync() => _service.DisposeAsync();

    private static string UnsignedJws(string policy) =>
        "eyJhbGciOiJub25lIn0." + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            "{\"AttestationPolicy\":\"" + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(policy)) + "\"}")) + ".";

    private async Task<JsonObject> Attest()
    {
        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        var (status, body) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", $$"""{"quote":"{{quote}}"}""");
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        return Jwt.Claims(body["token"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_sqlite_node_reads_a_policy_once_and_again_only_after_it_changed()
    {
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(1, (await Attest())["product-id"]!.GetValue<int>());
        }

        Assert.Equal(1, _service.Store!.PolicyReads);

        const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"x-ms-sgx-svn\"] => issue(type=\"my-svn\", value=c.value);};";
        var (set, setBody) = await _service.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2022-08-01", UnsignedJws(Policy), "text/plain", admin: true);
        Assert.True(set == HttpStatusCode.OK, setBody.ToJsonString());
        for (var i = 0; i < 3; i++)
        {
            var claims = await Attest();
            Assert.Equal(1, claims["my-svn"]!.GetValue<int>());
            Assert.False(claims.ContainsKey("product-id"));
            Assert.Equal(AttestationEngine.PolicyHash(Policy), claims["x-ms-policy-hash"]!.GetValue<string>());
        }

        Assert.Equal(2, _service.Store.PolicyReads);

        // GET /policies answers from the same entry, and a reset governs the next attestation.
        var (_, got) = await _service.Send(HttpMethod.Get, "/policies/SgxEnclave?api-version=2022-08-01", admin: true);
        Assert.Equal(UnsignedJws(Policy), Jwt.Claims(got["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>());
        var (reset, resetBody) = await _service.Send(HttpMethod.Post, "/policies/SgxEnclave:reset?api-version=2022-08-01", "eyJhbGciOiJub25lIn0..", "text/plain", admin: true);
        Assert.True(reset == HttpStatusCode.OK, resetBody.ToJsonString());
        var after = await Attest();
        Assert.False(after.ContainsKey("my-svn"));
        Assert.Equal(AttestationEngine.PolicyHash(DefaultPolicies.Sgx), after["x-ms-policy-hash"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_refused_policy_change_leaves_the_kept_policy_in_force()
    {
        Assert.True((await Attest()).ContainsKey("product-id"));
        var (status, _) = await _service.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2022-08-01", UnsignedJws("version=1.0; authorizationrules{=> permit()};"), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(1, (await Attest())["product-id"]!.GetValue<int>());
    }
}
