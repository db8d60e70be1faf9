using System.Net;
using System.Text.Json.Nodes;

namespace Veritee.Service.Tests.Pccs;

/// <summary>The req and offline fill modes (docs/pccs.md): what a miss does, what registration does, the queue.</summary>
public sealed class PccsModeTests : IAsyncLifetime
{
    private PccsFakePcs _pcs = null!;

    public async Task InitializeAsync() => _pcs = await PccsFakePcs.StartAsync();

    public async Task DisposeAsync() => await _pcs.DisposeAsync();

    [Theory]
    [InlineData(PccsFillMode.Req, "in req mode a miss is not fetched")]
    [InlineData(PccsFillMode.Offline, "this server runs offline")]
    public async Task A_miss_is_not_fetched_and_an_unknown_platform_is_461(PccsFillMode mode, string reason)
    {
        await using var node = await PccsNode.StartAsync(mode, _pcs);
        using var tcb = await node.GetAsync("tcb?fmspc=00a067110000");
        await PccsRouteTests.AssertError(tcb, HttpStatusCode.NotFound, "No cache data for this platform. ", reason);
        using var crl = await node.GetAsync("rootcacrl");
        Assert.Equal(HttpStatusCode.NotFound, crl.StatusCode);
        using var cert = await node.GetAsync(PccsRouteTests.PckCertQuery());
        await PccsRouteTests.AssertError(cert, (HttpStatusCode)461, "The platform was not found in the cache.");
        Assert.Empty(_pcs.Requests);
    }

    [Fact]
    public async Task Req_registration_fetches_the_platform_and_marks_the_queue_row_done()
    {
        await using var node = await PccsNode.StartAsync(PccsFillMode.Req, _pcs);
        using var registered = await node.SendAsync(HttpMethod.Post, "platforms", PccsRouteTests.Registration(), ("user-token", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.OK, registered.StatusCode);
        Assert.Equal(1, _pcs.Count("/pckcerts"));
        using var cert = await node.GetAsync(PccsRouteTests.PckCertQuery(ppid: null));
        Assert.Equal(HttpStatusCode.OK, cert.StatusCode);
        using var queue = await node.GetAsync("platforms", ("admin-token", PccsNode.AdminToken));
        Assert.Equal("[]", await queue.Content.ReadAsStringAsync());

        // A registration PCS refuses stays queued (NEW) for the administrator to see.
        _pcs.FailWith = 404;
        using var failed = await node.SendAsync(HttpMethod.Post, "platforms", PccsRouteTests.Registration(qeId: "ffeeddccbbaa99887766554433221100"), ("user-token", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.NotFound, failed.StatusCode);
        _pcs.FailWith = 0;
        using var pending = await node.GetAsync("platforms?source=reg", ("admin-token", PccsNode.AdminToken));
        Assert.Equal("1", pending.Headers.GetValues("platform-count").Single());
    }

    [Fact]
    public async Task Offline_registration_queues_and_GET_platforms_takes_the_queue_once()
    {
        await using var node = await PccsNode.StartAsync(PccsFillMode.Offline, _pcs);
        using var registered = await node.SendAsync(HttpMethod.Post, "platforms", PccsRouteTests.Registration(), ("user-token", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.OK, registered.StatusCode);
        using var manifest = await node.SendAsync(HttpMethod.Post, "platforms", PccsRouteTests.Registration(qeId: "AB", manifest: "0A0B0C"), ("user-token", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        Assert.Empty(_pcs.Requests);

        using var first = await node.GetAsync("platforms?source=REG", ("admin-token", PccsNode.AdminToken));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("2", first.Headers.GetValues("platform-count").Single());
        var rows = JsonNode.Parse(await first.Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(["qe_id", "pce_id", "cpu_svn", "pce_svn", "enc_ppid", "platform_manifest"], rows[0]!.AsObject().Select(p => p.Key));
        Assert.Equal("0B0B0202FF0100000000000000000000", rows[0]!["cpu_svn"]!.GetValue<string>());
        Assert.Equal(rows[0]!["enc_ppid"]!.GetValue<string>().ToLowerInvariant(), rows[0]!["enc_ppid"]!.GetValue<string>());
        Assert.Equal("0a0b0c", rows[1]!["platform_manifest"]!.GetValue<string>());
        Assert.Equal("", rows[1]!["enc_ppid"]!.GetValue<string>());

        using var second = await node.GetAsync("platforms", ("admin-token", PccsNode.AdminToken));
        Assert.Equal("[]", await second.Content.ReadAsStringAsync());
        Assert.Equal("0", second.Headers.GetValues("platform-count").Single());

        using var refresh = await node.GetAsync("refresh", ("admin-token", PccsNode.AdminToken));
        await PccsRouteTests.AssertError(refresh, HttpStatusCode.ServiceUnavailable, "Server is currently unable to process the request.", "offline");
        Assert.Empty(_pcs.Requests);
    }
}

/// <summary>The scheduled refresh (a hosted service) renews cached collateral from PCS on its interval.</summary>
public sealed class PccsScheduledRefreshTests
{
    [Fact]
    public async Task Cached_collateral_is_fetched_again_on_the_interval()
    {
        await using var pcs = await PccsFakePcs.StartAsync();
        await using var node = await PccsNode.StartAsync(PccsFillMode.Lazy, pcs, configure: o => o with { PccsRefreshInterval = TimeSpan.FromMilliseconds(200) });
        using var first = await node.GetAsync("tcb?fmspc=00a067110000");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        // An event, not a time: wait (up to a generous bound) for the refresh's second TCB Info request.
        for (var i = 0; i < 300 && pcs.Count("/sgx/certification/v4/tcb") < 2; i++)
        {
            await Task.Delay(100);
        }

        Assert.True(pcs.Count("/sgx/certification/v4/tcb") >= 2, "no scheduled refresh reached PCS");
        using var still = await node.GetAsync("tcb?fmspc=00a067110000");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }
}
