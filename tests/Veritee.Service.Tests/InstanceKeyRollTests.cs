using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using LogEntry = (string Category, Microsoft.Extensions.Logging.LogLevel Level, string Message, System.Collections.Generic.IReadOnlyList<System.Collections.Generic.KeyValuePair<string, object?>> Fields);

namespace Veritee.Service.Tests;

/// <summary>A node that reads its stored key often, so that a roll is seen within the test's patience.</summary>
public sealed class RollingKeyServiceFixture : ServiceFixture
{
    public CapturingLoggerProvider Logs { get; } = new();

    protected override ServiceOptions Configure(ServiceOptions options) =>
        options with { InstanceKeyRefreshInterval = TimeSpan.FromMilliseconds(100), LoggerProviders = [Logs] };
}

/// <summary>
/// <c>veritee store roll-key</c> against a running node (docs/operations.md, key rotation): the node signs with the new
/// key without a restart, <c>/certs</c> keeps the old key for its time so earlier tokens still validate, and a key taken
/// out at once (a leak) is gone from <c>/certs</c> while older rolled keys keep their time.
/// </summary>
public sealed class InstanceKeyRollTests(RollingKeyServiceFixture service) : IClassFixture<RollingKeyServiceFixture>
{
    private static string QuoteBase64 => System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));

    private ServiceOptions Admin => new() { InstanceUrl = "http://127.0.0.1", DataDirectory = service.DataDirectory };

    private async Task<string> AttestAsync()
    {
        var (status, body) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + QuoteBase64 + "\"}");
        Assert.Equal(HttpStatusCode.OK, status);
        return body["token"]!.GetValue<string>();
    }

    private async Task<JsonObject> CertsAsync() => (JsonObject)JsonNode.Parse(await service.Http.GetStringAsync(service.BaseUrl + "/certs"))!;

    private static string[] Kids(JsonObject jwks) => [.. jwks["keys"]!.AsArray().Select(k => k!["kid"]!.GetValue<string>())];

    /// <summary>Attests until the token is signed under <paramref name="kid"/> (the node's next key refresh), at most 10 s.</summary>
    private async Task<string> TokenSignedWith(string kid)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var token = await AttestAsync();
            if (Jwt.Header(token)["kid"]!.GetValue<string>() == kid || DateTime.UtcNow > deadline)
            {
                return token;
            }

            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_running_node_signs_with_the_rolled_key_and_publishes_the_old_one_for_its_time()
    {
        var first = await AttestAsync();
        var before = await CertsAsync();
        var k1 = Assert.Single(Kids(before));
        Assert.Equal(k1, Jwt.Header(first)["kid"]!.GetValue<string>());

        // Rolled at the node's own (pinned) time, so the old key's time in /certs is measured on the node's clock.
        var roll = await VeriteeServer.RollInstanceKeyAsync(Admin, TimeSpan.FromHours(8), ServiceFixture.PinnedTime);
        Assert.Equal(k1, roll.OldKid);
        Assert.NotEqual(k1, roll.NewKid);
        Assert.Equal(ServiceFixture.PinnedTime.AddHours(8), roll.OldPublishedUntil);

        var second = await TokenSignedWith(roll.NewKid);
        Assert.Equal(roll.NewKid, Jwt.Header(second)["kid"]!.GetValue<string>());
        Assert.Equal(service.BaseUrl, Jwt.Claims(second)["iss"]!.GetValue<string>());
        var after = await CertsAsync();
        Assert.Equal([roll.NewKid, k1], Kids(after));
        Assert.True(Jwt.VerifiesWith(first, after), "a token of the old key still validates against /certs");
        Assert.True(Jwt.VerifiesWith(second, after));
        Assert.Contains(service.Logs.Entries, e => e.Category == "Veritee.Service.InstanceKey" && e.Message.Contains(roll.NewKid, StringComparison.Ordinal));

        // A routine roll keeps the key rolled out before for its own time; the latest end time is listed first.
        var routine = await VeriteeServer.RollInstanceKeyAsync(Admin, TimeSpan.FromHours(9), ServiceFixture.PinnedTime);
        Assert.Equal([k1], routine.StillPublished);
        var third = await TokenSignedWith(routine.NewKid);
        Assert.Equal(routine.NewKid, Jwt.Header(third)["kid"]!.GetValue<string>());
        Assert.Equal([routine.NewKid, roll.NewKid, k1], Kids(await CertsAsync()));

        // A key that may have leaked is taken out at once, and with it every key it vouched for.
        var leak = await VeriteeServer.RollInstanceKeyAsync(Admin, TimeSpan.Zero, ServiceFixture.PinnedTime);
        Assert.Equal(routine.NewKid, leak.OldKid);
        Assert.Null(leak.OldPublishedUntil);
        Assert.Empty(leak.StillPublished);
        var fourth = await TokenSignedWith(leak.NewKid);
        Assert.Equal(leak.NewKid, Jwt.Header(fourth)["kid"]!.GetValue<string>());
        var now = await CertsAsync();
        Assert.Equal([leak.NewKid], Kids(now));
        Assert.True(Jwt.VerifiesWith(fourth, now));
        Assert.ThrowsAny<InvalidOperationException>(() => Jwt.VerifiesWith(first, now));
    }
}

/// <summary>Rolls on stores no node runs on at the time: refusals change nothing, a restart publishes what the store keeps.</summary>
public sealed class InstanceKeyRollStoreTests(PostgresFixture postgres) : StoreFolderTests, IClassFixture<PostgresFixture>
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_790_000_000);

    private ServiceOptions Sqlite(byte[]? kek) => new() { InstanceUrl = "https://attest.example", DataDirectory = Folder, KeyEncryptionKey = kek };

    /// <summary>The kids a node built on <paramref name="options"/> publishes at <paramref name="at"/>, signing key first.</summary>
    private static async Task<string[]> PublishedKids(ServiceOptions options, DateTimeOffset at)
    {
        var app = await VeriteeServer.BuildAsync(options, "http://127.0.0.1:0");
        await using (app.ConfigureAwait(false))
        {
            var ring = (InstanceKeyRing)app.Services.GetService(typeof(InstanceKeyRing))!;
            return [.. ring.Keys(at).Select(k => k!["kid"]!.GetValue<string>())];
        }
    }

    /// <summary>A running SQLite node that reads its stored key every 100 ms, with its key ring and captured logs.</summary>
    private async Task<(Microsoft.AspNetCore.Builder.WebApplication App, InstanceKeyRing Ring, CapturingLoggerProvider Logs)> StartFollowingNodeAsync(byte[] kek)
    {
        var logs = new CapturingLoggerProvider();
        var app = await VeriteeServer.BuildAsync(Sqlite(kek) with { InstanceKeyRefreshInterval = TimeSpan.FromMilliseconds(100), LoggerProviders = [logs] }, "http://127.0.0.1:0");
        await app.StartAsync();
        return (app, (InstanceKeyRing)app.Services.GetService(typeof(InstanceKeyRing))!, logs);
    }

    [Fact]
    public async Task A_restarted_node_signs_with_the_rolled_key_and_publishes_the_old_one_until_its_time_ends()
    {
        var kek = RandomNumberGenerator.GetBytes(32);
        var k1 = Assert.Single(await PublishedKids(Sqlite(kek), Now));

        var roll = await VeriteeServer.RollInstanceKeyAsync(Sqlite(kek), TimeSpan.FromHours(1), Now);

        Assert.Equal(k1, roll.OldKid);
        Assert.Equal([roll.NewKid, k1], await PublishedKids(Sqlite(kek), Now.AddMinutes(59)));
        Assert.Equal([roll.NewKid], await PublishedKids(Sqlite(kek), Now.AddHours(1)));
    }

    [Fact]
    public async Task Rolled_out_keys_the_signing_key_did_not_sign_are_never_published()
    {
        var kek = RandomNumberGenerator.GetBytes(32);
        var k1 = Assert.Single(await PublishedKids(Sqlite(kek), Now));
        var roll = await VeriteeServer.RollInstanceKeyAsync(Sqlite(kek), TimeSpan.FromHours(1), Now);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        // Someone who can write to the store but holds no key: keeps the key row, rewrites the list of rolled-out keys.
        var store = new Veritee.Service.Store.SqliteServiceStore(Path.Combine(Folder, "veritee.db"));
        var row = (await store.GetInstanceKeyAsync(CancellationToken.None))!.Value;
        var genuine = Assert.Single(await store.GetRetiredInstanceKeysAsync(CancellationToken.None));
        using var intruder = InstanceSigningKey.Create("https://attest.example", Now);
        var forged = InstanceKeyRing.SignRetired(intruder, intruder.Kid, intruder.Certificate.RawData, Now.AddHours(1));
        var extended = genuine with { PublishedUntil = Now.AddYears(1) };
        Assert.True(await store.RollInstanceKeyAsync(new Veritee.Service.Store.InstanceKeyRoll(row.Pkcs8, row.Pkcs8, row.Certificate, [genuine with { Kid = "k1-copy" }, forged]), CancellationToken.None));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.Equal([roll.NewKid], await PublishedKids(Sqlite(kek), Now));

        Assert.True(await store.RollInstanceKeyAsync(new Veritee.Service.Store.InstanceKeyRoll(row.Pkcs8, row.Pkcs8, row.Certificate, [extended]), CancellationToken.None));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.Equal([roll.NewKid], await PublishedKids(Sqlite(kek), Now));

        // The genuine entry put back is published again, for its own time only.
        Assert.True(await store.RollInstanceKeyAsync(new Veritee.Service.Store.InstanceKeyRoll(row.Pkcs8, row.Pkcs8, row.Certificate, [genuine]), CancellationToken.None));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.Equal([roll.NewKid, k1], await PublishedKids(Sqlite(kek), Now));
        Assert.Equal([roll.NewKid], await PublishedKids(Sqlite(kek), Now.AddHours(2)));
    }

    [Fact]
    public async Task A_running_node_never_goes_back_to_a_key_it_rolled_away_from()
    {
        var kek = RandomNumberGenerator.GetBytes(32);
        var (app, ring, logs) = await StartFollowingNodeAsync(kek);
        try
        {
            var store = new Veritee.Service.Store.SqliteServiceStore(Path.Combine(Folder, "veritee.db"));
            var leaked = (await store.GetInstanceKeyAsync(CancellationToken.None))!.Value;
            var k1 = ring.Signing.Kid;

            var roll = await VeriteeServer.RollInstanceKeyAsync(Sqlite(kek), TimeSpan.Zero, Now);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (ring.Signing.Kid != roll.NewKid && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.Equal(roll.NewKid, ring.Signing.Kid);

            // The rolled-away key's sealed row written back (from a backup, say): the node keeps the new key.
            var current = (await store.GetInstanceKeyAsync(CancellationToken.None))!.Value;
            Assert.True(await store.RollInstanceKeyAsync(new Veritee.Service.Store.InstanceKeyRoll(current.Pkcs8, leaked.Pkcs8, leaked.Certificate, []), CancellationToken.None));
            static bool Refused(LogEntry e) => e.Category == "Veritee.Service.InstanceKey" && e.Message.Contains("a key this node rolled away from", StringComparison.Ordinal);
            deadline = DateTime.UtcNow.AddSeconds(10);
            while (!logs.Entries.Any(Refused) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.Contains(k1, logs.Entries.First(Refused).Message, StringComparison.Ordinal);
            Assert.Equal(roll.NewKid, ring.Signing.Kid);
            Assert.Equal([roll.NewKid], ring.Keys(Now).Select(k => k!["kid"]!.GetValue<string>()));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public void A_retired_entry_verifies_only_as_signed()
    {
        using var signer = InstanceSigningKey.Create("https://attest.example", Now);
        using var other = InstanceSigningKey.Create("https://attest.example", Now);
        var entry = InstanceKeyRing.SignRetired(signer, other.Kid, other.Certificate.RawData, Now.AddHours(8));
        Assert.True(InstanceKeyRing.VerifyRetired(signer, entry));
        Assert.False(InstanceKeyRing.VerifyRetired(other, entry));
        Assert.False(InstanceKeyRing.VerifyRetired(signer, entry with { Kid = entry.Kid + "x" }));
        Assert.False(InstanceKeyRing.VerifyRetired(signer, entry with { PublishedUntil = entry.PublishedUntil.AddSeconds(1) }));
        Assert.False(InstanceKeyRing.VerifyRetired(signer, entry with { Signature = entry.Signature[..^1] }));
        Assert.False(InstanceKeyRing.VerifyRetired(signer, entry with { Signature = [] }));
        for (var i = 0; i < entry.Certificate.Length; i += 97)
        {
            var flipped = (byte[])entry.Certificate.Clone();
            flipped[i] ^= 0x01;
            Assert.False(InstanceKeyRing.VerifyRetired(signer, entry with { Certificate = flipped }));
        }

        for (var i = 0; i < entry.Signature.Length; i += 13)
        {
            var flipped = (byte[])entry.Signature.Clone();
            flipped[i] ^= 0x80;
            Assert.False(InstanceKeyRing.VerifyRetired(signer, entry with { Signature = flipped }));
        }
    }

    [Fact]
    public async Task A_generated_key_encryption_key_is_found_in_the_dataFolder()
    {
        var k1 = Assert.Single(await PublishedKids(Sqlite(null), Now));
        var roll = await VeriteeServer.RollInstanceKeyAsync(Sqlite(null), TimeSpan.FromHours(1), Now);
        Assert.Equal(k1, roll.OldKid);
        Assert.Equal(roll.NewKid, (await PublishedKids(Sqlite(null), Now))[0]);
    }

    [Fact]
    public async Task A_wrong_key_encryption_key_no_store_or_a_mounted_key_change_nothing()
    {
        var kek = RandomNumberGenerator.GetBytes(32);
        var k1 = Assert.Single(await PublishedKids(Sqlite(kek), Now));

        var wrong = await Assert.ThrowsAsync<InvalidOperationException>(() => VeriteeServer.RollInstanceKeyAsync(Sqlite(RandomNumberGenerator.GetBytes(32)), TimeSpan.FromHours(1), Now));
        Assert.Contains("the key-encryption key does not open the stored instance key", wrong.Message, StringComparison.Ordinal);

        var empty = Path.Combine(Folder, "empty");
        var none = await Assert.ThrowsAsync<InvalidOperationException>(() => VeriteeServer.RollInstanceKeyAsync(Sqlite(kek) with { DataDirectory = empty }, TimeSpan.FromHours(1), Now));
        Assert.Contains("holds no Veritee store", none.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(empty));

        using var mounted = Veritee.TestSupport.Loopback.SelfSignedCertificate();
        var file = await Assert.ThrowsAsync<InvalidOperationException>(() => VeriteeServer.RollInstanceKeyAsync(Sqlite(kek) with { InstanceKeyCertificate = mounted }, TimeSpan.FromHours(1), Now));
        Assert.Contains("mounted PKCS#12 file", file.Message, StringComparison.Ordinal);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => VeriteeServer.RollInstanceKeyAsync(Sqlite(kek), TimeSpan.FromSeconds(-1), Now));
        Assert.Equal([k1], await PublishedKids(Sqlite(kek), Now));
    }

    [Fact]
    public async Task Nodes_on_one_PostgreSQL_database_switch_to_the_rolled_key_without_a_restart()
    {
        var database = "roll" + Guid.NewGuid().ToString("N");
        postgres.Server.CreateDatabase(database);
        var kek = RandomNumberGenerator.GetBytes(32);
        ServiceOptions Node(string name) => Sqlite(kek) with
        {
            DataDirectory = Path.Combine(Folder, name),
            PostgresConnectionString = postgres.Server.ConnectionString(database),
            InstanceKeyRefreshInterval = TimeSpan.FromMilliseconds(100),
        };

        var apps = new[] { await VeriteeServer.BuildAsync(Node("a"), "http://127.0.0.1:0"), await VeriteeServer.BuildAsync(Node("b"), "http://127.0.0.1:0") };
        try
        {
            foreach (var app in apps)
            {
                await app.StartAsync();
            }

            var rings = apps.Select(a => (InstanceKeyRing)a.Services.GetService(typeof(InstanceKeyRing))!).ToArray();
            var k1 = rings[0].Signing.Kid;
            Assert.Equal(k1, rings[1].Signing.Kid);

            var roll = await VeriteeServer.RollInstanceKeyAsync(Node("admin"), TimeSpan.FromHours(8), DateTimeOffset.UtcNow);

            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (rings.Any(r => r.Signing.Kid != roll.NewKid) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            foreach (var ring in rings)
            {
                Assert.Equal(roll.NewKid, ring.Signing.Kid);
                Assert.Equal([roll.NewKid, k1], ring.Keys(DateTimeOffset.UtcNow).Select(k => k!["kid"]!.GetValue<string>()));
            }
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_node_whose_key_encryption_key_no_longer_opens_the_store_keeps_signing_with_its_key_and_says_why()
    {
        var kek = RandomNumberGenerator.GetBytes(32);
        var (app, ring, logs) = await StartFollowingNodeAsync(kek);
        try
        {
            var k1 = ring.Signing.Kid;

            // Rekeyed, and this node not restarted: the key rolled after it is sealed under a key the node lacks.
            var newKek = RandomNumberGenerator.GetBytes(32);
            await VeriteeServer.RekeyAsync(Sqlite(kek), newKek, Now);
            await VeriteeServer.RollInstanceKeyAsync(Sqlite(newKek), TimeSpan.FromHours(1), Now);

            static bool Refused(LogEntry e) => e.Category == "Veritee.Service.InstanceKey" && e.Message.Contains("does not open the rolled instance key", StringComparison.Ordinal);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!logs.Entries.Any(Refused) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            var warning = logs.Entries.First(Refused);
            Assert.Equal(LogLevel.Warning, warning.Level);
            Assert.Contains("does not open the rolled instance key", warning.Message, StringComparison.Ordinal);
            Assert.Contains(k1, warning.Message, StringComparison.Ordinal);
            Assert.Equal(k1, ring.Signing.Kid);

            // After three intervals without a good read the node is no longer ready: it may hold a leaked key.
            var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
                .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient();
            JsonNode? ready = null;
            var status = HttpStatusCode.OK;
            deadline = DateTime.UtcNow.AddSeconds(10);
            while (status == HttpStatusCode.OK && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
                using var response = await http.GetAsync(address + VeriteeServer.ReadyPath);
                status = response.StatusCode;
                ready = JsonNode.Parse(await response.Content.ReadAsStringAsync());
            }

            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.Equal("stale", ready!["checks"]!["instanceKey"]!["status"]!.GetValue<string>());
            Assert.Equal(k1, ready["checks"]!["instanceKey"]!["kid"]!.GetValue<string>());
            Assert.Contains("does not open the rolled instance key", ready["checks"]!["instanceKey"]!["error"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("ok", ready["checks"]!["store"]!["status"]!.GetValue<string>());
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
