using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Veritee.Tokens;

namespace Veritee.Service.Tests;

/// <summary>A service node whose options the audit tests choose (store, trust model, retention).</summary>
public sealed class AuditNode(Func<ServiceOptions, ServiceOptions> configure) : ServiceFixture
{
    protected override ServiceOptions Configure(ServiceOptions options) => configure(options);
}

/// <summary>
/// The audit trail of management operations, the same on every store: each operation and each refused attempt makes
/// exactly one record with the right fields and no secret; GET /audit pages, filters and is for administrators only;
/// records survive restarts and are shared by the nodes of one store; refused records are bounded.
/// </summary>
public abstract class AuditTrailTests : IAsyncLifetime
{
    protected const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"x-ms-sgx-svn\"] => issue(type=\"audit-svn\", value=c.value);};";
    private const string TdxPolicy = "version=1.0; authorizationrules{=> permit();}; issuancerules{=> issue(type=\"audit-tdx\", value=true);};";
    protected const string Api = "api-version=2022-08-01";

    private static readonly string AdminFingerprint = "admin-token:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ServiceFixture.AdminToken)))[..16];

    private readonly List<ServiceFixture> _nodes = [];

    /// <summary>Puts a node on this test's store (every node of one test shares it).</summary>
    protected abstract ServiceOptions OnStore(ServiceOptions options);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    private async Task<AuditNode> StartNode(Func<ServiceOptions, ServiceOptions>? configure = null)
    {
        var node = new AuditNode(o => (configure ?? (x => x))(OnStore(o)));
        _nodes.Add(node);
        await node.InitializeAsync();
        return node;
    }

    private static async Task<(HttpStatusCode Status, JsonObject Body, string RequestId)> Call(ServiceFixture node, HttpMethod method, string path, string? body = null, string? bearer = ServiceFixture.AdminToken)
    {
        using var request = new HttpRequestMessage(method, node.BaseUrl + path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await node.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, (JsonObject)JsonNode.Parse(text)!, response.Headers.GetValues("x-ms-request-id").Single());
    }

    protected static async Task<(JsonArray Records, string Raw, JsonObject Body)> Audit(ServiceFixture node, string query = "")
    {
        var (status, body, _) = await Call(node, HttpMethod.Get, "/audit?" + Api + query);
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        return (body["value"]!.AsArray(), body.ToJsonString(), body);
    }

    protected static string? S(JsonNode? node, string name) => node![name]?.GetValue<string>();

    [Fact]
    public async Task Each_policy_operation_and_each_refused_attempt_makes_exactly_one_record_without_secrets()
    {
        var node = await StartNode();
        var unsigned = PolicyJws.CreateUnsigned(Policy);
        var (set, _, setId) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, unsigned);
        Assert.Equal(HttpStatusCode.OK, set);
        var (tdx, _, _) = await Call(node, HttpMethod.Put, "/policies/TdxVm?" + Api, PolicyJws.CreateUnsigned(TdxPolicy));
        Assert.Equal(HttpStatusCode.OK, tdx);
        var (reset, _, resetId) = await Call(node, HttpMethod.Post, "/policies/SgxEnclave:reset?" + Api, PolicyJws.CreateUnsigned(null));
        Assert.Equal(HttpStatusCode.OK, reset);

        // Refused: no bearer, a wrong bearer, a policy that does not parse, a bad signature, signers on an AAD instance.
        var (anonymous, _, _) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, unsigned, bearer: null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous);
        var (wrong, _, _) = await Call(node, HttpMethod.Put, "/policies/OpenEnclave?" + Api, unsigned, bearer: "not-the-admin-token");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        const string Broken = "version=1.0; authorizationrules{=> permit();}; issuancerules{";
        var (unparsable, _, _) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateUnsigned(Broken));
        Assert.Equal(HttpStatusCode.BadRequest, unparsable);
        using var signer = IsolatedServiceFixture.NewSigner("CN=audit signer");
        var signed = PolicyJws.CreateSigned(Policy, signer);
        var tampered = signed[..^4] + (signed[^4] == 'A' ? "B" : "A") + signed[^3..];
        var (badSignature, _, _) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, tampered);
        Assert.Equal(HttpStatusCode.BadRequest, badSignature);
        var (aadSigner, _, _) = await Call(node, HttpMethod.Post, "/certificates:add?" + Api, "\"" + PolicyCertificateJws.Create(signer.Certificate, signer) + "\"");
        Assert.Equal(HttpStatusCode.BadRequest, aadSigner);

        // Reads are not management operations.
        Assert.Equal(HttpStatusCode.OK, (await Call(node, HttpMethod.Get, "/policies/SgxEnclave?" + Api)).Status);

        var (records, raw, body) = await Audit(node);
        Assert.Equal(8, records.Count);
        Assert.Equal(0, body["refusedPruned"]!.GetValue<long>());
        Assert.Equal(
            new string?[] { "policy.set", "policy.set", "policy.reset", "policy.set", "policy.set", "policy.set", "policy.set", "signer.add" },
            records.Select(r => S(r, "operation")));
        Assert.Equal(
            new string?[] { "succeeded", "succeeded", "succeeded", "refused", "refused", "refused", "refused", "refused" },
            records.Select(r => S(r, "outcome")));
        Assert.Equal(
            new string?[] { null, null, null, "Unauthorized", "Unauthorized", "PolicyParsingError", "InvalidOperation", "InvalidOperation" },
            records.Select(r => S(r, "errorCode")));
        Assert.Equal(
            new string?[] { AdminFingerprint, AdminFingerprint, AdminFingerprint, "anonymous", "invalid-bearer", AdminFingerprint, AdminFingerprint, AdminFingerprint },
            records.Select(r => S(r, "caller")));
        Assert.Equal(
            new string?[] { "SgxEnclave", "TdxVm", "SgxEnclave", "SgxEnclave", "OpenEnclave", "SgxEnclave", "SgxEnclave", null },
            records.Select(r => S(r, "attestationType")));
        Assert.All(records, r => Assert.Equal("Aad", S(r, "trustModel")));
        Assert.All(records, r => Assert.Matches("^h:[0-9a-f]{16}$", S(r, "client")));
        Assert.All(records, r => Assert.Equal(ServiceFixture.PinnedTime, DateTimeOffset.Parse(S(r, "time")!, System.Globalization.CultureInfo.InvariantCulture)));

        // Old and new policy hashes with the x-ms-policy-hash formula; the request id is the one the caller was answered with.
        var sgxDefault = PolicyJws.PolicyHash(DefaultPolicies.Sgx);
        Assert.Equal(sgxDefault, S(records[0], "oldPolicyHash"));
        Assert.Equal(PolicyJws.PolicyHash(Policy), S(records[0], "newPolicyHash"));
        Assert.Equal(setId, S(records[0], "requestId"));
        Assert.Equal(PolicyJws.PolicyHash(DefaultPolicies.TdxVm), S(records[1], "oldPolicyHash"));
        Assert.Equal(PolicyJws.PolicyHash(TdxPolicy), S(records[1], "newPolicyHash"));
        Assert.Equal(PolicyJws.PolicyHash(Policy), S(records[2], "oldPolicyHash"));
        Assert.Equal(sgxDefault, S(records[2], "newPolicyHash"));
        Assert.Equal(resetId, S(records[2], "requestId"));
        Assert.Equal(PolicyJws.PolicyHash(Broken), S(records[5], "newPolicyHash"));
        Assert.Null(S(records[3], "newPolicyHash"));

        // Never the policy text, a JWS, the admin token or the wrong one.
        foreach (var secret in new[] { Policy, TdxPolicy, Broken, "issuancerules", unsigned, signed.Split('.')[1], tampered.Split('.')[2], ServiceFixture.AdminToken, "not-the-admin-token" })
        {
            Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Signer_changes_and_refusals_on_an_isolated_instance_name_the_signing_certificate()
    {
        using var first = IsolatedServiceFixture.NewSigner("CN=audit first signer");
        using var second = IsolatedServiceFixture.NewSigner("CN=audit second signer");
        using var stranger = IsolatedServiceFixture.NewSigner("CN=audit stranger");
        var node = await StartNode(o => o with { TrustModel = TrustModel.Isolated, InitialSigners = [first.Certificate], LogClientAddress = ClientAddressLogging.On });
        var add = PolicyCertificateJws.Create(second.Certificate, first);
        var (added, addBody, _) = await Call(node, HttpMethod.Post, "/certificates:add?" + Api, "\"" + add + "\"");
        Assert.Equal(HttpStatusCode.OK, added);
        var (foreign, _, _) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateSigned(Policy, stranger));
        Assert.Equal(HttpStatusCode.BadRequest, foreign);
        var (unsignedSet, _, _) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateUnsigned(Policy));
        Assert.Equal(HttpStatusCode.BadRequest, unsignedSet);
        var (removed, _, _) = await Call(node, HttpMethod.Post, "/certificates:remove?" + Api, "\"" + PolicyCertificateJws.Create(first.Certificate, second) + "\"");
        Assert.Equal(HttpStatusCode.OK, removed);
        var (last, _, _) = await Call(node, HttpMethod.Post, "/certificates:remove?" + Api, "\"" + PolicyCertificateJws.Create(second.Certificate, second) + "\"");
        Assert.Equal(HttpStatusCode.BadRequest, last);
        var (signedSet, _, _) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateSigned(Policy, second));
        Assert.Equal(HttpStatusCode.OK, signedSet);

        var (records, raw, _) = await Audit(node);
        Assert.Equal(new string?[] { "signer.add", "policy.set", "policy.set", "signer.remove", "signer.remove", "policy.set" }, records.Select(r => S(r, "operation")));
        Assert.Equal(new string?[] { "succeeded", "refused", "refused", "succeeded", "refused", "succeeded" }, records.Select(r => S(r, "outcome")));
        static string Sha256(byte[] der) => Convert.ToHexStringLower(SHA256.HashData(der));
        Assert.Equal(
            new string?[] { Sha256(first.Certificate.RawData), Sha256(stranger.Certificate.RawData), null, Sha256(second.Certificate.RawData), Sha256(second.Certificate.RawData), Sha256(second.Certificate.RawData) },
            records.Select(r => S(r, "signer")));

        // The certificate a signer operation names, as MAA's x-ms-certificate-thumbprint.
        Assert.Equal(Jwt.Claims(addBody["token"]!.GetValue<string>())["x-ms-certificate-thumbprint"]!.GetValue<string>(), S(records[0], "certificateThumbprint"));
        Assert.Equal(Convert.ToHexString(SHA1.HashData(first.Certificate.RawData)), S(records[3], "certificateThumbprint"));
        Assert.Equal(Convert.ToHexString(SHA1.HashData(second.Certificate.RawData)), S(records[4], "certificateThumbprint"));
        Assert.All(records, r => Assert.Equal("Isolated", S(r, "trustModel")));
        Assert.All(records, r => Assert.Equal(AdminFingerprint, S(r, "caller")));
        Assert.All(records, r => Assert.Equal("127.0.0.1", S(r, "client")));
        Assert.Equal(PolicyJws.PolicyHash(DefaultPolicies.Sgx), S(records[5], "oldPolicyHash"));
        Assert.DoesNotContain(add.Split('.')[1], raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pages_follow_the_next_link_and_since_filters_by_time()
    {
        var node = await StartNode(o => o with { LogClientAddress = ClientAddressLogging.Off });
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, "x", bearer: null)).Status);
        }

        node.Clock.Now = ServiceFixture.PinnedTime.AddHours(1);
        Assert.Equal(HttpStatusCode.OK, (await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateUnsigned(Policy))).Status);

        var (all, _, _) = await Audit(node);
        Assert.Equal(6, all.Count);
        Assert.All(all, r => Assert.Null(S(r, "client")));

        // Pages of 2, each continuing after the last id, until no nextLink.
        var seen = new List<long>();
        var path = "/audit?" + Api + "&limit=2";
        var pages = 0;
        while (path is not null)
        {
            var (status, body, _) = await Call(node, HttpMethod.Get, path);
            Assert.Equal(HttpStatusCode.OK, status);
            var value = body["value"]!.AsArray();
            Assert.InRange(value.Count, 1, 2);
            seen.AddRange(value.Select(r => r!["id"]!.GetValue<long>()));
            pages++;
            if (body["nextLink"]?.GetValue<string>() is { } next)
            {
                // The link names the instance (clients take its path and query to their endpoint).
                var link = new Uri(next);
                Assert.Equal("/audit", link.AbsolutePath);
                path = link.PathAndQuery;
            }
            else
            {
                path = null;
            }
        }

        Assert.Equal(3, pages);
        Assert.Equal(all.Select(r => r!["id"]!.GetValue<long>()), seen);

        var (since, _, _) = await Audit(node, "&since=" + Uri.EscapeDataString("2022-05-11T23:50:00Z"));
        Assert.Equal("succeeded", S(Assert.Single(since), "outcome"));
        var (offset, _, _) = await Audit(node, "&since=" + Uri.EscapeDataString(ServiceFixture.PinnedTime.ToOffset(TimeSpan.FromHours(2)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(6, offset.Count);
        // "+" typed unescaped in a URL arrives as a space; it is still the offset.
        Assert.Equal(6, (await Audit(node, "&since=2022-05-11T23:00:00+00:00")).Records.Count);
        Assert.Single((await Audit(node, "&since=2022-05-12 01:50:00+02:00")).Records);
        var (sincePaged, _, sinceBody) = await Audit(node, "&limit=1&since=" + Uri.EscapeDataString("2022-05-11T23:00:00+00:00"));
        Assert.Single(sincePaged);
        Assert.Contains("since=", sinceBody["nextLink"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("&limit=0", "limit")]
    [InlineData("&limit=1001", "limit")]
    [InlineData("&limit=ten", "limit")]
    [InlineData("&since=yesterday", "since")]
    [InlineData("&since=2022-05-11", "since")]
    [InlineData("&since=2022-05-11T23:00:00", "since")]
    [InlineData("&since=2022-05-11T23:00:00%2B0200", "since")]
    [InlineData("&after=-1", "after")]
    public async Task Bad_parameters_are_400_InvalidParameter_naming_the_parameter(string query, string parameter)
    {
        var node = await StartNode();
        var (status, body, _) = await Call(node, HttpMethod.Get, "/audit?" + Api + query);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", S(body["error"], "code"));
        Assert.StartsWith(parameter + ":", S(body["error"], "message"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_administrators_read_the_trail()
    {
        var node = await StartNode();
        Assert.Equal(HttpStatusCode.OK, (await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateUnsigned(Policy))).Status);
        var (anonymous, body, _) = await Call(node, HttpMethod.Get, "/audit?" + Api, bearer: null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous);
        Assert.Equal("Unauthorized", S(body["error"], "code"));
        Assert.DoesNotContain("value", body.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Call(node, HttpMethod.Get, "/audit?" + Api, bearer: "wrong")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Call(node, HttpMethod.Get, "/audit")).Status);

        // Reading is no management operation: the trail still holds the one change.
        Assert.Single((await Audit(node)).Records);
    }

    [Fact]
    public async Task Records_survive_a_restart()
    {
        var node = await StartNode();
        Assert.Equal(HttpStatusCode.OK, (await Call(node, HttpMethod.Put, "/policies/OpenEnclave?" + Api, PolicyJws.CreateUnsigned(Policy))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Call(node, HttpMethod.Put, "/policies/OpenEnclave?" + Api, "x", bearer: null)).Status);
        var before = (await Audit(node)).Raw;
        await node.StopKeepingDataAsync();

        var restarted = await StartNode();
        var (records, raw, _) = await Audit(restarted);
        Assert.Equal(before, raw);
        Assert.Equal(2, records.Count);
    }

    [Fact]
    public async Task Refused_records_are_bounded_and_successful_changes_are_always_kept()
    {
        var node = await StartNode(o => o with { MaxRefusedAuditRecords = 3 });
        Assert.Equal(HttpStatusCode.OK, (await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateUnsigned(Policy))).Status);
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            var (status, _, id) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, "x", bearer: null);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            ids.Add(id);
        }

        Assert.Equal(HttpStatusCode.OK, (await Call(node, HttpMethod.Post, "/policies/SgxEnclave:reset?" + Api, PolicyJws.CreateUnsigned(null))).Status);
        var (records, _, body) = await Audit(node);
        Assert.Equal(new string?[] { "succeeded", "refused", "refused", "refused", "succeeded" }, records.Select(r => S(r, "outcome")));
        Assert.Equal(ids[^3..], records.Where(r => S(r, "outcome") == "refused").Select(r => S(r, "requestId")));
        Assert.Equal(4, body["refusedPruned"]!.GetValue<long>());
    }

    [Fact]
    public async Task Each_operation_is_one_structured_log_event_with_the_record_fields_and_no_secret()
    {
        var logs = new CapturingLoggerProvider();
        var node = await StartNode(o => o with { LoggerProviders = [logs] });
        var policy = PolicyJws.CreateUnsigned(Policy);
        var (_, _, setId) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, policy);
        var (_, _, refusedId) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, policy, bearer: "wrong-token");

        var events = logs.Entries.Where(e => e.Category == "Veritee.Service.Audit").ToList();
        Assert.Equal(2, events.Count);
        string? Field(int i, string name) => events[i].Fields.Single(f => f.Key == name).Value as string;
        Assert.Equal(["succeeded", "refused"], events.Select((_, i) => Field(i, "Outcome")));
        Assert.Equal([setId, refusedId], events.Select((_, i) => Field(i, "RequestId")));
        Assert.Equal(PolicyJws.PolicyHash(Policy), Field(0, "NewPolicyHash"));
        Assert.Equal(PolicyJws.PolicyHash(DefaultPolicies.Sgx), Field(0, "OldPolicyHash"));
        Assert.Equal(AdminFingerprint, Field(0, "Caller"));
        Assert.Equal("Unauthorized", Field(1, "ErrorCode"));
        foreach (var secret in new[] { Policy, policy, ServiceFixture.AdminToken, "wrong-token" })
        {
            Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_body_over_the_management_limit_is_recorded_as_RequestEntityTooLarge()
    {
        var node = await StartNode(o => o with { MaxManagementRequestBodyBytes = 1024 });
        var (status, body, _) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateUnsigned(Policy + new string(' ', 4096)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        var record = Assert.Single((await Audit(node)).Records);
        Assert.Equal("RequestEntityTooLarge", S(record, "errorCode"));
        Assert.Equal(AdminFingerprint, S(record, "caller"));
        Assert.Equal("RequestEntityTooLarge", S(body["error"], "code"));
    }

    [Fact]
    public async Task Reading_the_trail_counts_against_the_per_client_rate_limit()
    {
        var node = await StartNode(o => o with { PerClientRequestsPerSecond = 2 });
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            statuses.Add((await Call(node, HttpMethod.Get, "/audit?" + Api)).Status);
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
    }

    [Fact]
    public async Task A_refused_attempt_whose_record_cannot_be_written_keeps_its_4xx()
    {
        CountingStore? store = null;
        var node = await StartNode(o => o with { StoreDecorator = inner => store = new CountingStore(inner) });
        store!.FailAuditAppends = true;
        var (status, body, _) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, "x", bearer: null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Unauthorized", S(body["error"], "code"));
        var (wrongSigner, wrongBody, _) = await Call(node, HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateUnsigned("version=1.0; nonsense"));
        Assert.Equal(HttpStatusCode.BadRequest, wrongSigner);
        Assert.Equal("PolicyParsingError", S(wrongBody["error"], "code"));
        Assert.Empty((await Audit(node)).Records);
    }
}

public sealed class SqliteAuditTrailTests : AuditTrailTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "veritee-audit-" + Guid.NewGuid().ToString("N"));

    // Every node of a test opens the same SQLite file as the same instance (a restart, or two nodes on one file).
    protected override ServiceOptions OnStore(ServiceOptions options) => options with { DataDirectory = _folder, InstanceUrl = "http://audit.sqlite.test" };

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}

public sealed class PostgresAuditTrailTests(PostgresFixture postgres) : AuditTrailTests, IClassFixture<PostgresFixture>
{
    private readonly string _database = "a" + Guid.NewGuid().ToString("N");

    public override Task InitializeAsync()
    {
        postgres.Server.CreateDatabase(_database);
        return Task.CompletedTask;
    }

    protected override ServiceOptions OnStore(ServiceOptions options) =>
        options with { PostgresConnectionString = postgres.Server.ConnectionString(_database), InstanceUrl = "https://attest.cluster.test", KeyEncryptionKey = PostgresNode.SharedKek };

    [Fact]
    public async Task Two_nodes_of_one_store_share_one_trail()
    {
        var nodes = new[] { new PostgresNode(postgres.Server.ConnectionString(_database)), new PostgresNode(postgres.Server.ConnectionString(_database)) };
        try
        {
            await Task.WhenAll(nodes.Select(n => n.InitializeAsync()));
            Assert.Equal(HttpStatusCode.OK, (await nodes[0].Send(HttpMethod.Put, "/policies/SgxEnclave?" + Api, PolicyJws.CreateUnsigned(Policy), "text/plain", admin: true)).Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await nodes[1].Send(HttpMethod.Post, "/policies/SgxEnclave:reset?" + Api, PolicyJws.CreateUnsigned(null), "text/plain")).Status);
            Assert.Equal(HttpStatusCode.OK, (await nodes[1].Send(HttpMethod.Post, "/policies/SgxEnclave:reset?" + Api, PolicyJws.CreateUnsigned(null), "text/plain", admin: true)).Status);

            var (fromA, rawA, _) = await Audit(nodes[0]);
            var (_, rawB, _) = await Audit(nodes[1]);
            Assert.Equal(rawA, rawB);
            Assert.Equal(new string?[] { "policy.set", "policy.reset", "policy.reset" }, fromA.Select(r => S(r, "operation")));

            // The reset on node B replaced what node A set.
            Assert.Equal(PolicyJws.PolicyHash(Policy), S(fromA[2], "oldPolicyHash"));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }
}
