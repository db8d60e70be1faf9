using System.Net;

namespace Veritee.Service.Tests.Pccs;

/// <summary>The PCCS on PostgreSQL: the same answers, and a cluster that shares one cache (a registration through one node is fetched once).</summary>
public sealed class PccsPostgresTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private PccsFakePcs _pcs = null!;
    private string _connection = null!;

    public async Task InitializeAsync()
    {
        _pcs = await PccsFakePcs.StartAsync();
        var database = "p" + Guid.NewGuid().ToString("N");
        postgres.Server.CreateDatabase(database);
        _connection = postgres.Server.ConnectionString(database);
    }

    public async Task DisposeAsync() => await _pcs.DisposeAsync();

    [Fact]
    public async Task Two_nodes_serve_one_cache_and_a_registration_through_one_is_fetched_once()
    {
        await using var a = await PccsNode.StartAsync(PccsFillMode.Req, _pcs, postgres: _connection);
        await using var b = await PccsNode.StartAsync(PccsFillMode.Req, _pcs, postgres: _connection);
        using var registered = await a.SendAsync(HttpMethod.Post, "platforms", PccsRouteTests.Registration(), ("user-token", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.OK, registered.StatusCode);
        var after = _pcs.Requests.Count;

        using var cert = await b.GetAsync(PccsRouteTests.PckCertQuery(ppid: null));
        Assert.Equal(HttpStatusCode.OK, cert.StatusCode);
        Assert.Equal(PccsFakePcs.Tcbm, cert.Headers.GetValues("SGX-TCBm").Single());
        foreach (var path in new[] { "tcb?fmspc=00a067110000", "qe/identity", "pckcrl?ca=processor", "rootcacrl" })
        {
            using var response = await b.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, path);
        }

        // Registering again through the other node finds it cached.
        using var again = await b.SendAsync(HttpMethod.Post, "platforms", PccsRouteTests.Registration(), ("user-token", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(after, _pcs.Requests.Count);
        Assert.Equal(1, _pcs.Count("/pckcerts"));
    }

    [Fact]
    public async Task Lazy_fills_and_the_offline_queue_work_on_PostgreSQL_and_survive_a_restart()
    {
        await using (var lazy = await PccsNode.StartAsync(PccsFillMode.Lazy, _pcs, postgres: _connection))
        {
            using var cert = await lazy.GetAsync(PccsRouteTests.PckCertQuery());
            Assert.Equal(HttpStatusCode.OK, cert.StatusCode);
        }

        await using var offline = await PccsNode.StartAsync(PccsFillMode.Offline, _pcs, postgres: _connection);
        using var again = await offline.GetAsync(PccsRouteTests.PckCertQuery(cpusvn: "0c0c0303ff0200000000000000000000", ppid: null));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        using var reg = await offline.SendAsync(HttpMethod.Post, "platforms", PccsRouteTests.Registration(qeId: "AA"), ("user-token", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.OK, reg.StatusCode);
        using var queue = await offline.GetAsync("platforms", ("admin-token", PccsNode.AdminToken));
        Assert.Equal("1", queue.Headers.GetValues("platform-count").Single());
        using var empty = await offline.GetAsync("platforms", ("admin-token", PccsNode.AdminToken));
        Assert.Equal("0", empty.Headers.GetValues("platform-count").Single());
        Assert.Equal(1, _pcs.Count("/pckcerts"));
    }
}
