using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Veritee.Dcap;
using Veritee.Sgx;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>
/// A node whose <c>--collateral</c> folder holds one TDX vector case in <c>&lt;FMSPC&gt;/tdx/</c>, an SGX bundle in
/// <c>&lt;FMSPC&gt;/</c> (so the TDX one must be chosen by the TEE, not found first), and the SGX sample platform's
/// bundle at the top (for the SGX quote). The clock stands at the case's verification time.
/// </summary>
public sealed class TdxNode : ServiceFixture
{
    private const string SgxCase = "sgx-v3-oe-envelope-legacy-root-2022-05";
    private readonly string _collateral = Path.Combine(Path.GetTempPath(), "veritee-tdx-collateral-" + Guid.NewGuid().ToString("N"));
    private readonly Func<ServiceOptions, ServiceOptions>? _configure;

    public TdxNode(string caseId, Func<ServiceOptions, ServiceOptions>? configure = null)
    {
        CaseId = caseId;
        _configure = configure;
        var fmspc = TdxVmTests.Fmspc(caseId);
        Copy(Vectors.DcapCase(caseId), Path.Combine(_collateral, fmspc, "tdx"));
        Copy(Vectors.DcapCase(SgxCase), Path.Combine(_collateral, fmspc));
        Copy(Vectors.DcapCase(SgxCase), _collateral);
        Clock.Now = TdxVmTests.CaseTime(caseId);
    }

    public string CaseId { get; }

    public static async Task<TdxNode> StartAsync(string caseId, Func<ServiceOptions, ServiceOptions>? configure = null)
    {
        var node = new TdxNode(caseId, configure);
        await node.InitializeAsync();
        return node;
    }

    protected override ServiceOptions Configure(ServiceOptions options)
    {
        options = options with { CollateralDirectory = _collateral };
        return _configure is null ? options : _configure(options);
    }

    public async Task StopAsync()
    {
        await DisposeAsync();
        Directory.Delete(_collateral, recursive: true);
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var name in Veritee.Dcap.Collateral.QuoteCollateral.FolderFiles)
        {
            File.Copy(Path.Combine(from, name), Path.Combine(to, name));
        }
    }
}

public sealed class TdxVmTests
{
    /// <summary>Real TD quotes that Intel's QVL verifies (non-terminal statuses), v4 and v5, five FMSPCs.</summary>
    public static readonly TheoryData<string> VerifiedCases = new(
        "tdx-v4-uptodate-2023-06", "tdx-v4-uptodate-2025-07", "tdx-v4-uptodate-2025-09", "tdx-v4-module1-uptodate-2025-10",
        "tdx-v4-outofdate-2025-02", "tdx-v4-outofdate-2025-06", "tdx-v4-outofdate-2025-10", "tdx-v5-td15-uptodate-2025-06",
        "tdx-v5-td-relaunch-advised-2025-03", "tdx-v5-module-outofdate-2025-10");

    /// <summary>Real TD quotes whose TCB Intel's QVL refuses.</summary>
    public static readonly TheoryData<string> TerminalCases = new(
        "tdx-v4-tcb-not-supported-2023-06", "tdx-v5-tcb-not-supported-2025-06", "tdx-v5-tcb-not-supported-2026-03");

    private const string UpToDateV4 = "tdx-v4-uptodate-2023-06";
    private const string Td15 = "tdx-v5-td15-uptodate-2025-06";

    private static readonly string[] ApiVersions = ["2025-06-01", "2023-04-01-preview", "2026-03-11-preview"];

    internal static JsonObject Case(string id) => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(Vectors.DcapCase(id), "case.json")))!;

    internal static string Fmspc(string id) => Case(id)["pck"]!["fmspc"]!.GetValue<string>().ToUpperInvariant();

    internal static DateTimeOffset CaseTime(string id) => DateTimeOffset.FromUnixTimeSeconds(Case(id)["verification_time"]!["unix"]!.GetValue<long>());

    private static byte[] QuoteOf(string id) => File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "quote.bin"));

    private static string B64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    private static string Body(byte[] quote, string? extra = null) => "{\"quote\":\"" + B64Url(quote) + "\"" + extra + "}";

    private static Task<(HttpStatusCode Status, JsonObject Body)> Attest(TdxNode node, byte[] quote, string? extra = null, string apiVersion = "2025-06-01", string type = "TdxVm") =>
        node.Send(HttpMethod.Post, $"/attest/{type}?api-version={apiVersion}", Body(quote, extra));

    private static string Code(JsonObject body) => body["error"]!["code"]!.GetValue<string>();

    private static string Message(JsonObject body) => body["error"]!["message"]!.GetValue<string>();

    /// <summary>
    /// The TD report fields read straight from the quote bytes at the offsets of the TDX quote layout (v4 body at 48,
    /// v5 body at 54 after its type and size), independent of Veritee's parser.
    /// </summary>
    private static Dictionary<string, object> ExpectedClaims(byte[] q)
    {
        var version = BinaryPrimitives.ReadUInt16LittleEndian(q);
        var body = version == 4 ? 48 : 54;
        string H(int rel, int size) => Convert.ToHexStringLower(q.AsSpan(body + rel, size));
        var attributes = BinaryPrimitives.ReadUInt64LittleEndian(q.AsSpan(body + 120, 8));
        return new Dictionary<string, object>
        {
            ["tdx_tee_tcb_svn"] = H(0, 16),
            ["tdx_seamsvn"] = (long)(q[body] | (q[body + 1] << 8)),
            ["tdx_mrseam"] = H(16, 48),
            ["tdx_mrsignerseam"] = H(64, 48),
            ["tdx_seam_attributes"] = H(112, 8),
            ["tdx_td_attributes"] = H(120, 8),
            ["tdx_td_attributes_debug"] = (attributes & 1) != 0,
            ["tdx_td_attributes_septve_disable"] = (attributes & (1UL << 28)) != 0,
            ["tdx_td_attributes_protection_keys"] = (attributes & (1UL << 30)) != 0,
            ["tdx_td_attributes_key_locker"] = (attributes & (1UL << 31)) != 0,
            ["tdx_td_attributes_perfmon"] = (attributes & (1UL << 63)) != 0,
            ["dbgstat"] = (attributes & 0xFF) != 0 ? "enabled" : "disabled",
            ["tdx_xfam"] = H(128, 8),
            ["tdx_mrtd"] = H(136, 48),
            ["tdx_mrconfigid"] = H(184, 48),
            ["tdx_mrowner"] = H(232, 48),
            ["tdx_mrownerconfig"] = H(280, 48),
            ["tdx_rtmr0"] = H(328, 48),
            ["tdx_rtmr1"] = H(376, 48),
            ["tdx_rtmr2"] = H(424, 48),
            ["tdx_rtmr3"] = H(472, 48),
            ["tdx_report_data"] = H(520, 64),
        };
    }

    private static void AssertClaimsEqualQuote(JsonObject claims, byte[] quote)
    {
        foreach (var (name, expected) in ExpectedClaims(quote))
        {
            var actual = claims[name];
            Assert.True(actual is not null, $"claim {name} is missing");
            object got = expected switch
            {
                string => actual!.GetValue<string>(),
                bool => actual!.GetValue<bool>(),
                _ => actual!.GetValue<long>(),
            };
            Assert.True(expected.Equals(got), $"claim {name}: quote {expected}, token {got}");
        }
    }

    [Theory]
    [MemberData(nameof(VerifiedCases))]
    public async Task A_verified_real_TD_quote_attests_with_claims_equal_to_the_quote_fields(string caseId)
    {
        var node = await TdxNode.StartAsync(caseId);
        try
        {
            var quote = QuoteOf(caseId);
            var apiVersion = ApiVersions[Math.Abs(caseId.GetHashCode(StringComparison.Ordinal)) % ApiVersions.Length];
            var (status, body) = await Attest(node, quote, ",\"nonce\":\"n-42\"", apiVersion);
            Assert.True(status == HttpStatusCode.OK, $"{caseId} at {apiVersion}: {status} {body.ToJsonString()}");
            var token = body["token"]!.GetValue<string>();
            var claims = Jwt.Claims(token);
            AssertClaimsEqualQuote(claims, quote);
            Assert.Equal(Case(caseId)["expected"]!["tcb_status"]!.GetValue<string>(), claims["attester_tcb_status"]!.GetValue<string>());
            Assert.Equal("tdxvm", claims["x-ms-attestation-type"]!.GetValue<string>());
            Assert.Equal("https://aka.ms/maa-eat-profile-tdxvm", claims["eat_profile"]!.GetValue<string>());
            Assert.Equal("generic", claims["intuse"]!.GetValue<string>());
            Assert.Equal("n-42", claims["nonce"]!.GetValue<string>());
            Assert.Equal(AttestationEngine.PolicyHash(DefaultPolicies.TdxVm), claims["x-ms-policy-hash"]!.GetValue<string>());

            // Default off: none of the extension claims, and the default policy issues nothing (so no x-ms-policy, as MAA's sample).
            Assert.DoesNotContain(claims, p => p.Key is "tdx_tee_tcb_svn2" or "tdx_mrservicetd" or "attester_advisory_ids" or "attester_tcb_date" or "x-ms-policy" or "veritee-simulated");

            // Same envelope as SGX tokens: RS256 with jku/kid, 8 h, iat = nbf, signed by /certs.
            Assert.Matches("^\\{\"alg\":\"RS256\",\"jku\":\"[^\"]+/certs\",\"kid\":\"[^\"]+\",\"typ\":\"JWT\"\\}$", Jwt.HeaderText(token));
            Assert.Equal(claims["iat"]!.GetValue<long>() + 28800, claims["exp"]!.GetValue<long>());
            Assert.Equal(claims["iat"]!.GetValue<long>(), claims["nbf"]!.GetValue<long>());
            Assert.Equal(CaseTime(caseId).ToUnixTimeSeconds(), claims["iat"]!.GetValue<long>());
            using var certs = await node.Http.GetAsync(node.BaseUrl + "/certs");
            Assert.True(Jwt.VerifiesWith(token, (JsonObject)JsonNode.Parse(await certs.Content.ReadAsStringAsync())!));
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Theory]
    [MemberData(nameof(TerminalCases))]
    public async Task A_real_TD_quote_whose_TCB_is_not_supported_is_refused(string caseId)
    {
        var node = await TdxNode.StartAsync(caseId);
        try
        {
            var (status, body) = await Attest(node, QuoteOf(caseId));
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("InvalidParameter", Code(body));
            Assert.Contains("TCB_NOT_SUPPORTED", Message(body), StringComparison.Ordinal);
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task TDX_collateral_comes_from_the_tdx_paths_of_a_collateral_service_and_is_cached()
    {
        const string caseId = "tdx-v4-uptodate-2025-09";
        await using var pcs = await FakePcs.StartAsync(Vectors.DcapCase(caseId));
        var node = await TdxNode.StartAsync(caseId, o => o with { CollateralDirectory = null, CollateralServiceUrl = new Uri(pcs.Url), RootCaCrlUrl = new Uri(pcs.Url + "/rootcrl.der") });
        try
        {
            var quote = QuoteOf(caseId);
            var (first, body) = await Attest(node, quote);
            Assert.True(first == HttpStatusCode.OK, body.ToJsonString());
            Assert.Equal(["/rootcrl.der", "/sgx/certification/v4/pckcrl", "/tdx/certification/v4/qe/identity", "/tdx/certification/v4/tcb"], pcs.Paths.Order(StringComparer.Ordinal));
            var (second, _) = await Attest(node, quote);
            Assert.Equal(HttpStatusCode.OK, second);
            Assert.Equal(4, pcs.Requests);
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task A_token_has_every_claim_of_MAAs_published_TDX_token_with_the_same_JSON_types()
    {
        var sample = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(Vectors.Directory, "maa", "tdx-token-doc", "maa-tdx-sample-token.claims.json")))!;
        var node = await TdxNode.StartAsync(UpToDateV4);
        try
        {
            var (status, body) = await Attest(node, QuoteOf(UpToDateV4));
            Assert.Equal(HttpStatusCode.OK, status);
            var claims = Jwt.Claims(body["token"]!.GetValue<string>());

            // Not ours to issue: Azure's CVM compliance verdict (criteria unpublished); x-ms-runtime needs runtime data
            // bound in report_data, which a real vector quote cannot have for data we choose.
            string[] notIssued = ["x-ms-compliance-status", "x-ms-runtime"];
            foreach (var (name, value) in sample)
            {
                if (notIssued.Contains(name))
                {
                    Assert.False(claims.ContainsKey(name), name);
                    continue;
                }

                Assert.True(claims.ContainsKey(name), $"MAA's claim {name} is missing");
                Assert.Equal(value!.GetValueKind(), claims[name]!.GetValueKind());
                if (value.GetValueKind() == JsonValueKind.String && name.StartsWith("tdx_", StringComparison.Ordinal))
                {
                    Assert.Equal(value.GetValue<string>().Length, claims[name]!.GetValue<string>().Length);
                    Assert.Matches("^[0-9a-f]+$", claims[name]!.GetValue<string>());
                }
            }

            // Nothing beyond MAA's set but jti-like service claims both have.
            Assert.Empty(claims.Select(p => p.Key).Except(sample.Select(p => p.Key)));
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task Extension_claims_appear_only_when_switched_on()
    {
        var quote = QuoteOf(Td15);
        var on = await TdxNode.StartAsync(Td15, o => o with { TdxExtensionClaims = true });
        try
        {
            var (status, body) = await Attest(on, quote);
            Assert.Equal(HttpStatusCode.OK, status);
            var claims = Jwt.Claims(body["token"]!.GetValue<string>());
            Assert.Equal(Convert.ToHexStringLower(quote.AsSpan(54 + 584, 16)), claims["tdx_tee_tcb_svn2"]!.GetValue<string>());
            Assert.Equal(Convert.ToHexStringLower(quote.AsSpan(54 + 600, 48)), claims["tdx_mrservicetd"]!.GetValue<string>());
            Assert.Equal(JsonValueKind.Array, claims["attester_advisory_ids"]!.GetValueKind());
            Assert.Matches("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$", claims["attester_tcb_date"]!.GetValue<string>());
            Assert.Equal(Case(Td15)["expected"]!["matched_tdx_tcb_level"]!["date"]!.GetValue<string>(), claims["attester_tcb_date"]!.GetValue<string>());
        }
        finally
        {
            await on.StopAsync();
        }
    }

    [Fact]
    public async Task Evidence_of_the_wrong_TEE_is_refused_on_each_route_and_api_versions_follow_MAA()
    {
        var node = await TdxNode.StartAsync(UpToDateV4);
        try
        {
            var sgxQuote = File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"));
            var (sgxOnTdx, error) = await Attest(node, sgxQuote);
            Assert.Equal(HttpStatusCode.BadRequest, sgxOnTdx);
            Assert.Equal("InvalidParameter", Code(error));
            Assert.Contains("must be a TDX quote", Message(error), StringComparison.Ordinal);

            var td = QuoteOf(UpToDateV4);
            foreach (var type in new[] { "SgxEnclave", "OpenEnclave" })
            {
                var body = type == "OpenEnclave" ? "{\"report\":\"" + B64Url(td) + "\"}" : Body(td);
                var (tdOnSgx, error2) = await node.Send(HttpMethod.Post, $"/attest/{type}?api-version=2025-06-01", body);
                Assert.Equal(HttpStatusCode.BadRequest, tdOnSgx);
                Assert.Equal("InvalidParameter", Code(error2));
                Assert.Contains(type == "OpenEnclave" ? "Open Enclave" : "must be an SGX enclave quote", Message(error2), StringComparison.Ordinal);
            }

            // TdxVm did not exist before 2025-06-01: 404 there, 400 for unknown or missing versions.
            foreach (var old in new[] { "2020-10-01", "2022-08-01" })
            {
                var (missing, notFound) = await Attest(node, td, apiVersion: old);
                Assert.Equal(HttpStatusCode.NotFound, missing);
                Assert.Equal("NotFound", Code(notFound));
            }

            var (unknown, bad) = await Attest(node, td, apiVersion: "2024-01-01");
            Assert.Equal(HttpStatusCode.BadRequest, unknown);
            Assert.Equal("InvalidParameter", Code(bad));
            var (none, bad2) = await node.Send(HttpMethod.Post, "/attest/TdxVm", Body(td));
            Assert.Equal(HttpStatusCode.BadRequest, none);
            Assert.Contains("api-version", Message(bad2), StringComparison.Ordinal);
            foreach (var version in ApiVersions)
            {
                var (ok, _) = await Attest(node, td, apiVersion: version, type: "tdxvm");
                Assert.Equal(HttpStatusCode.OK, ok);
            }
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task Runtime_and_init_time_data_that_do_not_match_the_TD_report_are_refused()
    {
        var node = await TdxNode.StartAsync(UpToDateV4);
        try
        {
            var quote = QuoteOf(UpToDateV4);
            var data = B64Url(Encoding.UTF8.GetBytes("{\"nonce\":\"not what the TD bound\"}"));
            var (status, body) = await Attest(node, quote, ",\"runtimeData\":{\"data\":\"" + data + "\",\"dataType\":\"JSON\"}");
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("InvalidParameter", Code(body));
            Assert.Contains("SuppliedRuntimeDataDigest", Message(body), StringComparison.Ordinal);

            var (initStatus, initBody) = await Attest(node, quote, ",\"initTimeData\":{\"data\":\"" + data + "\",\"dataType\":\"Binary\"}");
            Assert.Equal(HttpStatusCode.BadRequest, initStatus);
            Assert.Contains("MRCONFIGID", Message(initBody), StringComparison.Ordinal);
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task A_request_shaped_as_Microsofts_CVM_tools_send_it_is_attested()
    {
        var node = await TdxNode.StartAsync(Td15);
        try
        {
            // api-version 2023-04-01-preview, unpadded base64url, only Content-Type and Accept headers, no bearer.
            var encoded = B64Url(QuoteOf(Td15)).TrimEnd('=');
            using var request = new HttpRequestMessage(HttpMethod.Post, node.BaseUrl + "/attest/TdxVm?api-version=2023-04-01-preview")
            {
                Content = new StringContent("{\"quote\": \"" + encoded + "\"}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Accept.ParseAdd("application/json");
            using var response = await node.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var token = ((JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!)["token"]!.GetValue<string>();
            Assert.Equal("tdxvm", Jwt.Claims(token)["x-ms-attestation-type"]!.GetValue<string>());

            // Standard base64 with padding too (the spec's own example uses it).
            var (standard, _) = await node.Send(HttpMethod.Post, "/attest/TdxVm?api-version=2025-06-01", "{\"quote\":\"" + Convert.ToBase64String(QuoteOf(Td15)) + "\"}");
            Assert.Equal(HttpStatusCode.OK, standard);
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task Truncated_and_bit_flipped_TD_quotes_get_a_400_envelope_never_a_500()
    {
        var node = await TdxNode.StartAsync(UpToDateV4);
        try
        {
            var quote = QuoteOf(UpToDateV4);
            var parsed = Quote.Parse(quote);
            var cuts = new[] { 0, 1, 47, 48, 300, 631, 632, 636, 700, 1000, 1300, 2000, parsed.Length - 1 };
            var flips = new[] { 0, 2, 4, 8, 28, 48, 168, 184, 568, 600, 632, 640, 700, 1100, 1200, 1400, 1500, 2000, 2001, 3000, 3100, 4000, 4500, parsed.Length - 2 };
            var variants = cuts.Select(c => (What: $"cut at {c}", Bytes: quote[..c], Harmless: false))
                .Concat(flips.Select(f => (What: $"bit flip at {f}", Bytes: Flip(quote, f), Harmless: quote[f] == (byte)'\n')));
            foreach (var (what, bytes, harmless) in variants)
            {
                var (status, body) = await node.Send(HttpMethod.Post, "/attest/TdxVm?api-version=2025-06-01", Body(bytes));
                if (harmless)
                {
                    // A line break of the PEM chain turned into another whitespace character: the same certificates, so
                    // the same verdict as for the intact quote (nothing signed changed).
                    Assert.True(status == HttpStatusCode.OK, $"{what}: {status} {body.ToJsonString()}");
                    continue;
                }

                Assert.True(status == HttpStatusCode.BadRequest, $"{what}: {status} {body.ToJsonString()}");
                Assert.Equal("InvalidParameter", Code(body));
            }

            // The service still attests the intact quote afterwards.
            var (ok, _) = await Attest(node, quote);
            Assert.Equal(HttpStatusCode.OK, ok);
        }
        finally
        {
            await node.StopAsync();
        }

        static byte[] Flip(byte[] bytes, int at)
        {
            var copy = (byte[])bytes.Clone();
            copy[at] ^= 0x01;
            return copy;
        }
    }

    [Fact]
    public async Task Errors_carry_x_ms_error_code_and_tcbbaselines_are_an_empty_list()
    {
        var node = await TdxNode.StartAsync(UpToDateV4);
        try
        {
            foreach (var (path, code) in new[] { ("/attest/TdxVm?api-version=2022-08-01", "NotFound"), ("/attest/TdxVm?api-version=2025-06-01", "InvalidParameter"), ("/attest/SgxEnclave?api-version=2020-10-01", "InvalidParameter") })
            {
                using var response = await node.Http.PostAsync(node.BaseUrl + path, new StringContent("{}", Encoding.UTF8, "application/json"));
                Assert.Equal(code, Assert.Single(response.Headers.GetValues("x-ms-error-code")));
                Assert.Equal(code, Code((JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!));
            }

            foreach (var type in new[] { "TdxVm", "SgxEnclave", "OpenEnclave" })
            {
                using var response = await node.Http.GetAsync(node.BaseUrl + $"/tcbbaselines/{type}?api-version=2025-06-01");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("{\"tcbBaselines\":[]}", await response.Content.ReadAsStringAsync());
            }

            var (old, notFound) = await node.Send(HttpMethod.Get, "/tcbbaselines/TdxVm?api-version=2022-08-01");
            Assert.Equal(HttpStatusCode.NotFound, old);
            Assert.Equal("NotFound", Code(notFound));
            var (unknown, bad) = await node.Send(HttpMethod.Get, "/tcbbaselines/Tpm?api-version=2025-06-01");
            Assert.Equal(HttpStatusCode.BadRequest, unknown);
            Assert.Equal("InvalidParameter", Code(bad));
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task TdxVm_policy_is_got_set_and_reset_and_the_documented_example_pins_MRTD()
    {
        var node = await TdxNode.StartAsync(UpToDateV4);
        try
        {
            var quote = QuoteOf(UpToDateV4);
            var mrtd = (string)ExpectedClaims(quote)["tdx_mrtd"];
            var (got, body) = await node.Send(HttpMethod.Get, "/policies/TdxVm?api-version=2025-06-01", admin: true);
            Assert.Equal(HttpStatusCode.OK, got);
            Assert.Equal(DefaultPolicies.TdxVm, PolicyText(body));

            // The SGX default stays the SGX default: the store keys policies by type.
            var (_, sgx) = await node.Send(HttpMethod.Get, "/policies/SgxEnclave?api-version=2025-06-01", admin: true);
            Assert.Equal(DefaultPolicies.Sgx, PolicyText(sgx));

            // The example of docs/policy.md with a wrong MRTD: refused.
            var wrong = ExamplePolicy(new string('0', 96));
            var (set, _) = await node.Send(HttpMethod.Put, "/policies/TdxVm?api-version=2025-06-01", Veritee.Tokens.PolicyJws.CreateUnsigned(wrong), "text/plain", admin: true);
            Assert.Equal(HttpStatusCode.OK, set);
            var (denied, error) = await Attest(node, quote);
            Assert.Equal(HttpStatusCode.BadRequest, denied);
            Assert.Equal("PolicyEvaluationError", Code(error));

            // The right MRTD: permitted, and mrtd is issued (top level and in x-ms-policy).
            var (set2, _) = await node.Send(HttpMethod.Put, "/policies/tdxvm?api-version=2020-10-01", Veritee.Tokens.PolicyJws.CreateUnsigned(ExamplePolicy(mrtd)), "text/plain", admin: true);
            Assert.Equal(HttpStatusCode.OK, set2);
            var (ok, token) = await Attest(node, quote);
            Assert.Equal(HttpStatusCode.OK, ok);
            var claims = Jwt.Claims(token["token"]!.GetValue<string>());
            Assert.Equal(mrtd, claims["mrtd"]!.GetValue<string>());
            Assert.Equal(mrtd, claims["x-ms-policy"]!["mrtd"]!.GetValue<string>());
            Assert.Equal(AttestationEngine.PolicyHash(ExamplePolicy(mrtd)), claims["x-ms-policy-hash"]!.GetValue<string>());

            var (reset, _) = await node.Send(HttpMethod.Post, "/policies/TdxVm:reset?api-version=2025-06-01", Veritee.Tokens.PolicyJws.CreateUnsigned(null), "text/plain", admin: true);
            Assert.Equal(HttpStatusCode.OK, reset);
            var (_, after) = await node.Send(HttpMethod.Get, "/policies/TdxVm?api-version=2025-06-01", admin: true);
            Assert.Equal(DefaultPolicies.TdxVm, PolicyText(after));
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public void The_documented_example_policy_refuses_a_debug_TD()
    {
        // A real quote's TD report with the debug bit set (a signed debug quote exists only from the simulated TD);
        // the policy sees the same claims the service builds.
        var quote = QuoteOf(UpToDateV4);
        var body = quote.AsSpan(48, TdReportBody.Size10).ToArray();
        var mrtd = Convert.ToHexStringLower(body.AsSpan(136, 48));
        var policy = PolicyCompiler.Compile(ExamplePolicy(mrtd));
        var limits = Veritee.Policy.PolicyEvaluationLimits.Default;
        var clean = policy.Evaluate(AttestationEngine.TdIncomingClaims(new TdReportBody(body), TcbStatus.UpToDate, []), limits, default);
        Assert.True(clean.Authorized);
        body[120] |= 0x01;
        var debug = policy.Evaluate(AttestationEngine.TdIncomingClaims(new TdReportBody(body), TcbStatus.UpToDate, []), limits, default);
        Assert.False(debug.Authorized);
        var outOfDate = policy.Evaluate(AttestationEngine.TdIncomingClaims(new TdReportBody(quote.AsSpan(48, TdReportBody.Size10).ToArray()), TcbStatus.OutOfDate, ["INTEL-SA-00960"]), limits, default);
        Assert.False(outOfDate.Authorized);
    }

    [Fact]
    public void Init_time_data_binds_to_MRCONFIGID_as_padded_SHA_256_or_SHA_384()
    {
        // The service path is exercised end to end only with a TD whose MRCONFIGID can be chosen (the simulated TD);
        // real vector quotes have it zero. This pins the byte rule itself.
        var data = Encoding.UTF8.GetBytes("{\"workload\":\"demo\"}");
        var padded = new byte[48];
        SHA256.HashData(data).CopyTo(padded, 0);
        Assert.True(AttestationEngine.InitTimeDataMatches(data, padded));
        Assert.True(AttestationEngine.InitTimeDataMatches(data, SHA384.HashData(data)));
        var trailing = (byte[])padded.Clone();
        trailing[47] = 1;
        Assert.False(AttestationEngine.InitTimeDataMatches(data, trailing));
        Assert.False(AttestationEngine.InitTimeDataMatches(data, new byte[48]));
        Assert.False(AttestationEngine.InitTimeDataMatches([.. data, 0], padded));
    }

    /// <summary>The example policy of docs/policy.md (TdxVm).</summary>
    internal static string ExamplePolicy(string mrtd) =>
        "version= 1.2;\n" +
        "authorizationrules {\n" +
        "  [type==\"tdx_td_attributes_debug\", value==false] &&\n" +
        "  [type==\"attester_tcb_status\", value==\"UpToDate\"] &&\n" +
        $"  [type==\"tdx_mrtd\", value==\"{mrtd}\"] => permit();\n" +
        "};\n" +
        "issuancerules {\n" +
        "  c:[type==\"tdx_mrtd\"] => issue(type=\"mrtd\", value=c.value);\n" +
        "};\n";

    private static string PolicyText(JsonObject response)
    {
        var jws = Jwt.Claims(response["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>();
        var payload = (JsonObject)JsonNode.Parse(Jwt.Decode(jws.Split('.')[1]))!;
        return Encoding.UTF8.GetString(Jwt.Decode(payload["AttestationPolicy"]!.GetValue<string>()));
    }
}
