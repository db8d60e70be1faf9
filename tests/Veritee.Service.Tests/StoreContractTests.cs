using Veritee.Service.Store;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>The same behaviour from every store: what one node writes, another reads whole.</summary>
public abstract class StoreContractTests : IAsyncLifetime
{
    protected abstract Task<IServiceStore> CreateStoreAsync();

    protected IServiceStore Store { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Store = await CreateStoreAsync();
        await Store.InitializeAsync(CancellationToken.None);
    }

    public abstract Task DisposeAsync();

    /// <summary>Another store on the same data (another node's, or another instance in this process).</summary>
    protected abstract IServiceStore OpenAnother();

    [Fact]
    public async Task The_policy_version_moves_with_every_policy_change_made_through_any_store_on_the_same_data()
    {
        var other = OpenAnother();
        try
        {
            var start = await Store.GetPolicyVersionAsync(CancellationToken.None);
            Assert.NotNull(start);
            await Store.GetSignersAsync(CancellationToken.None);
            Assert.Equal(start, await Store.GetPolicyVersionAsync(CancellationToken.None));

            var seen = new HashSet<long?> { start };
            async Task Moved(Func<Task> change)
            {
                await change();
                var now = await Store.GetPolicyVersionAsync(CancellationToken.None);
                Assert.True(seen.Add(now), $"the policy version stayed at {now} after a change");
                Assert.Equal(now, await other.GetPolicyVersionAsync(CancellationToken.None));
            }

            await Moved(() => other.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-1", "text-1", null), CancellationToken.None));
            await Moved(() => other.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-1", "text-1", null), CancellationToken.None));
            await Moved(() => other.SetPolicyAsync(new StoredPolicy("TdxVm", "jws-2", "text-2", "{\"kty\":\"RSA\"}"), CancellationToken.None));
            await Moved(() => other.RemovePolicyAsync("SgxEnclave", CancellationToken.None));
            await Moved(() => Store.RemovePolicyAsync("TdxVm", CancellationToken.None));
        }
        finally
        {
            if (other is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Initialize_is_idempotent()
    {
        await Store.InitializeAsync(CancellationToken.None);
        await Store.InitializeAsync(CancellationToken.None);
        Assert.Null(await Store.GetPolicyAsync("SgxEnclave", CancellationToken.None));
    }

    [Fact]
    public async Task Policies_are_set_replaced_and_removed()
    {
        await Store.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-1", "text-1", null), CancellationToken.None);
        await Store.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-2", "text-2", "{\"kty\":\"RSA\"}"), CancellationToken.None);
        var got = await Store.GetPolicyAsync("SgxEnclave", CancellationToken.None);
        Assert.Equal(new StoredPolicy("SgxEnclave", "jws-2", "text-2", "{\"kty\":\"RSA\"}"), got);
        Assert.Null(await Store.GetPolicyAsync("OpenEnclave", CancellationToken.None));
        Assert.True(await Store.RemovePolicyAsync("SgxEnclave", CancellationToken.None));
        Assert.False(await Store.RemovePolicyAsync("SgxEnclave", CancellationToken.None));
        Assert.Null(await Store.GetPolicyAsync("SgxEnclave", CancellationToken.None));
    }

    [Fact]
    public async Task Text_with_a_NUL_character_is_refused_alike_and_nothing_is_stored()
    {
        await Store.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-1", "text-1", null), CancellationToken.None);
        var refused = await Assert.ThrowsAsync<StoredTextException>(() => Store.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-2", "te\0xt", null), CancellationToken.None));
        Assert.Contains("NUL", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<StoredTextException>(() => Store.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-2", "text-2", "{\"x\":\"\0\"}"), CancellationToken.None));
        Assert.Equal(new StoredPolicy("SgxEnclave", "jws-1", "text-1", null), await Store.GetPolicyAsync("SgxEnclave", CancellationToken.None));
    }

    [Fact]
    public async Task The_first_instance_key_wins()
    {
        await Store.InsertInstanceKeyIfAbsentAsync([1, 2], [3], CancellationToken.None);
        await Store.InsertInstanceKeyIfAbsentAsync([9, 9], [9], CancellationToken.None);
        var key = await Store.GetInstanceKeyAsync(CancellationToken.None);
        Assert.Equal(new byte[] { 1, 2 }, key!.Value.Pkcs8);
        Assert.Equal(new byte[] { 3 }, key.Value.Certificate);
    }

    [Fact]
    public async Task Signers_keep_order_and_the_last_cannot_be_removed()
    {
        await Store.AddSignerAsync("AA", [1], CancellationToken.None);
        await Store.AddSignerAsync("BB", [2], CancellationToken.None);
        await Store.AddSignerAsync("AA", [1], CancellationToken.None);
        Assert.Equal([[1], [2]], await Store.GetSignersAsync(CancellationToken.None));
        Assert.False(await Store.RemoveSignerAsync("CC", CancellationToken.None));
        Assert.True(await Store.RemoveSignerAsync("AA", CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.RemoveSignerAsync("BB", CancellationToken.None));
        Assert.Equal([[2]], await Store.GetSignersAsync(CancellationToken.None));
    }

    private static AuditRecord Record(string operation, string outcome = AuditRecord.Succeeded, string? type = "SgxEnclave") => new()
    {
        Time = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
        Operation = operation,
        AttestationType = type,
        TrustModel = "Aad",
        Outcome = outcome,
    };

    [Fact]
    public async Task A_change_and_its_audit_record_commit_together()
    {
        await Store.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-1", "text-1", null), Record("policy.set"), CancellationToken.None);

        // A record the store cannot write (no operation) takes the change down with it.
        await Assert.ThrowsAnyAsync<Exception>(() => Store.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-2", "text-2", null), Record(null!), CancellationToken.None));
        await Assert.ThrowsAnyAsync<Exception>(() => Store.RemovePolicyAsync("SgxEnclave", Record(null!), CancellationToken.None));
        await Assert.ThrowsAnyAsync<Exception>(() => Store.AddSignerAsync("AA", [1], Record(null!, type: null), CancellationToken.None));
        Assert.Equal("text-1", (await Store.GetPolicyAsync("SgxEnclave", CancellationToken.None))!.PolicyText);
        Assert.Empty(await Store.GetSignersAsync(CancellationToken.None));

        var page = await Store.GetAuditAsync(new AuditQuery(null, 0, 10), CancellationToken.None);
        var only = Assert.Single(page.Records);
        Assert.Equal(Veritee.Tokens.PolicyJws.PolicyHash(Veritee.Service.DefaultPolicies.Sgx), only.OldPolicyHash);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), only.Time);
    }

    [Fact]
    public async Task Refused_records_beyond_the_limit_replace_the_oldest_refused_ones()
    {
        await Store.AppendAuditAsync(Record("policy.set", AuditRecord.Refused), 2, CancellationToken.None);
        await Store.SetPolicyAsync(new StoredPolicy("SgxEnclave", "jws-1", "text-1", null), Record("policy.set"), CancellationToken.None);
        for (var i = 0; i < 4; i++)
        {
            await Store.AppendAuditAsync(Record("policy.reset", AuditRecord.Refused), 2, CancellationToken.None);
        }

        var page = await Store.GetAuditAsync(new AuditQuery(null, 0, 10), CancellationToken.None);
        Assert.Equal([AuditRecord.Succeeded, AuditRecord.Refused, AuditRecord.Refused], page.Records.Select(r => r.Outcome));
        Assert.Equal(3, page.RefusedPruned);
        Assert.False(page.More);

        var first = await Store.GetAuditAsync(new AuditQuery(null, 0, 2), CancellationToken.None);
        Assert.True(first.More);
        var rest = await Store.GetAuditAsync(new AuditQuery(null, first.Records[^1].Id, 2), CancellationToken.None);
        Assert.Equal(page.Records.Select(r => r.Id), first.Records.Concat(rest.Records).Select(r => r.Id));
    }

    [Fact]
    public async Task Concurrent_removals_never_leave_zero_signers()
    {
        await Store.AddSignerAsync("AA", [1], CancellationToken.None);
        await Store.AddSignerAsync("BB", [2], CancellationToken.None);
        var results = await Task.WhenAll(
            Task.Run(async () => { try { return await Store.RemoveSignerAsync("AA", CancellationToken.None); } catch (InvalidOperationException) { return false; } }),
            Task.Run(async () => { try { return await Store.RemoveSignerAsync("BB", CancellationToken.None); } catch (InvalidOperationException) { return false; } }));
        Assert.Single(results, removed => removed);
        Assert.Single(await Store.GetSignersAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_key_roll_swaps_the_key_only_from_the_expected_bytes_and_replaces_the_retired_list_with_it()
    {
        var t0 = DateTimeOffset.FromUnixTimeSeconds(1_790_000_000);
        var ct = CancellationToken.None;
        var other = OpenAnother();
        RetiredInstanceKey Retired(string kid, byte cert, int hours, byte sig) => new(kid, [cert], t0.AddHours(hours), [sig, sig]);
        try
        {
            await Store.InsertInstanceKeyIfAbsentAsync([1, 1], [0xC1], ct);
            Assert.Empty(await Store.GetRetiredInstanceKeysAsync(ct));

            // A stale expected value (another roll or a rekey came first) writes nothing at all.
            Assert.False(await other.RollInstanceKeyAsync(new InstanceKeyRoll([9], [2, 2], [0xC2], [Retired("k1", 0xC1, 1, 7)]), ct));
            var unchanged = (await Store.GetInstanceKeyAsync(ct))!.Value;
            Assert.Equal([1, 1], unchanged.Pkcs8);
            Assert.Equal([0xC1], unchanged.Certificate);
            Assert.Empty(await Store.GetRetiredInstanceKeysAsync(ct));

            Assert.True(await other.RollInstanceKeyAsync(new InstanceKeyRoll([1, 1], [2, 2], [0xC2], [Retired("k1", 0xC1, 1, 7)]), ct));
            var rolled = (await Store.GetInstanceKeyAsync(ct))!.Value;
            Assert.Equal([2, 2], rolled.Pkcs8);
            Assert.Equal([0xC2], rolled.Certificate);
            var kept = Assert.Single(await Store.GetRetiredInstanceKeysAsync(ct));
            Assert.Equal(("k1", t0.AddHours(1)), (kept.Kid, kept.PublishedUntil));
            Assert.Equal([0xC1], kept.Certificate);
            Assert.Equal([7, 7], kept.Signature);

            // The list is replaced whole (entries signed anew); the latest time comes first.
            Assert.True(await Store.RollInstanceKeyAsync(new InstanceKeyRoll([2, 2], [3, 3], [0xC3], [Retired("k1", 0xC1, 1, 8), Retired("k2", 0xC2, 9, 8)]), ct));
            var both = await other.GetRetiredInstanceKeysAsync(ct);
            Assert.Equal(["k2", "k1"], both.Select(r => r.Kid));
            Assert.All(both, r => Assert.Equal([8, 8], r.Signature));

            Assert.True(await Store.RollInstanceKeyAsync(new InstanceKeyRoll([3, 3], [4, 4], [0xC4], []), ct));
            Assert.Empty(await other.GetRetiredInstanceKeysAsync(ct));
            Assert.Equal([4, 4], (await other.GetInstanceKeyAsync(ct))!.Value.Pkcs8);

            // Two rolls from the same key: exactly one wins.
            var results = await Task.WhenAll(
                Task.Run(() => Store.RollInstanceKeyAsync(new InstanceKeyRoll([4, 4], [5, 5], [0xC5], [Retired("k4", 0xC4, 2, 5)]), ct)),
                Task.Run(() => other.RollInstanceKeyAsync(new InstanceKeyRoll([4, 4], [6, 6], [0xC6], [Retired("k4", 0xC4, 3, 6)]), ct)));
            Assert.Single(results, won => won);
            var final = (await Store.GetInstanceKeyAsync(ct))!.Value;
            Assert.Equal(results[0] ? new byte[] { 0xC5 } : new byte[] { 0xC6 }, final.Certificate);
            Assert.Equal(results[0] ? new byte[] { 5, 5 } : new byte[] { 6, 6 }, Assert.Single(await Store.GetRetiredInstanceKeysAsync(ct)).Signature);
        }
        finally
        {
            if (other is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }
}

public sealed class SqliteStoreContractTests : StoreContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "veritee-sqlite-" + Guid.NewGuid().ToString("N"));

    protected override Task<IServiceStore> CreateStoreAsync()
    {
        Directory.CreateDirectory(_folder);
        return Task.FromResult<IServiceStore>(new SqliteServiceStore(Path.Combine(_folder, "veritee.db")));
    }

    protected override IServiceStore OpenAnother() => new SqliteServiceStore(Path.Combine(_folder, "veritee.db"));

    public override Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>One PostgreSQL cluster for the class; each test gets a fresh database.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

public sealed class PostgresStoreContractTests(PostgresFixture postgres) : StoreContractTests, IClassFixture<PostgresFixture>
{
    private PostgresServiceStore? _store;
    private string _database = string.Empty;

    protected override Task<IServiceStore> CreateStoreAsync()
    {
        _database = "t" + Guid.NewGuid().ToString("N");
        postgres.Server.CreateDatabase(_database);
        _store = new PostgresServiceStore(postgres.Server.ConnectionString(_database));
        return Task.FromResult<IServiceStore>(_store);
    }

    protected override IServiceStore OpenAnother() => new PostgresServiceStore(postgres.Server.ConnectionString(_database));

    public override async Task DisposeAsync() => await _store!.DisposeAsync();
}

public sealed class InstanceIdentityTests
{
    [Fact]
    public async Task A_node_configured_with_another_instance_url_refuses_to_start_on_the_store()
    {
        var folder = Path.Combine(Path.GetTempPath(), "veritee-instance-" + Guid.NewGuid().ToString("N"));
        try
        {
            var first = await VeriteeServer.BuildAsync(new ServiceOptions { InstanceUrl = "https://attest.example", DataDirectory = folder }, "http://127.0.0.1:0");
            await first.DisposeAsync();
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                VeriteeServer.BuildAsync(new ServiceOptions { InstanceUrl = "https://other.example", DataDirectory = folder }, "http://127.0.0.1:0"));
            Assert.Contains("https://attest.example", e.Message, StringComparison.Ordinal);
            var again = await VeriteeServer.BuildAsync(new ServiceOptions { InstanceUrl = "https://attest.example", DataDirectory = folder }, "http://127.0.0.1:0");
            await again.DisposeAsync();
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
