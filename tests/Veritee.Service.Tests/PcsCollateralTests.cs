using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>An Intel PCS look-alike on loopback serving one vector case's collateral with PCS's headers.</summary>
public sealed class FakePcs : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakePcs(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public int Requests;

    /// <summary>Every path asked for, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Paths { get; } = new();

    public bool Down { get; set; }

    public static async Task<FakePcs> StartAsync(string caseFolder)
    {
        var url = Loopback.HttpUrl();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        var app = builder.Build();
        FakePcs? self = null;
        string File(string name) => Path.Combine(caseFolder, name);
        string Header(string name) => Uri.EscapeDataString(System.IO.File.ReadAllText(File(name)));
        async Task Serve(HttpContext c, string body, string? headerName, string? headerFile, string type)
        {
            Interlocked.Increment(ref self!.Requests);
            self.Paths.Enqueue(c.Request.Path.Value!);
            if (self.Down)
            {
                c.Response.StatusCode = 503;
                return;
            }

            if (headerName is not null)
            {
                c.Response.Headers[headerName] = Header(headerFile!);
            }

            c.Response.ContentType = type;
            await c.Response.SendFileAsync(File(body));
        }

        app.MapGet("/sgx/certification/v4/tcb", c => Serve(c, "tcb_info.json", "TCB-Info-Issuer-Chain", "tcb_info_issuer_chain.pem", "application/json"));
        app.MapGet("/sgx/certification/v4/qe/identity", c => Serve(c, "qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", "qe_identity_issuer_chain.pem", "application/json"));
        // TDX TCB Info and TD_QE identity live under /tdx/ (PCK CRLs and the root CRL stay where they are).
        app.MapGet("/tdx/certification/v4/tcb", c => Serve(c, "tcb_info.json", "TCB-Info-Issuer-Chain", "tcb_info_issuer_chain.pem", "application/json"));
        app.MapGet("/tdx/certification/v4/qe/identity", c => Serve(c, "qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", "qe_identity_issuer_chain.pem", "application/json"));
        app.MapGet("/sgx/certification/v4/pckcrl", c => Serve(c, "pck_crl.der", "SGX-PCK-CRL-Issuer-Chain", "pck_crl_issuer_chain.pem", "application/pkix-crl"));
        app.MapGet("/rootcrl.der", c => Serve(c, "root_ca_crl.der", null, null, "application/pkix-crl"));
        await app.StartAsync();
        self = new FakePcs(app, url);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed class PcsCollateralTests : IAsyncLifetime
{
    private FakePcs _pcs = null!;
    private PcsNode _service = null!;

    private sealed class PcsNode(string pcs) : ServiceFixture
    {
        protected override ServiceOptions Configure(ServiceOptions options) =>
            options with { CollateralDirectory = null, CollateralServiceUrl = new Uri(pcs), RootCaCrlUrl = new Uri(pcs + "/rootcrl.der") };
    }

    public async Task InitializeAsync()
    {
        _pcs = await FakePcs.StartAsync(Vectors.DcapCase("sgx-v3-oe-envelope-legacy-root-2022-05"));
        _service = new PcsNode(_pcs.Url);
        await _service.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        await _pcs.DisposeAsync();
    }

    private Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonObject Body)> Attest()
    {
        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        return _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + quote + "\"}");
    }

    [Fact]
    public async Task Collateral_is_fetched_once_cached_and_served_through_an_outage_until_it_expires()
    {
        var (first, _) = await Attest();
        Assert.Equal(HttpStatusCode.OK, first);
        var fetches = _pcs.Requests;
        Assert.Equal(4, fetches);

        var (second, _) = await Attest();
        Assert.Equal(HttpStatusCode.OK, second);
        Assert.Equal(fetches, _pcs.Requests);

        // Source down, cached collateral still inside its validity: served.
        _pcs.Down = true;
        _service.Clock.Now = ServiceFixture.PinnedTime.AddDays(2);
        var (during, _) = await Attest();
        Assert.Equal(HttpStatusCode.OK, during);

        // Past nextUpdate with the source still down: fail closed with a clear error.
        _service.Clock.Now = ServiceFixture.PinnedTime.AddDays(45);
        var (after, body) = await Attest();
        Assert.NotEqual(HttpStatusCode.OK, after);
        Assert.Contains("collateral", body["error"]!["message"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
    }
}
