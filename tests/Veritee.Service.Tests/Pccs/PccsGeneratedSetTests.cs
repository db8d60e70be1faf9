using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Veritee.Dcap.Pccs;
using Veritee.Enclave;
using Veritee.TestSupport;

namespace Veritee.Service.Tests.Pccs;

/// <summary>
/// PCK certificate selection through <c>GET /pckcert</c> over a generated multi-level certificate set (a simulated
/// platform's PKI, Veritee.Enclave's <see cref="PckCertificateSet"/>), served by a fake PCS; the node trusts that root.
/// </summary>
public sealed class PccsGeneratedSetTests : IDisposable
{
    private static readonly DateTimeOffset IssuedAt = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly PcsTcb High = Tcb(13, 11, 11, 2, 2);
    private static readonly PcsTcb Middle = Tcb(12, 10, 10, 2, 2);
    private static readonly PcsTcb Low = Tcb(10, 5, 5, 1, 1);

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "veritee-pccs-set-" + Guid.NewGuid().ToString("N"));
    private readonly SimulatedPlatform _platform;

    public PccsGeneratedSetTests()
    {
        _platform = SimulatedPlatform.Create(_folder, IssuedAt);
    }

    public void Dispose()
    {
        _platform.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static PcsTcb Tcb(ushort pceSvn, params byte[] leading)
    {
        var components = new byte[16];
        leading.CopyTo(components, 0);
        return new PcsTcb(components, pceSvn);
    }

    private static string CpuSvn(params byte[] leading)
    {
        var components = new byte[16];
        leading.CopyTo(components, 0);
        return Convert.ToHexStringLower(components);
    }

    private sealed class SetPcs(WebApplication app, string url) : IAsyncDisposable
    {
        public string Url => url;

        public int PckCerts;

        public static async Task<SetPcs> StartAsync(PckCertificateSet set)
        {
            var url = Loopback.HttpUrl();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls(url);
            var app = builder.Build();
            SetPcs? self = null;
            async Task PckCerts(HttpContext c)
            {
                Interlocked.Increment(ref self!.PckCerts);
                foreach (var (name, value) in set.PckCertsHeaders)
                {
                    c.Response.Headers[name] = value;
                }

                await c.Response.Body.WriteAsync(set.PckCertsJson);
            }

            app.MapGet("/sgx/certification/v4/pckcerts", PckCerts);
            app.MapPost("/sgx/certification/v4/pckcerts", PckCerts);
            app.MapGet("/sgx/certification/v4/tcb", async c =>
            {
                c.Response.Headers["TCB-Info-Issuer-Chain"] = IssuerChainHeader.Encode(set.TcbInfoIssuerChainPem);
                await c.Response.Body.WriteAsync(set.TcbInfo);
            });
            app.MapGet("/tdx/certification/v4/tcb", c =>
            {
                c.Response.StatusCode = 404;
                return Task.CompletedTask;
            });
            await app.StartAsync();
            self = new SetPcs(app, url);
            return self;
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private async Task<(PckCertificateSet Set, SetPcs Pcs, PccsNode Node)> StartAsync(int tcbInfoVersion, ISet<int>? notAvailable = null, PckCaType ca = PckCaType.Processor)
    {
        var set = PckCertificateSet.Issue(_platform, new PckCertificateSetOptions
        {
            IssuedAt = IssuedAt,
            Levels = [High, Middle, Low],
            TcbInfoVersion = tcbInfoVersion,
            NotAvailable = notAvailable is null ? new HashSet<int>() : new HashSet<int>(notAvailable),
            CaType = ca,
        });
        var pcs = await SetPcs.StartAsync(set);
        var node = await PccsNode.StartAsync(PccsFillMode.Lazy, null, configure: o => o with
        {
            CollateralServiceUrl = new Uri(pcs.Url),
            PccsTrustAnchor = _platform.TrustAnchor,
        });
        return (set, pcs, node);
    }

    private static string Query(PckCertificateSet set, string cpuSvn, string pceSvnLe) =>
        $"pckcert?qeid=00112233445566778899aabbccddeeff&cpusvn={cpuSvn}&pcesvn={pceSvnLe}&pceid={Convert.ToHexString(set.PceId)}&encrypted_ppid={new string('1', 768)}";

    [Theory]
    [InlineData(3)]
    [InlineData(2)]
    public async Task The_highest_certificate_at_or_below_the_raw_TCB_is_served(int tcbInfoVersion)
    {
        var (set, pcs, node) = await StartAsync(tcbInfoVersion);
        await using var _ = pcs;
        await using var __ = node;
        foreach (var (cpu, pce, expected) in new[]
        {
            (CpuSvn(12, 12, 3, 3), "0e00", High),
            (CpuSvn(11, 11, 2, 2), "0d00", High),
            (CpuSvn(10, 10, 2, 2), "0d00", Middle),
            (CpuSvn(11, 11, 2, 2), "0c00", Middle),
            (CpuSvn(6, 6, 1, 1), "0a00", Low),
        })
        {
            using var response = await node.GetAsync(Query(set, cpu, pce));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{cpu}/{pce}: {await response.Content.ReadAsStringAsync()}");
            Assert.Equal(expected.Tcbm, response.Headers.GetValues("SGX-TCBm").Single());
            var entry = set.Entries.Single(e => e.Tcbm == expected.Tcbm);
            Assert.Equal(entry.CertificatePem!.TrimEnd('\n') + "\n", await response.Content.ReadAsStringAsync());
            Assert.Equal(Convert.ToHexString(set.Fmspc), response.Headers.GetValues("SGX-FMSPC").Single());
        }

        using var below = await node.GetAsync(Query(set, CpuSvn(4, 4, 1, 1), "0a00"));
        await PccsRouteTests.AssertError(below, HttpStatusCode.NotFound, "No cache data for this platform. ", "PCK certificate selection");
        Assert.Equal(1, pcs.PckCerts);
    }

    [Fact]
    public async Task A_Not_available_level_is_skipped_and_queued_as_reg_na()
    {
        var (set, pcs, node) = await StartAsync(3, notAvailable: new HashSet<int> { 0 });
        await using var _ = pcs;
        await using var __ = node;
        using var response = await node.GetAsync(Query(set, CpuSvn(12, 12, 3, 3), "0e00"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Middle.Tcbm, response.Headers.GetValues("SGX-TCBm").Single());
        using var na = await node.GetAsync("platforms?source=reg_na", ("admin-token", PccsNode.AdminToken));
        var row = JsonNode.Parse(await na.Content.ReadAsStringAsync())!.AsArray().Single()!;
        Assert.Equal(High.Tcbm[..32], row["cpu_svn"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_Platform_CA_set_is_served_with_its_CA_type_upper_case()
    {
        var (set, pcs, node) = await StartAsync(3, ca: PckCaType.Platform);
        await using var _ = pcs;
        await using var __ = node;
        using var response = await node.GetAsync(Query(set, CpuSvn(11, 11, 2, 2), "0d00"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("PLATFORM", response.Headers.GetValues("SGX-PCK-Certificate-CA-Type").Single());
        Assert.Equal(set.IssuerChainPem, IssuerChainHeader.Decode(response.Headers.GetValues("SGX-PCK-Certificate-Issuer-Chain").Single()));
    }

    [Fact]
    public async Task A_set_under_another_root_is_refused()
    {
        var set = PckCertificateSet.Issue(_platform, new PckCertificateSetOptions { IssuedAt = IssuedAt, Levels = [High] });
        await using var pcs = await SetPcs.StartAsync(set);
        await using var node = await PccsNode.StartAsync(PccsFillMode.Lazy, null, configure: o => o with { CollateralServiceUrl = new Uri(pcs.Url) });
        using var response = await node.GetAsync(Query(set, CpuSvn(11, 11, 2, 2), "0d00"));
        await PccsRouteTests.AssertError(response, HttpStatusCode.NotFound, "No cache data for this platform. ", "STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED");
        using var cached = await node.GetAsync("platforms?source=[]", ("admin-token", PccsNode.AdminToken));
        Assert.Equal("0", cached.Headers.GetValues("platform-count").Single());
    }
}
