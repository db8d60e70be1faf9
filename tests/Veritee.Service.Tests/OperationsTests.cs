using System.Net;
using System.Text.Json.Nodes;
using Veritee.Service.Store;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>A store that counts readiness pings and passes everything to the real one.</summary>
public sealed class CountingStore(IServiceStore inner) : IServiceStore
{
    private int _pings;

    public int Pings => Volatile.Read(ref _pings);

    public Task PingAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _pings);
        return inner.PingAsync(cancellationToken);
    }

    public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

    private int _policyReads;

    /// <summary>Policy rows read (not version checks).</summary>
    public int PolicyReads => Volatile.Read(ref _policyReads);

    public Task<StoredPolicy?> GetPolicyAsync(string attestationType, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _policyReads);
        return inner.GetPolicyAsync(attestationType, cancellationToken);
    }

    public ValueTask<long?> GetPolicyVersionAsync(CancellationToken cancellationToken) => inner.GetPolicyVersionAsync(cancellationToken);

    public Task SetPolicyAsync(StoredPolicy policy, AuditRecord? audit, CancellationToken cancellationToken) => inner.SetPolicyAsync(policy, audit, cancellationToken);

    public Task<bool> RemovePolicyAsync(string attestationType, AuditRecord? audit, CancellationToken cancellationToken) => inner.RemovePolicyAsync(attestationType, audit, cancellationToken);

    public Task<(byte[] Pkcs8, byte[] Certificate)?> GetInstanceKeyAsync(CancellationToken cancellationToken) => inner.GetInstanceKeyAsync(cancellationToken);

    public Task InsertInstanceKeyIfAbsentAsync(byte[] pkcs8, byte[] certificate, CancellationToken cancellationToken) => inner.InsertInstanceKeyIfAbsentAsync(pkcs8, certificate, cancellationToken);

    public Task<bool> ReplaceInstanceKeyAsync(byte[] expected, byte[] replacement, CancellationToken cancellationToken) => inner.ReplaceInstanceKeyAsync(expected, replacement, cancellationToken);

    public Task<bool> RollInstanceKeyAsync(InstanceKeyRoll roll, CancellationToken cancellationToken) => inner.RollInstanceKeyAsync(roll, cancellationToken);

    public Task<IReadOnlyList<RetiredInstanceKey>> GetRetiredInstanceKeysAsync(CancellationToken cancellationToken) => inner.GetRetiredInstanceKeysAsync(cancellationToken);

    public Task<IReadOnlyList<byte[]>> GetSignersAsync(CancellationToken cancellationToken) => inner.GetSignersAsync(cancellationToken);

    public Task AddSignerAsync(string thumbprint, byte[] certificate, AuditRecord? audit, CancellationToken cancellationToken) => inner.AddSignerAsync(thumbprint, certificate, audit, cancellationToken);

    public Task<bool> RemoveSignerAsync(string thumbprint, AuditRecord? audit, CancellationToken cancellationToken) => inner.RemoveSignerAsync(thumbprint, audit, cancellationToken);

    /// <summary>When set, writing the record of a refused attempt fails as a broken store would.</summary>
    public bool FailAuditAppends { get; set; }

    public Task AppendAuditAsync(AuditRecord record, int maxRefused, CancellationToken cancellationToken) =>
        FailAuditAppends ? throw new Microsoft.Data.Sqlite.SqliteException("disk I/O error", 10) : inner.AppendAuditAsync(record, maxRefused, cancellationToken);

    public Task<AuditPage> GetAuditAsync(AuditQuery query, CancellationToken cancellationToken) => inner.GetAuditAsync(query, cancellationToken);

    public Task<(byte[][] Parts, DateTimeOffset FetchedAt)?> GetCollateralAsync(string key, CancellationToken cancellationToken) => inner.GetCollateralAsync(key, cancellationToken);

    public Task PutCollateralAsync(string key, byte[][] parts, DateTimeOffset fetchedAt, CancellationToken cancellationToken) => inner.PutCollateralAsync(key, parts, fetchedAt, cancellationToken);
}

/// <summary>A node at --rate-limit 5 (the operational endpoints keep their default budget of 10/s per client).</summary>
public sealed class RateFiveServiceFixture : ServiceFixture
{
    protected override ServiceOptions Configure(ServiceOptions options) => options with { PerClientRequestsPerSecond = 5 };
}

public sealed class OperationalLimitTests(RateFiveServiceFixture service) : IClassFixture<RateFiveServiceFixture>
{
    [Theory]
    [InlineData(VeriteeServer.LivePath)]
    [InlineData(VeriteeServer.ReadyPath)]
    [InlineData("/metrics")]
    public async Task A_flood_of_probe_or_scrape_requests_from_one_client_is_limited_with_the_envelope(string path)
    {
        // The three cases share the client's operational bucket: start once it has refilled enough to serve.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        HttpStatusCode first;
        do
        {
            using var probe = await service.Http.GetAsync(service.BaseUrl + path);
            first = probe.StatusCode;
            if (first != HttpStatusCode.OK)
            {
                await Task.Delay(200);
            }
        }
        while (first != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, first);

        HttpResponseMessage? rejected = null;
        for (var i = 0; i < 200 && rejected is null; i++)
        {
            var response = await service.Http.GetAsync(service.BaseUrl + path);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                rejected = response;
            }
            else
            {
                response.Dispose();
            }
        }

        Assert.NotNull(rejected);
        using (rejected)
        {
            Assert.NotNull(rejected.Headers.RetryAfter);
            Envelope.AssertError((JsonObject)JsonNode.Parse(await rejected.Content.ReadAsStringAsync())!, MaaErrorCodes.TooManyRequests);
        }

        // Probes have a budget of their own: the flood did not spend the client's service budget.
        using var certs = await service.Http.GetAsync(service.BaseUrl + "/certs");
        Assert.Equal(HttpStatusCode.OK, certs.StatusCode);
    }
}

/// <summary>A node whose store counts pings, with the operational limits off (so every probe reaches the handler).</summary>
public sealed class CountedStoreServiceFixture : ServiceFixture
{
    public CountingStore? Store { get; private set; }

    protected override ServiceOptions Configure(ServiceOptions options) =>
        options with { OpsRequestsPerSecond = 0, OpsMaxConcurrentRequests = 0, StoreDecorator = inner => Store = new CountingStore(inner) };
}

public sealed class ReadinessCacheTests(CountedStoreServiceFixture service) : IClassFixture<CountedStoreServiceFixture>
{
    [Fact]
    public async Task Many_readiness_probes_ping_the_store_about_once_a_second()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var before = service.Store!.Pings;
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            var ok = 0;
            for (var i = 0; i < 10; i++)
            {
                using var response = await service.Http.GetAsync(service.BaseUrl + VeriteeServer.ReadyPath);
                ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
            }

            return ok;
        }));
        var pings = service.Store.Pings - before;
        Assert.Equal(200, answers.Sum());

        // One ping per started second of the flood (plus one for a window open when it began), not one per probe.
        var bound = (int)Math.Ceiling(watch.Elapsed.TotalSeconds / StoreProbe.CacheFor.TotalSeconds) + 1;
        Assert.True(pings >= 1 && pings <= bound, $"{pings} store pings for 200 probes in {watch.Elapsed.TotalSeconds:F1} s");
    }
}

/// <summary>A node that serves /health/* and /metrics on a port of their own.</summary>
public sealed class OpsPortServiceFixture : ServiceFixture
{
    public string OpsUrl { get; } = Loopback.HttpUrl();

    protected override ServiceOptions Configure(ServiceOptions options) => options with { OpsUrls = OpsUrl };
}

public sealed class OpsPortTests(OpsPortServiceFixture service) : IClassFixture<OpsPortServiceFixture>
{
    private async Task<(HttpStatusCode Status, JsonObject Body)> Get(string url)
    {
        using var response = await service.Http.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.StartsWith('{') ? (JsonObject)JsonNode.Parse(text)! : new JsonObject { ["text"] = text });
    }

    [Fact]
    public async Task Probes_and_metrics_move_to_the_ops_port_and_the_service_stays_on_the_main_one()
    {
        foreach (var path in new[] { VeriteeServer.LivePath, VeriteeServer.ReadyPath, "/metrics" })
        {
            var (ops, _) = await Get(service.OpsUrl + path);
            Assert.Equal(HttpStatusCode.OK, ops);
            var (main, mainBody) = await Get(service.BaseUrl + path);
            Assert.Equal(HttpStatusCode.NotFound, main);
            Envelope.AssertError(mainBody, MaaErrorCodes.NotFound);
        }

        var (certs, _) = await Get(service.BaseUrl + "/certs");
        Assert.Equal(HttpStatusCode.OK, certs);
        foreach (var path in new[] { "/certs", "/.well-known/openid-configuration", "/policies/SgxEnclave?api-version=2022-08-01" })
        {
            var (ops, opsBody) = await Get(service.OpsUrl + path);
            Assert.Equal(HttpStatusCode.NotFound, ops);
            Envelope.AssertError(opsBody, MaaErrorCodes.NotFound);
        }
    }

    [Fact]
    public async Task An_ops_address_on_a_service_port_or_without_a_port_is_refused()
    {
        var data = Path.Combine(Path.GetTempPath(), "veritee-ops-" + Guid.NewGuid().ToString("N"));
        try
        {
            var url = Loopback.HttpUrl();
            var options = new ServiceOptions { InstanceUrl = url, DataDirectory = data, AdminToken = "x" };
            var shared = await Assert.ThrowsAsync<ArgumentException>(() => VeriteeServer.BuildAsync(options with { OpsUrls = url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) }, url));
            Assert.Contains("share port", shared.Message, StringComparison.Ordinal);
            var dynamic = await Assert.ThrowsAsync<ArgumentException>(() => VeriteeServer.BuildAsync(options with { OpsUrls = "http://127.0.0.1:0" }, url));
            Assert.Contains("explicit port", dynamic.Message, StringComparison.Ordinal);

            // Refused before anything was created.
            Assert.False(Directory.Exists(data));
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(data, recursive: true);
            }
        }
    }
}

/// <summary>A policy with a NUL character is a permanent input error on every store: 400, and nothing changes.</summary>
public sealed class NulPolicyTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private static string UnsignedPolicy(string policy) =>
        "eyJhbGciOiJub25lIn0." + System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(
            "{\"AttestationPolicy\":\"" + System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(policy)) + "\"}")) + ".";

    private static async Task AssertRefusedAndUnchanged(ServiceFixture node)
    {
        const string Path = "/policies/SgxEnclave?api-version=2022-08-01";
        var (ok, _) = await node.Send(HttpMethod.Put, Path, UnsignedPolicy("version=1.0; authorizationrules{=> permit();}; issuancerules{=> issue(type=\"kept\", value=\"yes\");};"), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.OK, ok);
        var (_, before) = await node.Send(HttpMethod.Get, Path, admin: true);

        var (status, body) = await node.Send(HttpMethod.Put, Path, UnsignedPolicy("version=1.0; authorizationrules{=> permit();}; issuancerules{=> issue(type=\"x\", value=\"a\0b\");};"), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Envelope.AssertError(body, MaaErrorCodes.InvalidParameter);
        Assert.Contains("NUL", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var (_, after) = await node.Send(HttpMethod.Get, Path, admin: true);
        Assert.Equal(Jwt.Claims(before["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>(), Jwt.Claims(after["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>());
    }

    [Fact]
    public async Task On_SQLite()
    {
        var node = new ServiceFixture();
        await node.InitializeAsync();
        try
        {
            await AssertRefusedAndUnchanged(node);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task On_PostgreSQL()
    {
        var database = "nul" + Guid.NewGuid().ToString("N");
        postgres.Server.CreateDatabase(database);
        var node = new PostgresNode(postgres.Server.ConnectionString(database));
        await node.InitializeAsync();
        try
        {
            await AssertRefusedAndUnchanged(node);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }
}

/// <summary>A node whose TLS certificate comes from PEM files that the test replaces.</summary>
public sealed class TlsReloadTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "veritee-tls-" + Guid.NewGuid().ToString("N"));
    private Microsoft.AspNetCore.Builder.WebApplication? _app;
    private string _url = string.Empty;

    private string CertPath => Path.Combine(_folder, "tls.crt");

    private string KeyPath => Path.Combine(_folder, "tls.key");

    private void WritePair(System.Security.Cryptography.X509Certificates.X509Certificate2 cert)
    {
        // Written as a renewal tool does: certificate first, then key (a check between the two sees a mismatched pair).
        File.WriteAllText(CertPath, cert.ExportCertificatePem());
        File.WriteAllText(KeyPath, System.Security.Cryptography.X509Certificates.RSACertificateExtensions.GetRSAPrivateKey(cert)!.ExportPkcs8PrivateKeyPem());
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        using var first = Loopback.SelfSignedCertificate();
        WritePair(first);
        _url = $"https://127.0.0.1:{Loopback.FreePort()}";
        var options = new ServiceOptions
        {
            InstanceUrl = _url,
            DataDirectory = Path.Combine(_folder, "data"),
            AdminToken = "x",
            TlsCertificatePath = CertPath,
            TlsKeyPath = KeyPath,
        };
        _app = await VeriteeServer.BuildAsync(options, _url, new FixedClock(ServiceFixture.PinnedTime));
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>A request on a fresh connection: the server certificate it presented and the response.</summary>
    private async Task<(byte[] Certificate, HttpResponseMessage Response)> Fresh(string path)
    {
        byte[]? seen = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
            {
                seen = cert!.RawData;
                return true;
            },
        };
        using var http = new HttpClient(handler);
        var response = await http.GetAsync(_url + path);
        await response.Content.LoadIntoBufferAsync();
        return (seen!, response);
    }

    [Fact]
    public async Task A_replaced_certificate_is_served_to_new_connections_without_restart()
    {
        var (before, response) = await Fresh("/certs");
        response.Dispose();
        Assert.Equal(File.ReadAllText(CertPath).Trim(), System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(before).ExportCertificatePem().Trim());

        using var renewed = Loopback.SelfSignedCertificate();
        WritePair(renewed);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        byte[] now;
        do
        {
            (now, response) = await Fresh("/certs");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
            if (!now.AsSpan().SequenceEqual(renewed.RawData))
            {
                await Task.Delay(200);
            }
        }
        while (!now.AsSpan().SequenceEqual(renewed.RawData) && DateTime.UtcNow < deadline);
        Assert.Equal(renewed.RawData, now);
    }

    [Fact]
    public async Task Answers_over_https_carry_HSTS_and_no_Server_header_errors_included()
    {
        foreach (var path in new[] { "/certs", "/no-such-path", VeriteeServer.LivePath })
        {
            var (_, response) = await Fresh(path);
            using (response)
            {
                Assert.True(response.Headers.TryGetValues("Strict-Transport-Security", out var hsts), path);
                Assert.StartsWith("max-age=", Assert.Single(hsts), StringComparison.Ordinal);
                Assert.False(response.Headers.Contains("Server"), path + ": " + string.Join(",", response.Headers.Server));
            }
        }
    }
}

public sealed class PlainHttpHeaderTests(RateLimitedServiceFixture service) : IClassFixture<RateLimitedServiceFixture>
{
    [Fact]
    public async Task No_answer_names_the_server_and_plain_http_has_no_HSTS()
    {
        var statuses = new HashSet<HttpStatusCode>();
        for (var i = 0; i < 8; i++)
        {
            using var response = await service.Http.GetAsync(service.BaseUrl + (i % 2 == 0 ? "/certs" : "/no-such-path"));
            statuses.Add(response.StatusCode);
            Assert.False(response.Headers.Contains("Server"), $"{response.StatusCode}: {string.Join(",", response.Headers.Server)}");
            Assert.False(response.Headers.Contains("Strict-Transport-Security"));
        }

        // 200, 404 and (the fixture allows 1 request/s with a burst of 3) 429 were all seen.
        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
    }
}

/// <summary>Nodes that log client addresses each way.</summary>
public sealed class ClientAddressLogTests
{
    private sealed class Node(ClientAddressLogging? mode) : ServiceFixture
    {
        public CapturingLoggerProvider Logs { get; } = new();

        protected override ServiceOptions Configure(ServiceOptions options) =>
            mode is { } m ? options with { LoggerProviders = [Logs], LogClientAddress = m } : options with { LoggerProviders = [Logs] };
    }

    private static async Task<string> LoggedClient(ClientAddressLogging? mode)
    {
        var node = new Node(mode);
        await node.InitializeAsync();
        try
        {
            // A failed request: logged at Information, with the client.
            var (status, _) = await node.Send(HttpMethod.Get, "/no-such-path");
            Assert.Equal(HttpStatusCode.NotFound, status);
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (!node.Logs.Entries.Any(e => e.Category == "Veritee.Service.Requests") && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            var entry = node.Logs.Entries.First(e => e.Category == "Veritee.Service.Requests");
            Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Information, entry.Level);
            return (string)entry.Fields.First(f => f.Key == "Client").Value!;
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_default_logs_a_keyed_hash_not_the_address()
    {
        var client = await LoggedClient(null);
        Assert.Matches("^h:[0-9a-f]{16}$", client);
        Assert.DoesNotContain("127.0.0.1", client, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_logs_the_address_and_off_logs_none()
    {
        Assert.Equal("127.0.0.1", await LoggedClient(ClientAddressLogging.On));
        Assert.Equal("-", await LoggedClient(ClientAddressLogging.Off));
        Assert.Matches("^h:[0-9a-f]{16}$", await LoggedClient(ClientAddressLogging.Hash));
    }
}
