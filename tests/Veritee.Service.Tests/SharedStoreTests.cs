using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Veritee.Service.Tests;

/// <summary>A service node on a shared PostgreSQL database.</summary>
public sealed class PostgresNode(string connectionString) : ServiceFixture
{
    /// <summary>This node's store, counting its policy reads.</summary>
    public CountingStore? Store { get; private set; }

    /// <summary>The key-encryption key every node of the instance is given (the shared store keeps the key sealed).</summary>
    internal static readonly byte[] SharedKek = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    /// <summary>Nodes of one instance share its URL (the load balancer's), whatever port each listens on.</summary>
    protected override ServiceOptions Configure(ServiceOptions options) =>
        options with
        {
            PostgresConnectionString = connectionString,
            InstanceUrl = "https://attest.cluster.test",
            KeyEncryptionKey = SharedKek,
            StoreDecorator = inner => Store = new CountingStore(inner),
        };
}

/// <summary>Two nodes on one PostgreSQL store behave as one instance.</summary>
public sealed class SharedStoreTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private PostgresNode _a = null!;
    private PostgresNode _b = null!;

    public async Task InitializeAsync()
    {
        var database = "n" + Guid.NewGuid().ToString("N");
        postgres.Server.CreateDatabase(database);
        _a = new PostgresNode(postgres.Server.ConnectionString(database));
        _b = new PostgresNode(postgres.Server.ConnectionString(database));
        await Task.WhenAll(_a.InitializeAsync(), _b.InitializeAsync());
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task Nodes_share_the_signing_key_and_policies()
    {
        var jwksA = JsonNode.Parse(await _a.Http.GetStringAsync(_a.BaseUrl + "/certs"))!["keys"]![0]!["kid"]!.GetValue<string>();
        var jwksB = JsonNode.Parse(await _b.Http.GetStringAsync(_b.BaseUrl + "/certs"))!;
        Assert.Equal(jwksA, jwksB["keys"]![0]!["kid"]!.GetValue<string>());

        const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{=> issue(type=\"node\", value=\"shared\");};";
        var jws = "eyJhbGciOiJub25lIn0." + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            "{\"AttestationPolicy\":\"" + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(Policy)) + "\"}")) + ".";
        var (set, _) = await _a.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2022-08-01", jws, "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.OK, set);

        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        var (status, body) = await _b.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + quote + "\"}");
        Assert.Equal(HttpStatusCode.OK, status);
        var token = body["token"]!.GetValue<string>();
        Assert.Equal("shared", Jwt.Claims(token)["node"]!.GetValue<string>());
        Assert.True(Jwt.VerifiesWith(token, JsonNode.Parse(await _a.Http.GetStringAsync(_a.BaseUrl + "/certs"))!.AsObject()));
    }

    [Fact]
    public async Task A_policy_change_through_one_node_governs_the_other_nodes_next_attestation_while_unchanged_policies_are_not_read_again()
    {
        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        async Task<JsonObject> AttestThroughB()
        {
            var (status, body) = await _b.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + quote + "\"}");
            Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
            return Jwt.Claims(body["token"]!.GetValue<string>());
        }

        async Task SetThroughA(string policy)
        {
            var jws = "eyJhbGciOiJub25lIn0." + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
                "{\"AttestationPolicy\":\"" + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(policy)) + "\"}")) + ".";
            var (set, body) = await _a.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2022-08-01", jws, "text/plain", admin: true);
            Assert.True(set == HttpStatusCode.OK, body.ToJsonString());
        }

        // B under the default policy, read once from the store and then kept.
        Assert.Equal(1, (await AttestThroughB())["product-id"]!.GetValue<int>());
        var reads = _b.Store!.PolicyReads;
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await AttestThroughB()).ContainsKey("product-id"));
        }

        Assert.Equal(reads, _b.Store.PolicyReads);

        // Each change through A governs B's very next attestation: no wait, no retry.
        foreach (var marker in new[] { "first", "second" })
        {
            await SetThroughA("version=1.0; authorizationrules{=> permit();}; issuancerules{=> issue(type=\"node\", value=\"" + marker + "\");};");
            var claims = await AttestThroughB();
            Assert.Equal(marker, claims["node"]!.GetValue<string>());
            Assert.False(claims.ContainsKey("product-id"));
        }

        var (reset, resetBody) = await _a.Send(HttpMethod.Post, "/policies/SgxEnclave:reset?api-version=2022-08-01", "eyJhbGciOiJub25lIn0..", "text/plain", admin: true);
        Assert.True(reset == HttpStatusCode.OK, resetBody.ToJsonString());
        var after = await AttestThroughB();
        Assert.False(after.ContainsKey("node"));
        Assert.Equal(1, after["product-id"]!.GetValue<int>());
    }
}
