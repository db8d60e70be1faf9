using System.Net;

namespace Veritee.Service.Tests.Pccs;

/// <summary>
/// The air-gapped import (<c>PUT /platformcollateral</c>) of a <c>platform_collaterals.json</c> in Intel's
/// <c>pcsclient fetch</c> shape, built here from the Intel-signed vectors: verified whole, then served offline.
/// </summary>
public sealed class PccsImportTests : IAsyncLifetime
{
    private PccsFakePcs _pcs = null!;
    private PccsNode _node = null!;

    public async Task InitializeAsync()
    {
        _pcs = await PccsFakePcs.StartAsync();
        _node = await PccsNode.StartAsync(PccsFillMode.Offline, _pcs);
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        await _pcs.DisposeAsync();
    }

    private static readonly string Ppid = string.Concat(Enumerable.Repeat("0123456789abcdef", 48));

    private static string Read(string folder, string file) => File.ReadAllText(Path.Combine(folder, file));

    private static string Hex(string folder, string file) => Convert.ToHexStringLower(File.ReadAllBytes(Path.Combine(folder, file)));

    private static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    /// <summary>The file as pcsclient writes it, with the given TCB Info text and certificate value.</summary>
    internal static string CollateralFile(string tcbInfo, string certValue, int version = 4, bool withTcbInfos = true)
    {
        var sgx = PccsFakePcs.SgxCase;
        var platform = $$"""{"qe_id":"00112233445566778899aabbccddeeff","pce_id":"0000","cpu_svn":"0c0c0303ff0200000000000000000000","pce_svn":"0e00","enc_ppid":"{{Ppid}}","platform_manifest":""}""";
        var tcb = """{"sgxtcbcomp01svn":11,"sgxtcbcomp02svn":11,"sgxtcbcomp03svn":2,"sgxtcbcomp04svn":2,"sgxtcbcomp05svn":255,"sgxtcbcomp06svn":1,"sgxtcbcomp07svn":0,"sgxtcbcomp08svn":0,"sgxtcbcomp09svn":0,"sgxtcbcomp10svn":0,"sgxtcbcomp11svn":0,"sgxtcbcomp12svn":0,"sgxtcbcomp13svn":0,"sgxtcbcomp14svn":0,"sgxtcbcomp15svn":0,"sgxtcbcomp16svn":0,"pcesvn":13}""";
        var tcbinfos = withTcbInfos ? $$"""[{"fmspc":"00a067110000","sgx_tcbinfo":{{tcbInfo}}}]""" : "[]";
        return $$"""
            {"platforms":[{{platform}}],
             "collaterals":{"version":{{version}},
              "pck_certs":[{"qe_id":"00112233445566778899aabbccddeeff","pce_id":"0000","enc_ppid":"{{Ppid}}","platform_manifest":"",
                "certs":[{"tcb":{{tcb}},"tcbm":"{{PccsFakePcs.Tcbm}}","cert":{{Json(certValue)}}}]}],
              "tcbinfos":{{tcbinfos}},
              "pckcacrl":{"processorCrl":"{{Hex(sgx, "pck_crl.der")}}","platformCrl":"{{Hex(PccsFakePcs.PlatformCase, "pck_crl.der")}}"},
              "qeidentity":{{Json(Read(sgx, "qe_identity.json"))}},
              "certificates":{"SGX-PCK-Certificate-Issuer-Chain":{"PROCESSOR":"{{Uri.EscapeDataString(PccsFakePcs.PckChainPem)}}","PLATFORM":"{{Uri.EscapeDataString(Read(PccsFakePcs.PlatformCase, "pck_crl_issuer_chain.pem"))}}"},
                "TCB-Info-Issuer-Chain":"{{Uri.EscapeDataString(Read(sgx, "tcb_info_issuer_chain.pem"))}}",
                "SGX-Enclave-Identity-Issuer-Chain":"{{Uri.EscapeDataString(Read(sgx, "qe_identity_issuer_chain.pem"))}}"},
              "rootcacrl":"{{Hex(sgx, "root_ca_crl.der")}}",
              "rootcacrl_cdp":"https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"} }
            """;
    }

    internal static string GoodFile() => CollateralFile(Read(PccsFakePcs.SgxCase, "tcb_info.json"), Uri.EscapeDataString(PccsFakePcs.PckLeafPem));

    private Task<HttpResponseMessage> Put(string body, string token = PccsNode.AdminToken) =>
        _node.SendAsync(HttpMethod.Put, "platformcollateral", body, ("admin-token", token));

    [Fact]
    public async Task An_imported_file_is_served_offline_without_asking_PCS()
    {
        using var put = await Put(GoodFile());
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("Operation successful.", await put.Content.ReadAsStringAsync());

        // The raw TCB named in platforms[] was selected at import; another one is selected from the cache.
        using var cert = await _node.GetAsync(PccsRouteTests.PckCertQuery(cpusvn: "0c0c0303ff0200000000000000000000", pcesvn: "0e00", ppid: null));
        Assert.Equal(HttpStatusCode.OK, cert.StatusCode);
        Assert.Equal(PccsFakePcs.PckLeafPem, await cert.Content.ReadAsStringAsync());
        Assert.Equal("PROCESSOR", cert.Headers.GetValues("SGX-PCK-Certificate-CA-Type").Single());
        Assert.Equal(PccsFakePcs.Fmspc, cert.Headers.GetValues("SGX-FMSPC").Single());
        using var other = await _node.GetAsync(PccsRouteTests.PckCertQuery(ppid: null));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);

        using var tcb = await _node.GetAsync("tcb?fmspc=00A067110000");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.SgxCase, "tcb_info.json")), await tcb.Content.ReadAsByteArrayAsync());
        using var qe = await _node.GetAsync("qe/identity");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.SgxCase, "qe_identity.json")), await qe.Content.ReadAsByteArrayAsync());
        using var crl = await _node.GetAsync("pckcrl?ca=platform&encoding=der");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.PlatformCase, "pck_crl.der")), await crl.Content.ReadAsByteArrayAsync());
        using var root = await _node.GetAsync("crl?uri=https://certificates.trustedservices.intel.com/IntelSGXRootCA.der");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.SgxCase, "root_ca_crl.der")), await root.Content.ReadAsByteArrayAsync());
        Assert.Empty(_pcs.Requests);
    }

    [Fact]
    public async Task A_file_written_with_whitespace_as_Intels_pcsclient_writes_it_imports_and_serves_the_signed_bytes()
    {
        // pcsclient's json.dump puts spaces after ',' and ':'; the TCB Info signatures cover Intel's compact bytes.
        var spaced = System.Text.Json.Nodes.JsonNode.Parse(GoodFile())!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        Assert.DoesNotContain("\"tcbInfo\":{", spaced, StringComparison.Ordinal);

        using var put = await Put(spaced);

        Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        using var tcb = await _node.GetAsync("tcb?fmspc=00A067110000");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.SgxCase, "tcb_info.json")), await tcb.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_file_with_an_altered_TCB_Info_is_refused_460_naming_it_and_nothing_is_stored()
    {
        var altered = Read(PccsFakePcs.SgxCase, "tcb_info.json").Replace("\"tcbEvaluationDataNumber\":17", "\"tcbEvaluationDataNumber\":18", StringComparison.Ordinal);
        using var put = await Put(CollateralFile(altered, Uri.EscapeDataString(PccsFakePcs.PckLeafPem)));
        await PccsRouteTests.AssertError(put, (HttpStatusCode)460, "The integrity of the data can't be verified. ", "collaterals.tcbinfos[0].sgx_tcbinfo: ");
        Assert.Contains("INVALID_SIGNATURE", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var qe = await _node.GetAsync("qe/identity");
        Assert.Equal(HttpStatusCode.NotFound, qe.StatusCode);
        using var cert = await _node.GetAsync(PccsRouteTests.PckCertQuery(ppid: null));
        Assert.Equal((HttpStatusCode)461, cert.StatusCode);
    }

    [Fact]
    public async Task A_certificate_not_issued_by_Intel_is_refused_460()
    {
        var foreign = Veritee.TestSupport.Loopback.SelfSignedCertificate().ExportCertificatePem() + "\n";
        using var put = await Put(CollateralFile(Read(PccsFakePcs.SgxCase, "tcb_info.json"), Uri.EscapeDataString(foreign)));
        Assert.True((int)put.StatusCode is 400 or 460, $"{(int)put.StatusCode}");
        Assert.Contains("pck_certs[0]", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("version", "collaterals.version must be 4")]
    [InlineData("notavailable", "no \"Not available\" level")]
    [InlineData("notcbinfo", "no tcbinfos entry with an SGX TCB Info for its FMSPC 00A067110000")]
    [InlineData("nocollaterals", "collaterals")]
    public async Task Malformed_files_are_400_naming_the_problem(string variant, string reason)
    {
        var tcb = Read(PccsFakePcs.SgxCase, "tcb_info.json");
        var cert = Uri.EscapeDataString(PccsFakePcs.PckLeafPem);
        var body = variant switch
        {
            "version" => CollateralFile(tcb, cert, version: 3),
            "notavailable" => CollateralFile(tcb, "Not available"),
            "notcbinfo" => CollateralFile(tcb, cert, withTcbInfos: false),
            _ => """{"platforms":[]}""",
        };
        using var put = await Put(body);
        await PccsRouteTests.AssertError(put, HttpStatusCode.BadRequest, "Invalid request parameters. ", reason);
    }

    [Fact]
    public async Task Import_needs_the_admin_token()
    {
        using var put = await Put(GoodFile(), token: PccsNode.UserToken);
        await PccsRouteTests.AssertError(put, HttpStatusCode.Unauthorized, "Authentication failed.");
    }
}
