using System.Net;
using System.Text.Json.Nodes;

namespace Veritee.Service.Tests.Pccs;

/// <summary>The PCCS routes in lazy mode on SQLite against a fake PCS serving Intel-signed collateral (docs/pccs.md).</summary>
public sealed class PccsRouteTests : IAsyncLifetime
{
    private static readonly string Ppid = string.Concat(Enumerable.Repeat("0123456789abcdef", 48));
    private const string QeId = "00112233445566778899aabbccddeeff";
    private const string RawCpuSvn = "0b0b0202ff0100000000000000000000";

    private PccsFakePcs _pcs = null!;
    private PccsNode _node = null!;

    public async Task InitializeAsync()
    {
        _pcs = await PccsFakePcs.StartAsync();
        _node = await PccsNode.StartAsync(PccsFillMode.Lazy, _pcs);
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        await _pcs.DisposeAsync();
    }

    internal static string PckCertQuery(string cpusvn = RawCpuSvn, string pcesvn = "0d00", string? ppid = "", string qeid = QeId) =>
        $"pckcert?qeid={qeid}&cpusvn={cpusvn}&pcesvn={pcesvn}&pceid=0000" + (ppid is null ? "" : "&encrypted_ppid=" + (ppid.Length == 0 ? Ppid : ppid));

    internal static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string prefix, string? contains = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{(int)response.StatusCode}: {body}");
        Assert.StartsWith(prefix, body, StringComparison.Ordinal);
        if (contains is not null)
        {
            Assert.Contains(contains, body, StringComparison.Ordinal);
        }

        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Matches("^[0-9a-f]{32}$", response.Headers.GetValues("Request-ID").Single());
    }

    private static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();

    [Fact]
    public async Task A_TCB_Info_miss_is_fetched_once_and_served_as_PCS_sent_it_with_its_chain_and_age()
    {
        using var first = await _node.GetAsync("tcb?fmspc=00a067110000");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.SgxCase, "tcb_info.json")), await first.Content.ReadAsByteArrayAsync());
        var chain = Header(first, "TCB-Info-Issuer-Chain");
        Assert.EndsWith("%0A", chain, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllText(Path.Combine(PccsFakePcs.SgxCase, "tcb_info_issuer_chain.pem")), Uri.UnescapeDataString(chain));
        Assert.Equal("0", Header(first, "Veritee-Collateral-Age"));

        _node.Clock.Now += TimeSpan.FromSeconds(100);
        using var second = await _node.GetAsync("tcb?fmspc=00A067110000&update=STANDARD");
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("100", Header(second, "Veritee-Collateral-Age"));
        Assert.Equal(1, _pcs.Count("/sgx/certification/v4/tcb"));
    }

    [Fact]
    public async Task Collateral_past_its_nextUpdate_is_still_served_with_its_age()
    {
        using var first = await _node.GetAsync("tcb?fmspc=00a067110000");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        _node.Clock.Now += TimeSpan.FromDays(400);
        using var later = await _node.GetAsync("tcb?fmspc=00a067110000");
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
        Assert.Equal((400 * 86400).ToString(System.Globalization.CultureInfo.InvariantCulture), Header(later, "Veritee-Collateral-Age"));
        Assert.Equal(1, _pcs.Count("/tcb"));
    }

    [Theory]
    [InlineData("tcb?fmspc=00a06711000", "fmspc must be exactly 12 hex digits")]
    [InlineData("tcb?fmspc=00a06711000g", "fmspc must be exactly 12 hex digits")]
    [InlineData("tcb", "fmspc is required")]
    [InlineData("tcb?fmspc=00a067110000&update=all", "update must be standard or early")]
    [InlineData("qe/identity?update=latest", "update must be standard or early")]
    [InlineData("pckcrl?ca=both", "ca must be processor or platform")]
    [InlineData("pckcrl", "ca must be processor or platform")]
    [InlineData("crl", "uri is required")]
    [InlineData("crl?uri=http://127.0.0.1:1/IntelSGXRootCA.der", "uri is not an Intel CRL distribution point")]
    [InlineData("pckcert?qeid=00&cpusvn=0b0b0202ff010000000000000000000&pcesvn=0d00&pceid=0000", "cpusvn must be exactly 32 hex digits")]
    [InlineData("pckcert?qeid=00&cpusvn=0b0b0202ff0100000000000000000000&pcesvn=0dx0&pceid=0000", "pcesvn must be exactly 4 hex digits")]
    [InlineData("pckcert?qeid=00&cpusvn=0b0b0202ff0100000000000000000000&pcesvn=0d00&pceid=00000", "pceid must be exactly 4 hex digits")]
    [InlineData("pckcert?qeid=00&cpusvn=0b0b0202ff0100000000000000000000&pcesvn=0d00&pceid=0000&encrypted_ppid=00", "encrypted_ppid must be exactly 768 hex digits")]
    [InlineData("pckcert?cpusvn=0b0b0202ff0100000000000000000000&pcesvn=0d00&pceid=0000", "qeid is required")]
    [InlineData("pckcert?qeid=00112233445566778899aabbccddeeff&cpusvn=0b0b0202ff0100000000000000000000&pcesvn=0d00&pceid=0000", "encrypted_ppid is required for a platform that is not cached")]
    public async Task Each_parameter_rule_answers_400_with_Intels_text_and_the_reason_and_asks_PCS_nothing(string query, string reason)
    {
        using var response = await _node.GetAsync(query);
        await AssertError(response, HttpStatusCode.BadRequest, "Invalid request parameters. ", reason);
        Assert.Empty(_pcs.Requests);
    }

    [Fact]
    public async Task The_appraisal_policy_QCNL_asks_for_is_absent_in_PCCS_form_without_asking_PCS()
    {
        using var response = await _node.GetAsync("appraisalpolicy?fmspc=00A067110000");
        await AssertError(response, HttpStatusCode.NotFound, "No cache data for this platform. ", "appraisal policies");
        Assert.Empty(_pcs.Requests);
    }

    [Fact]
    public async Task A_qeid_longer_than_260_characters_is_refused()
    {
        using var response = await _node.GetAsync(PckCertQuery(qeid: new string('a', 261)));
        await AssertError(response, HttpStatusCode.BadRequest, "Invalid request parameters.", "qeid must be 1 to 260 characters");
    }

    [Fact]
    public async Task A_repeated_query_key_takes_its_first_value()
    {
        using var response = await _node.GetAsync("tcb?fmspc=00a067110000&fmspc=zz&update=early&update=all");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("fmspc=00A067110000&update=early", _pcs.Requests.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_Request_ID_of_32_hex_is_echoed_and_anything_else_replaced()
    {
        using var echoed = await _node.GetAsync("qe/identity", ("Request-ID", "0123456789ABCDEF0123456789abcdef"));
        Assert.Equal("0123456789ABCDEF0123456789abcdef", Header(echoed, "Request-ID"));
        using var replaced = await _node.GetAsync("qe/identity", ("Request-ID", "not-an-id"));
        Assert.Matches("^[0-9a-f]{32}$", Header(replaced, "Request-ID"));
    }

    [Fact]
    public async Task A_TCB_Info_whose_signature_fails_is_not_stored_and_the_404_says_why()
    {
        _pcs.TamperTcbInfo = true;
        using var refused = await _node.GetAsync("tcb?fmspc=00a067110000");
        await AssertError(refused, HttpStatusCode.NotFound, "No cache data for this platform. ", "Veritee refused the SGX TCB Info for FMSPC 00A067110000 from PCS");

        _pcs.TamperTcbInfo = false;
        using var good = await _node.GetAsync("tcb?fmspc=00a067110000");
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(2, _pcs.Count("/tcb"));
    }

    [Fact]
    public async Task A_PCS_refusal_is_404_naming_PCS_status_and_error_code()
    {
        _pcs.FailWith = 401;
        using var response = await _node.GetAsync("tcb?fmspc=00a067110000");
        await AssertError(response, HttpStatusCode.NotFound, "No cache data for this platform. ", "PCS answered HTTP 401 for sgx/certification/v4/tcb (InvalidSubscriptionKey: Test refusal) - check the PCS subscription key");
    }

    [Fact]
    public async Task An_unreachable_PCS_is_502()
    {
        await using var node = await PccsNode.StartAsync(PccsFillMode.Lazy, null, configure: o => o with { CollateralServiceUrl = new Uri("http://127.0.0.1:1/") });
        using var response = await node.GetAsync("qe/identity");
        await AssertError(response, HttpStatusCode.BadGateway, "Unable to retrieve the collateral from the Intel SGX PCS.");
    }

    [Fact]
    public async Task PCK_CRLs_are_hex_by_default_and_DER_on_request_with_their_chain()
    {
        var der = await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.SgxCase, "pck_crl.der"));
        using var hex = await _node.GetAsync("pckcrl?ca=PROCESSOR");
        Assert.Equal(HttpStatusCode.OK, hex.StatusCode);
        Assert.Equal(Convert.ToHexStringLower(der), await hex.Content.ReadAsStringAsync());
        Assert.Equal("application/x-pem-file", hex.Content.Headers.ContentType!.MediaType);
        Assert.EndsWith("%0A", Header(hex, "SGX-PCK-CRL-Issuer-Chain"), StringComparison.Ordinal);
        using var raw = await _node.GetAsync("pckcrl?ca=processor&encoding=DER");
        Assert.Equal(der, await raw.Content.ReadAsByteArrayAsync());
        Assert.Equal("application/pkix-crl", raw.Content.Headers.ContentType!.MediaType);
        using var platform = await _node.GetAsync("pckcrl?ca=platform&encoding=der");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.PlatformCase, "pck_crl.der")), await platform.Content.ReadAsByteArrayAsync());
        Assert.Equal(2, _pcs.Count("/pckcrl"));
    }

    [Fact]
    public async Task The_root_CA_CRL_is_hex_on_rootcacrl_and_DER_on_crl_by_its_distribution_point()
    {
        var der = await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.SgxCase, "root_ca_crl.der"));
        using var hex = await _node.GetAsync("rootcacrl");
        Assert.Equal(HttpStatusCode.OK, hex.StatusCode);
        Assert.Equal(Convert.ToHexStringLower(der), await hex.Content.ReadAsStringAsync());
        using var byUri = await _node.GetAsync("crl?uri=https://certificates.trustedservices.intel.com/IntelSGXRootCA.der");
        Assert.Equal(der, await byUri.Content.ReadAsByteArrayAsync());
        using var pck = await _node.GetAsync("crl?uri=https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der");
        Assert.Equal(HttpStatusCode.OK, pck.StatusCode);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.SgxCase, "pck_crl.der")), await pck.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, _pcs.Count("/rootcrl.der"));
    }

    [Fact]
    public async Task Identities_and_TDX_routes_serve_PCS_bytes()
    {
        using var qe = await _node.GetAsync("qe/identity?update=standard");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.SgxCase, "qe_identity.json")), await qe.Content.ReadAsByteArrayAsync());
        Assert.EndsWith("%0A", Header(qe, "SGX-Enclave-Identity-Issuer-Chain"), StringComparison.Ordinal);
        using var qve = await _node.GetAsync("qve/identity");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.PccsData, "qve_identity.json")), await qve.Content.ReadAsByteArrayAsync());
        using var tdQe = await _node.GetAsync(_node.BaseUrl + "/tdx/certification/v4/qe/identity");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.TdxCase, "qe_identity.json")), await tdQe.Content.ReadAsByteArrayAsync());
        using var tdxTcb = await _node.GetAsync(_node.BaseUrl + "/tdx/certification/v4/tcb?fmspc=b0c06f000000");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(PccsFakePcs.TdxCase, "tcb_info.json")), await tdxTcb.Content.ReadAsByteArrayAsync());
        Assert.Contains("GET /tdx/certification/v4/tcb?fmspc=B0C06F000000&update=standard", _pcs.Requests);
    }

    [Fact]
    public async Task The_v3_path_warns_and_answers_410_for_TCB_Info_and_identities_it_cannot_fetch()
    {
        using var tcb = await _node.GetAsync(_node.BaseUrl + "/sgx/certification/v3/tcb?fmspc=00a067110000");
        await AssertError(tcb, HttpStatusCode.Gone, "The Intel PCS API version 3 reached planned EOL.");
        Assert.StartsWith("299 ", Header(tcb, "Warning"), StringComparison.Ordinal);
        using var qe = await _node.GetAsync(_node.BaseUrl + "/sgx/certification/v3/qe/identity");
        Assert.Equal(HttpStatusCode.Gone, qe.StatusCode);
        using var crl = await _node.GetAsync(_node.BaseUrl + "/sgx/certification/v3/pckcrl?ca=processor");
        Assert.Equal(HttpStatusCode.OK, crl.StatusCode);
        Assert.StartsWith("299 ", Header(crl, "Warning"), StringComparison.Ordinal);
        Assert.DoesNotContain(_pcs.Requests, r => r.Contains("/tcb", StringComparison.Ordinal) || r.Contains("identity", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_new_platform_is_fetched_with_the_key_selected_and_served_as_QCNL_needs_it()
    {
        using var response = await _node.GetAsync(PckCertQuery());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var pem = await response.Content.ReadAsStringAsync();
        Assert.Equal(PccsFakePcs.PckLeafPem, pem);
        Assert.EndsWith("-----END CERTIFICATE-----\n", pem, StringComparison.Ordinal);
        Assert.Equal(PccsFakePcs.Tcbm, Header(response, "SGX-TCBm"));
        Assert.Equal(PccsFakePcs.Fmspc, Header(response, "SGX-FMSPC"));
        Assert.Equal("PROCESSOR", Header(response, "SGX-PCK-Certificate-CA-Type"));
        var chain = Header(response, "SGX-PCK-Certificate-Issuer-Chain");
        Assert.EndsWith("%0A", chain, StringComparison.Ordinal);
        Assert.Equal(PccsFakePcs.PckChainPem, Uri.UnescapeDataString(chain));

        // The key goes to pckcerts only.
        Assert.Equal([PccsNode.PcsKey], _pcs.KeysOnPckCerts);
        Assert.All(_pcs.KeysElsewhere, k => Assert.Equal("(none)", k));

        // A higher raw TCB selects the same certificate from the cache; PCS is not asked again.
        using var higher = await _node.GetAsync(PckCertQuery(cpusvn: "0c0c0303ff0200000000000000000000", pcesvn: "0e00"));
        Assert.Equal(HttpStatusCode.OK, higher.StatusCode);
        Assert.Equal(PccsFakePcs.Tcbm, Header(higher, "SGX-TCBm"));
        Assert.Equal(1, _pcs.Count("/pckcerts"));

        // Below every certificate: 404 with the selection's reason.
        using var lower = await _node.GetAsync(PckCertQuery(cpusvn: "0a0b0202ff0100000000000000000000"));
        await AssertError(lower, HttpStatusCode.NotFound, "No cache data for this platform. ", "PCK certificate selection");
        Assert.Equal(1, _pcs.Count("/pckcerts"));
    }

    [Fact]
    public async Task No_key_is_sent_when_none_is_configured()
    {
        await using var node = await PccsNode.StartAsync(PccsFillMode.Lazy, _pcs, configure: o => o with { CollateralSubscriptionKey = "" });
        using var response = await node.GetAsync(PckCertQuery());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["(none)"], _pcs.KeysOnPckCerts);
    }

    [Fact]
    public async Task An_all_zero_encrypted_PPID_for_an_unknown_platform_is_404_with_the_reason()
    {
        using var response = await _node.GetAsync(PckCertQuery(ppid: new string('0', 768)));
        await AssertError(response, HttpStatusCode.NotFound, "No cache data for this platform. ", "all zeros");
        Assert.Empty(_pcs.Requests);
    }

    [Fact]
    public async Task A_platform_PCS_does_not_know_is_404_naming_PCS_answer()
    {
        using var response = await _node.GetAsync(PckCertQuery(ppid: "DEAD" + Ppid[4..]));
        await AssertError(response, HttpStatusCode.NotFound, "No cache data for this platform. ", "PCS answered HTTP 404 for sgx/certification/v4/pckcerts");
    }

    [Fact]
    public async Task Registration_needs_the_user_token_checked_against_its_hash()
    {
        var body = Registration();
        using var none = await _node.SendAsync(HttpMethod.Post, "platforms", body);
        await AssertError(none, HttpStatusCode.Unauthorized, "Authentication failed.");
        using var wrong = await _node.SendAsync(HttpMethod.Post, "platforms", body, ("user-token", "guess"));
        await AssertError(wrong, HttpStatusCode.Unauthorized, "Authentication failed.");
        using var admin = await _node.SendAsync(HttpMethod.Post, "platforms", body, ("user-token", PccsNode.AdminToken));
        Assert.Equal(HttpStatusCode.Unauthorized, admin.StatusCode);
        Assert.Empty(_pcs.Requests);
        using var right = await _node.SendAsync(HttpMethod.Post, "platforms", body, ("USER-TOKEN", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal("Operation successful.", await right.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_route_whose_token_hash_is_not_configured_refuses_everyone()
    {
        await using var node = await PccsNode.StartAsync(PccsFillMode.Lazy, _pcs, configure: o => o with { PccsAdminTokenHash = null });
        using var response = await node.GetAsync("platforms", ("admin-token", PccsNode.AdminToken));
        await AssertError(response, HttpStatusCode.Unauthorized, "Authentication failed.", "no hash for it is configured");
    }

    internal static string Registration(string qeId = QeId, string? manifest = null) =>
        new JsonObject
        {
            ["enc_ppid"] = Ppid,
            ["pce_id"] = "0000",
            ["cpu_svn"] = RawCpuSvn,
            ["pce_svn"] = "0d00",
            ["qe_id"] = qeId,
            ["platform_manifest"] = manifest ?? "",
        }.ToJsonString();

    [Theory]
    [InlineData("""{"pce_id":"0000","cpu_svn":"0b0b0202ff0100000000000000000000","pce_svn":"0d00","enc_ppid":"00"}""", "qe_id is required")]
    [InlineData("""{"qe_id":"00","pce_id":"00000","cpu_svn":"0b0b0202ff0100000000000000000000","pce_svn":"0d00"}""", "pce_id must be exactly 4 hex digits")]
    [InlineData("""{"qe_id":"00","pce_id":"0000","cpu_svn":"0b0b","pce_svn":"0d00"}""", "cpu_svn must be exactly 32 hex digits")]
    [InlineData("""{"qe_id":"00","pce_id":"0000","cpu_svn":"0b0b0202ff0100000000000000000000","pce_svn":"0d00"}""", "enc_ppid is required without a platform_manifest")]
    [InlineData("""{"qe_id":"00","pce_id":"0000","platform_manifest":"xyz"}""", "platform_manifest must be")]
    [InlineData("""{"qe_id":5,"pce_id":"0000"}""", "qe_id must be a string")]
    [InlineData("""[1,2]""", "The body must be a JSON object")]
    [InlineData("""{"qe_id":""", "The body is not JSON")]
    public async Task Bad_registrations_are_400_naming_the_field(string json, string reason)
    {
        using var response = await _node.SendAsync(HttpMethod.Post, "platforms", json, ("user-token", PccsNode.UserToken));
        await AssertError(response, HttpStatusCode.BadRequest, "Invalid request parameters. ", reason);
        Assert.Empty(_pcs.Requests);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_Content_too_large()
    {
        var big = "{\"qe_id\":\"" + new string('a', 3 * 1024 * 1024) + "\"}";
        using var response = await _node.SendAsync(HttpMethod.Post, "platforms", big, ("user-token", PccsNode.UserToken));
        await AssertError(response, HttpStatusCode.RequestEntityTooLarge, "Content too large.");
    }

    [Fact]
    public async Task Lazy_registration_fetches_the_platform_and_verification_collateral_and_queues_Not_available_levels()
    {
        _pcs.WithNotAvailableLevel = true;
        using var response = await _node.SendAsync(HttpMethod.Post, "platforms?update=all", Registration(), ("user-token", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var path in new[] { "/pckcerts", "/pckcrl?ca=processor", "/pckcrl?ca=platform", "/sgx/certification/v4/qe/identity?update=standard", "/qve/identity?update=early", "/tdx/certification/v4/qe/identity", "/rootcrl.der" })
        {
            Assert.True(_pcs.Count(path) >= 1, path + " was not fetched");
        }

        var before = _pcs.Requests.Count;
        using var cert = await _node.GetAsync(PckCertQuery(ppid: null));
        Assert.Equal(HttpStatusCode.OK, cert.StatusCode);
        using var crl = await _node.GetAsync("pckcrl?ca=platform");
        Assert.Equal(HttpStatusCode.OK, crl.StatusCode);
        Assert.Equal(before, _pcs.Requests.Count);

        using var na = await _node.GetAsync("platforms?source=reg_na", ("admin-token", PccsNode.AdminToken));
        Assert.Equal("1", Header(na, "platform-count"));
        var row = JsonNode.Parse(await na.Content.ReadAsStringAsync())!.AsArray().Single()!;
        Assert.Equal("0C0C0303FF0100000000000000000000", row["cpu_svn"]!.GetValue<string>());
        Assert.Equal("0E00", row["pce_svn"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_cache_listing_filters_by_FMSPC_and_a_bare_FMSPC_is_400()
    {
        using var fetched = await _node.GetAsync(PckCertQuery());
        Assert.Equal(HttpStatusCode.OK, fetched.StatusCode);
        using var all = await _node.GetAsync("platforms?source=[]", ("admin-token", PccsNode.AdminToken));
        Assert.Equal("1", Header(all, "platform-count"));
        var row = JsonNode.Parse(await all.Content.ReadAsStringAsync())!.AsArray().Single()!;
        Assert.Equal(QeId.ToUpperInvariant(), row["qe_id"]!.GetValue<string>());
        Assert.Equal(Ppid.ToUpperInvariant(), row["enc_ppid"]!.GetValue<string>());
        using var other = await _node.GetAsync("platforms?source=[00906ED50000]", ("admin-token", PccsNode.AdminToken));
        Assert.Equal("[]", await other.Content.ReadAsStringAsync());
        using var bare = await _node.GetAsync("platforms?source=00A067110000", ("admin-token", PccsNode.AdminToken));
        await AssertError(bare, HttpStatusCode.BadRequest, "Invalid request parameters.", "bracketed FMSPC list");
        using var noToken = await _node.GetAsync("platforms?source=[]", ("user-token", PccsNode.UserToken));
        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
    }

    [Fact]
    public async Task Refresh_refetches_what_is_cached_and_certs_take_empty_or_a_list_of_FMSPCs()
    {
        using var fetched = await _node.GetAsync(PckCertQuery());
        using var crl = await _node.GetAsync("pckcrl?ca=processor");
        var tcbBefore = _pcs.Count("/sgx/certification/v4/tcb");
        using var refresh = await _node.SendAsync(HttpMethod.Post, "refresh", null, ("admin-token", PccsNode.AdminToken));
        Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
        Assert.True(_pcs.Count("/sgx/certification/v4/tcb") > tcbBefore);
        Assert.Equal(2, _pcs.Count("/pckcrl"));

        using var certs = await _node.GetAsync("refresh?type=certs&fmspc=", ("admin-token", PccsNode.AdminToken));
        Assert.Equal(HttpStatusCode.OK, certs.StatusCode);
        Assert.Equal(2, _pcs.Count("/pckcerts"));
        using var listed = await _node.GetAsync("refresh?type=certs&fmspc=00906ED50000,00a067110000", ("admin-token", PccsNode.AdminToken));
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Equal(3, _pcs.Count("/pckcerts"));
        using var other = await _node.GetAsync("refresh?type=certs&fmspc=00906ED50000", ("admin-token", PccsNode.AdminToken));
        Assert.Equal(3, _pcs.Count("/pckcerts"));

        using var badType = await _node.GetAsync("refresh?type=crls", ("admin-token", PccsNode.AdminToken));
        await AssertError(badType, HttpStatusCode.BadRequest, "Invalid request parameters.", "type must be");
        using var badFmspc = await _node.GetAsync("refresh?type=certs&fmspc=123", ("admin-token", PccsNode.AdminToken));
        await AssertError(badFmspc, HttpStatusCode.BadRequest, "Invalid request parameters.", "fmspc must be exactly 12 hex digits");
        using var noToken = await _node.GetAsync("refresh");
        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
    }

    [Fact]
    public async Task A_refresh_PCS_refuses_is_503_and_keeps_the_cache()
    {
        using var fetched = await _node.GetAsync("tcb?fmspc=00a067110000");
        _pcs.FailWith = 404;
        using var refresh = await _node.GetAsync("refresh", ("admin-token", PccsNode.AdminToken));
        await AssertError(refresh, HttpStatusCode.ServiceUnavailable, "Server is currently unable to process the request.", "Refresh failed");
        _pcs.FailWith = 0;
        using var still = await _node.GetAsync("tcb?fmspc=00a067110000");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }

    [Fact]
    public async Task Off_mounts_nothing()
    {
        await using var node = await PccsNode.StartAsync(PccsFillMode.Off, _pcs);
        using var response = await node.GetAsync("tcb?fmspc=00a067110000");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("\"code\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_pcs.Requests);
    }

    [Fact]
    public async Task Data_survives_a_restart_and_an_offline_node_serves_it()
    {
        using (var cert = await _node.GetAsync(PckCertQuery()))
        {
            Assert.Equal(HttpStatusCode.OK, cert.StatusCode);
        }

        using (var qe = await _node.GetAsync("qe/identity"))
        {
            Assert.Equal(HttpStatusCode.OK, qe.StatusCode);
        }

        await _node.StopAsync();
        var requests = _pcs.Requests.Count;
        _node = await PccsNode.StartAsync(PccsFillMode.Offline, _pcs, data: _node.DataDirectory);
        using var again = await _node.GetAsync(PckCertQuery(ppid: null));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(PccsFakePcs.Tcbm, Header(again, "SGX-TCBm"));
        using var identity = await _node.GetAsync("qe/identity");
        Assert.Equal(HttpStatusCode.OK, identity.StatusCode);
        using var tcb = await _node.GetAsync("tcb?fmspc=00a067110000");
        Assert.Equal(HttpStatusCode.OK, tcb.StatusCode);
        using var missing = await _node.GetAsync("qve/identity");
        await AssertError(missing, HttpStatusCode.NotFound, "No cache data for this platform. ", "offline");
        Assert.Equal(requests, _pcs.Requests.Count);
    }
}
