using System.Net;
using System.Text;
using System.Text.Json;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Pccs;
using Veritee.Enclave;
using static Veritee.Dcap.Tests.Pccs.PckSetFixture;

namespace Veritee.Dcap.Tests.Pccs;

/// <summary><see cref="PcsPckClient"/> against a loopback fake PCS serving generated PCK certificate sets (real HTTP).</summary>
public sealed class PcsPckClientTests(PckSetFixture fixture) : IClassFixture<PckSetFixture>
{
    private static readonly string EncPpid = new('a', 768);

    private PckCertificateSet Set => _set ??= fixture.Issue([Tcb(13, 11, 11), Tcb(11, 9, 9)], o => o with { NotAvailable = new HashSet<int> { 1 } });

    private PckCertificateSet? _set;

    private FakeResponse PckCerts(FakeRequest _) => new(200, Set.PckCertsJson, [.. Set.PckCertsHeaders, KeyValuePair.Create("Request-ID", "abc123")]);

    private static PcsPckClient Client(FakePcs pcs, HttpClient http, string? key = null, string path = "") =>
        new(http, new PcsPckClientOptions { BaseAddress = new Uri(pcs.BaseAddress, path), ApiKey = key, MaxResponseBytes = 64 * 1024 });

    [Fact]
    public async Task PckCertificatesByEncryptedPpidCarryTheKeyAndParse()
    {
        using var pcs = new FakePcs(PckCerts);
        using var http = PcsCollateralSource.CreateHttpClient(TimeSpan.FromSeconds(20));
        var response = await Client(pcs, http, "secret-key").GetPckCertificatesAsync(EncPpid, "0000");
        Assert.Equal(Set.Entries, response.Certificates);
        Assert.Null(response.Certificates[1].CertificatePem);
        Assert.Equal("30606A000000", response.Fmspc);
        Assert.Equal("PROCESSOR", response.CaType);
        Assert.Equal("abc123", response.RequestId);
        Assert.Equal(Set.IssuerChainPem, IssuerChainHeader.Decode(response.IssuerChain));
        var request = Assert.Single(pcs.Requests);
        Assert.Equal("GET", request.Method);
        Assert.Equal($"/sgx/certification/v4/pckcerts?encrypted_ppid={EncPpid}&pceid=0000", request.PathAndQuery);
        Assert.Equal("secret-key", request.Headers["Ocp-Apim-Subscription-Key"]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public async Task NoKeyHeaderIsSentWithoutAKey(string? key)
    {
        using var pcs = new FakePcs(PckCerts);
        using var http = PcsCollateralSource.CreateHttpClient(TimeSpan.FromSeconds(20));
        await Client(pcs, http, key).GetPckCertificatesAsync(EncPpid, "0000");
        Assert.False(pcs.Requests[0].Headers.ContainsKey("Ocp-Apim-Subscription-Key"));
    }

    [Fact]
    public async Task ManifestPlatformsArePostedAsJson()
    {
        using var pcs = new FakePcs(PckCerts);
        using var http = PcsCollateralSource.CreateHttpClient(TimeSpan.FromSeconds(20));
        await Client(pcs, http, "k", "sgx/certification/v4/").GetPckCertificatesByManifestAsync("0a0b0c", "0000");
        var request = Assert.Single(pcs.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/sgx/certification/v4/pckcerts", request.PathAndQuery);
        Assert.StartsWith("application/json", request.Headers["Content-Type"], StringComparison.Ordinal);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("0a0b0c", body.RootElement.GetProperty("platformManifest").GetString());
        Assert.Equal("0000", body.RootElement.GetProperty("pceid").GetString());
    }

    [Fact]
    public async Task PcsErrorsKeepStatusAndIntelsErrorHeaders()
    {
        using var pcs = new FakePcs(_ => new FakeResponse(401, "{}"u8.ToArray(), KeyValuePair.Create("Error-Code", "InvalidSubscriptionKey"), KeyValuePair.Create("Error-Message", "Key is invalid"), KeyValuePair.Create("Request-ID", "r1")));
        using var http = PcsCollateralSource.CreateHttpClient(TimeSpan.FromSeconds(20));
        var e = await Assert.ThrowsAsync<CollateralFetchException>(() => Client(pcs, http, "bad").GetPckCertificatesAsync(EncPpid, "0000"));
        Assert.Equal(HttpStatusCode.Unauthorized, e.StatusCode);
        Assert.Equal("InvalidSubscriptionKey", e.ErrorCode);
        Assert.Equal("Key is invalid", e.ErrorMessage);
        Assert.Equal("r1", e.RequestId);
        Assert.Contains("Error-Message: Key is invalid", e.Message, StringComparison.Ordinal);
        Assert.False(e.IsTransient);

        var post = await Assert.ThrowsAsync<CollateralFetchException>(() => Client(pcs, http).GetPckCertificatesByManifestAsync("00", "0000"));
        Assert.StartsWith("POST ", post.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingHeadersMalformedBodiesAndOversizedBodiesAreTypedFailures()
    {
        using var pcs = new FakePcs(_ => new FakeResponse(200, Set.PckCertsJson, Set.PckCertsHeaders.Where(h => h.Key != "SGX-FMSPC").ToArray()));
        using var http = PcsCollateralSource.CreateHttpClient(TimeSpan.FromSeconds(20));
        var client = Client(pcs, http);
        Assert.Equal(CollateralFetchFailure.MissingHeader, (await Assert.ThrowsAsync<CollateralFetchException>(() => client.GetPckCertificatesAsync(EncPpid, "0000"))).Failure);

        pcs.Handler = _ => new FakeResponse(200, "[{\"tcb\":1}]"u8.ToArray(), [.. Set.PckCertsHeaders]);
        var invalid = await Assert.ThrowsAsync<CollateralFetchException>(() => client.GetPckCertificatesAsync(EncPpid, "0000"));
        Assert.Equal(CollateralFetchFailure.InvalidContent, invalid.Failure);
        Assert.Contains("pckcerts[0]", invalid.Message, StringComparison.Ordinal);

        pcs.Handler = _ => new FakeResponse(200, new byte[70 * 1024], [.. Set.PckCertsHeaders]);
        Assert.Equal(CollateralFetchFailure.ResponseTooLarge, (await Assert.ThrowsAsync<CollateralFetchException>(() => client.GetPckCertificatesAsync(EncPpid, "0000"))).Failure);

        pcs.Handler = _ => new FakeResponse(200, Set.PckCertsJson, [.. Set.PckCertsHeaders.Select(h => h.Key == "SGX-PCK-Certificate-CA-Type" ? new KeyValuePair<string, string>(h.Key, "other") : h)]);
        Assert.Equal(CollateralFetchFailure.InvalidContent, (await Assert.ThrowsAsync<CollateralFetchException>(() => client.GetPckCertificatesAsync(EncPpid, "0000"))).Failure);

        pcs.Handler = _ => new FakeResponse(302, [], KeyValuePair.Create("Location", "http://127.0.0.1:1/elsewhere"));
        Assert.Equal(CollateralFetchFailure.Redirect, (await Assert.ThrowsAsync<CollateralFetchException>(() => client.GetPckCertificatesAsync(EncPpid, "0000"))).Failure);
    }

    [Fact]
    public async Task BadArgumentsAreRefusedBeforeAnyRequest()
    {
        using var pcs = new FakePcs(PckCerts);
        using var http = PcsCollateralSource.CreateHttpClient(TimeSpan.FromSeconds(20));
        var client = Client(pcs, http);
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetPckCertificatesAsync("abc", "0000"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetPckCertificatesAsync(EncPpid, "00&x=1"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetTcbInfoAsync(false, "30606A00000G"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetTcbInfoAsync(false, "30606A000000", "all"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetEnclaveIdentityAsync("QAE"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetPckCrlAsync("both"));
        Assert.Empty(pcs.Requests);
    }

    [Fact]
    public async Task CollateralItemsComeByteForByteWithTheirChainsAndWithoutTheKey()
    {
        var tcbChain = IssuerChainHeader.Encode(Set.TcbInfoIssuerChainPem);
        using var pcs = new FakePcs(request => request.Path switch
        {
            "/sgx/certification/v4/tcb" or "/tdx/certification/v4/tcb" => new FakeResponse(200, Set.TcbInfo, KeyValuePair.Create("TCB-Info-Issuer-Chain", tcbChain)),
            "/sgx/certification/v4/qe/identity" or "/sgx/certification/v4/qve/identity" or "/tdx/certification/v4/qe/identity" =>
                new FakeResponse(200, Encoding.ASCII.GetBytes(request.Path), KeyValuePair.Create("SGX-Enclave-Identity-Issuer-Chain", tcbChain)),
            "/sgx/certification/v4/pckcrl" => new FakeResponse(200, Set.PckCrl, KeyValuePair.Create("SGX-PCK-CRL-Issuer-Chain", IssuerChainHeader.Encode(Set.IssuerChainPem))),
            "/sgx/certification/v4/fmspcs" => new FakeResponse(200, "[{\"fmspc\":\"30606a000000\",\"platform\":\"E3\"}]"u8.ToArray()),
            "/root.crl" => new FakeResponse(200, [1, 2, 3]),
            _ => new FakeResponse(404, []),
        });
        using var http = PcsCollateralSource.CreateHttpClient(TimeSpan.FromSeconds(20));
        var client = Client(pcs, http, "k");

        var tcb = await client.GetTcbInfoAsync(false, "30606A000000", "early");
        Assert.Equal(Set.TcbInfo, tcb.Body);
        Assert.Equal(tcbChain, tcb.IssuerChain);
        await client.GetTcbInfoAsync(true, "30606A000000");
        Assert.Equal(Encoding.ASCII.GetBytes("/tdx/certification/v4/qe/identity"), (await client.GetEnclaveIdentityAsync("TD_QE")).Body);
        Assert.Equal(Encoding.ASCII.GetBytes("/sgx/certification/v4/qve/identity"), (await client.GetEnclaveIdentityAsync("QVE", "early")).Body);
        var crl = await client.GetPckCrlAsync("PLATFORM");
        Assert.Equal(Set.PckCrl, crl.Body);
        Assert.Equal(["30606A000000"], await client.GetFmspcsAsync());
        Assert.Equal([1, 2, 3], (await client.GetRootCaCrlAsync(new Uri("/root.crl", UriKind.Relative))).Body);

        var targets = pcs.Requests.Select(r => r.PathAndQuery).ToList();
        Assert.Contains("/sgx/certification/v4/tcb?fmspc=30606A000000&update=early", targets);
        Assert.Contains("/tdx/certification/v4/tcb?fmspc=30606A000000&update=standard", targets);
        Assert.Contains("/sgx/certification/v4/pckcrl?ca=platform&encoding=der", targets);
        Assert.Contains("/sgx/certification/v4/fmspcs?platform=all", targets);
        Assert.All(pcs.Requests, r => Assert.False(r.Headers.ContainsKey("Ocp-Apim-Subscription-Key")));

        pcs.Handler = _ => new FakeResponse(200, Set.TcbInfo);
        Assert.Equal(CollateralFetchFailure.MissingHeader, (await Assert.ThrowsAsync<CollateralFetchException>(() => client.GetTcbInfoAsync(false, "30606A000000"))).Failure);
    }

    [Theory]
    [InlineData("https://api.trustedservices.intel.com/sgx/certification/v4/", "https://api.trustedservices.intel.com/")]
    [InlineData("https://pccs.example:8081/sgx/certification/v4", "https://pccs.example:8081/")]
    [InlineData("https://pccs.example/prefix/", "https://pccs.example/prefix/")]
    [InlineData("https://pccs.example/prefix", "https://pccs.example/prefix/")]
    public void BaseAddressesReduceToThePcsRoot(string given, string root) =>
        Assert.Equal(new Uri(root), PcsPckClient.Root(new Uri(given)));
}
