using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Veritee.Enclave;
using Veritee.Sgx;
using Veritee.TestSupport;

namespace Veritee.Cli.Tests;

/// <summary>
/// A loopback stand-in for an MAA TdxVm endpoint: real HTTP, /certs with its RS256 key, and /attest/TdxVm answering
/// with a token whose TDX claims are read from the posted quote (no quote verification: the CLI's side is under test).
/// <see cref="Mutate"/> lets a test make the service lie; <see cref="SignWith"/> lets it sign with a key it does not publish.
/// </summary>
public sealed class FakeTdxService : IAsyncLifetime
{
    public const long IssuedAt = 1750000000;

    private readonly RSA _key = RSA.Create(2048);
    private WebApplication? _app;

    public string BaseUrl { get; private set; } = string.Empty;

    public List<string> Queries { get; } = [];

    public List<JsonNode> Requests { get; } = [];

    public Action<JsonObject>? Mutate { get; set; }

    public RSA? SignWith { get; set; }

    public async Task InitializeAsync()
    {
        BaseUrl = Loopback.HttpUrl();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(BaseUrl);
        builder.Logging.ClearProviders();
        _app = builder.Build();
        var certificate = new CertificateRequest("CN=" + BaseUrl, _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UnixEpoch.AddYears(40), DateTimeOffset.UnixEpoch.AddYears(80));
        var jwks = new JsonObject { ["keys"] = new JsonArray(new JsonObject { ["kty"] = "RSA", ["kid"] = "fake-tdx", ["x5c"] = new JsonArray(Convert.ToBase64String(certificate.RawData)) }) }.ToJsonString();
        _app.MapGet("/certs", () => Results.Text(jwks, "application/json"));
        _app.MapPost("/attest/TdxVm", async (HttpContext context) =>
        {
            Queries.Add(context.Request.QueryString.Value ?? string.Empty);
            var request = (await JsonNode.ParseAsync(context.Request.Body))!;
            Requests.Add(request);
            var claims = Claims(request);
            Mutate?.Invoke(claims);
            return Results.Text(new JsonObject { ["token"] = Sign(claims, SignWith ?? _key) }.ToJsonString(), "application/json");
        });
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _key.Dispose();
    }

    private JsonObject Claims(JsonNode request)
    {
        var quote = Quote.Parse(Base64Url.DecodeFromChars(request["quote"]!.GetValue<string>()));
        var td = quote.TdReport;
        string H(ReadOnlyMemory<byte> b) => Convert.ToHexStringLower(b.Span);
        bool Bit(int n) => (td.TdAttributes.Span[n / 8] & (1 << (n % 8))) != 0;
        var claims = new JsonObject
        {
            ["attester_tcb_status"] = "UpToDate",
            ["dbgstat"] = Bit(0) ? "enabled" : "disabled",
            ["eat_profile"] = "https://aka.ms/maa-eat-profile-tdxvm",
            ["exp"] = IssuedAt + 28800,
            ["iat"] = IssuedAt,
            ["intuse"] = "generic",
            ["iss"] = BaseUrl,
            ["jti"] = "00",
            ["nbf"] = IssuedAt,
            ["tdx_mrconfigid"] = H(td.MrConfigId),
            ["tdx_mrowner"] = H(td.MrOwner),
            ["tdx_mrownerconfig"] = H(td.MrOwnerConfig),
            ["tdx_mrseam"] = H(td.MrSeam),
            ["tdx_mrsignerseam"] = H(td.MrSignerSeam),
            ["tdx_mrtd"] = H(td.MrTd),
            ["tdx_report_data"] = H(td.ReportData),
            ["tdx_rtmr0"] = H(td.RtMr(0)),
            ["tdx_rtmr1"] = H(td.RtMr(1)),
            ["tdx_rtmr2"] = H(td.RtMr(2)),
            ["tdx_rtmr3"] = H(td.RtMr(3)),
            ["tdx_seam_attributes"] = H(td.SeamAttributes),
            ["tdx_seamsvn"] = td.TeeTcbSvn.Span[0] | (td.TeeTcbSvn.Span[1] << 8),
            ["tdx_td_attributes"] = H(td.TdAttributes),
            ["tdx_td_attributes_debug"] = Bit(0),
            ["tdx_td_attributes_key_locker"] = Bit(31),
            ["tdx_td_attributes_perfmon"] = Bit(63),
            ["tdx_td_attributes_protection_keys"] = Bit(30),
            ["tdx_td_attributes_septve_disable"] = Bit(28),
            ["tdx_tee_tcb_svn"] = H(td.TeeTcbSvn),
            ["tdx_xfam"] = H(td.Xfam),
            ["x-ms-attestation-type"] = "tdxvm",
            ["x-ms-ver"] = "1.0",
        };
        if (request["runtimeData"] is { } runtime && runtime["dataType"]?.GetValue<string>() == "JSON")
        {
            claims["x-ms-runtime"] = JsonNode.Parse(Base64Url.DecodeFromChars(runtime["data"]!.GetValue<string>()));
        }

        return claims;
    }

    private string Sign(JsonObject claims, RSA key)
    {
        static string B64(string s) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(s));
        var header = new JsonObject { ["alg"] = "RS256", ["jku"] = BaseUrl + "/certs", ["kid"] = "fake-tdx", ["typ"] = "JWT" };
        var input = B64(header.ToJsonString()) + "." + B64(claims.ToJsonString());
        return input + "." + Base64Url.EncodeToString(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }
}

public sealed class TdAttestCliTests(FakeTdxService service) : IClassFixture<FakeTdxService>, IDisposable
{
    private const string At = "1750000100";
    private static readonly string Tdx = Path.Combine(Vectors.Directory, "tdx");
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-td-attest-cli-").FullName;

    public void Dispose()
    {
        service.Mutate = null;
        service.SignWith = null;
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The real Azure TD quote of Trustee's az-tdx-vtpm vectors with the paravisor's runtime JSON it binds.</summary>
    private static TdInfo AzureTd()
    {
        var hcl = AzureHclReport.Parse(File.ReadAllBytes(Path.Combine(Tdx, "trustee", "az-tdx-vtpm-hcl-report.bin")));
        return TdInfo.FromQuote(File.ReadAllBytes(Path.Combine(Tdx, "trustee", "az-tdx-vtpm-td-quote.bin")), hcl.VariableData.Span, runtimeDataIsJson: true);
    }

    private string Save(TdInfo info, string name = "td.info.json")
    {
        var path = Path.Combine(_dir, name);
        info.Save(path);
        return path;
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private (int Exit, string Out, string Err) Attest(string file, params string[] extra) =>
        Run(["attest", file, "--endpoint", service.BaseUrl, "--at", At, .. extra]);

    private static string CheckLine(string output, string label) =>
        output.Split('\n').Select(l => l.TrimEnd('\r')).Single(l => l.StartsWith(label.PadRight(35) + ": ", StringComparison.Ordinal));

    [Fact]
    public void A_real_Azure_TD_quote_with_its_runtime_JSON_passes_every_check_at_TdxVm_2025_06_01()
    {
        var info = AzureTd();
        var r = Attest(Save(info));
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Empty(r.Err);
        Assert.Equal("?api-version=2025-06-01", service.Queries[^1]);
        var sent = service.Requests[^1];
        Assert.Equal("JSON", sent["runtimeData"]!["dataType"]!.GetValue<string>());
        Assert.Equal(info.RuntimeData, Base64Url.DecodeFromChars(sent["runtimeData"]!["data"]!.GetValue<string>()));
        Assert.Contains("Attestation type                   : TdxVm (api-version 2025-06-01)", r.Out, StringComparison.Ordinal);
        Assert.Contains("VALIDATING MAA JWT TOKEN - CLAIMS MATCH CLIENT TD INFO", r.Out, StringComparison.Ordinal);
        foreach (var label in new[] { "Report Data", "Runtime Data", "Runtime Claims", "MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3", "MRCONFIGID", "MROWNER", "MROWNERCONFIG", "TD Attributes", "XFAM" })
        {
            Assert.EndsWith(": True", CheckLine(r.Out, label + " match"), StringComparison.Ordinal);
        }

        Assert.EndsWith(": False", CheckLine(r.Out, "Debug TD"), StringComparison.Ordinal);
        Assert.EndsWith(": UpToDate", CheckLine(r.Out, "TCB status"), StringComparison.Ordinal);
        Assert.Contains("PASSED (all 13 checks)", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void An_explicit_api_version_is_sent_to_TdxVm()
    {
        var r = Attest(Save(AzureTd()), "--api-version", "2023-04-01-preview");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Equal("?api-version=2023-04-01-preview", service.Queries[^1]);
    }

    [Fact]
    public void A_measurement_other_than_the_file_expects_fails_its_check()
    {
        var info = AzureTd() with { MrTdHex = new string('A', 96), Rtmr2Hex = new string('B', 96) };
        var r = Attest(Save(info), "--details");
        Assert.Equal(1, r.Exit);
        Assert.EndsWith(": False", CheckLine(r.Out, "MRTD match"), StringComparison.Ordinal);
        Assert.EndsWith(": False", CheckLine(r.Out, "RTMR2 match"), StringComparison.Ordinal);
        Assert.EndsWith(": True", CheckLine(r.Out, "RTMR1 match"), StringComparison.Ordinal);
        Assert.Contains("    We think   : " + new string('a', 96), r.Out, StringComparison.Ordinal);
        Assert.Contains("FAILED (2 of 13 checks: MRTD, RTMR2)", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_data_that_is_not_the_quotes_or_does_not_bind_the_runtime_data_fails()
    {
        // The service claims other report data than the quote carries.
        service.Mutate = c => c["tdx_report_data"] = new string('0', 128);
        var r = Attest(Save(AzureTd()));
        Assert.Equal(1, r.Exit);
        Assert.EndsWith(": False", CheckLine(r.Out, "Report Data match"), StringComparison.Ordinal);
        Assert.EndsWith(": False", CheckLine(r.Out, "Runtime Data match"), StringComparison.Ordinal);

        // Runtime data the quote does not bind: the token echoes the quote, whose report data is not its hash.
        service.Mutate = null;
        var other = AzureTd() with { RuntimeDataHex = Convert.ToHexString(Encoding.UTF8.GetBytes("{\"user-data\":\"00\"}")) };
        r = Attest(Save(other));
        Assert.Equal(1, r.Exit);
        Assert.EndsWith(": True", CheckLine(r.Out, "Report Data match"), StringComparison.Ordinal);
        Assert.EndsWith(": False", CheckLine(r.Out, "Runtime Data match"), StringComparison.Ordinal);
    }

    [Fact]
    public void Runtime_claims_other_than_the_files_JSON_fail_and_binary_runtime_data_has_no_such_check()
    {
        // The service echoes other JSON than was sent: on Azure the nonce (user-data) would then be read from the wrong place.
        service.Mutate = c => c["x-ms-runtime"] = new JsonObject { ["user-data"] = "00" };
        var r = Attest(Save(AzureTd()));
        Assert.Equal(1, r.Exit);
        Assert.EndsWith(": True", CheckLine(r.Out, "Runtime Data match"), StringComparison.Ordinal);
        Assert.EndsWith(": False", CheckLine(r.Out, "Runtime Claims match"), StringComparison.Ordinal);

        service.Mutate = c => c.Remove("x-ms-runtime");
        r = Attest(Save(AzureTd()));
        Assert.Equal(1, r.Exit);
        Assert.EndsWith(": False", CheckLine(r.Out, "Runtime Claims match"), StringComparison.Ordinal);

        // The same bytes sent as Binary: bound by hash only, no x-ms-runtime to compare.
        service.Mutate = null;
        r = Attest(Save(AzureTd() with { RuntimeDataType = "Binary" }));
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.DoesNotContain("Runtime Claims", r.Out, StringComparison.Ordinal);
        Assert.Contains("PASSED (all 12 checks)", r.Out, StringComparison.Ordinal);
        Assert.Equal("Binary", service.Requests[^1]["runtimeData"]!["dataType"]!.GetValue<string>());
    }

    [Fact]
    public void A_debug_TD_is_refused_unless_allowed()
    {
        var quote = File.ReadAllBytes(Path.Combine(Tdx, "trustee", "az-tdx-vtpm-td-quote.bin"));
        quote[48 + 120] |= 1; // v4 body at 48, td_attributes at 120: TUD.DEBUG
        var hcl = AzureHclReport.Parse(File.ReadAllBytes(Path.Combine(Tdx, "trustee", "az-tdx-vtpm-hcl-report.bin")));
        var path = Save(TdInfo.FromQuote(quote, hcl.VariableData.Span, runtimeDataIsJson: true));

        var r = Attest(path);
        Assert.Equal(1, r.Exit);
        Assert.EndsWith(": True", CheckLine(r.Out, "TD Attributes match"), StringComparison.Ordinal);
        Assert.Contains("True (refused: the host can read the TD's memory; --allow-debug accepts it)", CheckLine(r.Out, "Debug TD"), StringComparison.Ordinal);
        Assert.Contains("FAILED (1 of 14 checks: Debug TD)", r.Out, StringComparison.Ordinal);
        Assert.Contains("--allow-debug", r.Err, StringComparison.Ordinal);
        Assert.Single(r.Err.TrimEnd().Split('\n'));

        r = Attest(path, "--allow-debug");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.EndsWith("True (allowed by --allow-debug)", CheckLine(r.Out, "Debug TD"), StringComparison.Ordinal);

        // A token that says debug while the quote does not is refused as well (the file cannot vouch for the TD).
        service.Mutate = c =>
        {
            c["tdx_td_attributes_debug"] = true;
            c["tdx_td_attributes"] = "01" + c["tdx_td_attributes"]!.GetValue<string>()[2..];
        };
        r = Attest(Save(AzureTd(), "release.json"));
        Assert.Equal(1, r.Exit);
        Assert.EndsWith(": False", CheckLine(r.Out, "TD Attributes match"), StringComparison.Ordinal);
        Assert.Contains("refused", CheckLine(r.Out, "Debug TD"), StringComparison.Ordinal);
    }

    [Fact]
    public void Json_output_carries_checks_debug_and_verdict()
    {
        var r = Attest(Save(AzureTd()), "--json");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal("TdxVm", root.GetProperty("attestationType").GetString());
        Assert.True(root.GetProperty("token").GetProperty("valid").GetBoolean());
        Assert.Equal("UpToDate", root.GetProperty("token").GetProperty("attesterTcbStatus").GetString());
        Assert.Equal(13, root.GetProperty("checks").GetArrayLength());
        Assert.All(root.GetProperty("checks").EnumerateArray(), c => Assert.True(c.GetProperty("passed").GetBoolean()));
        Assert.False(root.GetProperty("debug").GetProperty("debuggable").GetBoolean());
        Assert.True(root.GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void A_token_not_signed_by_the_pinned_certs_is_invalid()
    {
        using var other = RSA.Create(2048);
        service.SignWith = other;
        var r = Attest(Save(AzureTd()));
        Assert.Equal(1, r.Exit);
        Assert.Contains("Token valid                        : False (BadSignature", r.Out, StringComparison.Ordinal);

        r = Attest(Save(AzureTd()), "--json");
        Assert.Equal(1, r.Exit);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal("BadSignature", doc.RootElement.GetProperty("token").GetProperty("reason").GetString());
    }

    [Fact]
    public void A_TD_file_with_a_bad_quote_or_field_is_an_input_error_on_one_line()
    {
        var sgxQuote = File.ReadAllBytes(Path.Combine(Vectors.DcapCase("sgx-v3-processorca-confsw-2025-07"), "quote.bin"));
        var r = Attest(Save(AzureTd() with { QuoteHex = Convert.ToHexString(sgxQuote) }));
        Assert.Equal(2, r.Exit);
        Assert.Contains("not a TD quote", r.Err, StringComparison.Ordinal);
        Assert.Single(r.Err.TrimEnd().Split('\n'));

        var json = AzureTd().ToJson().Replace("\"MrTdHex\"", "\"MrTdHexx\"", StringComparison.Ordinal);
        var path = Path.Combine(_dir, "missing.json");
        File.WriteAllText(path, json);
        r = Attest(path);
        Assert.Equal(2, r.Exit);
        Assert.Contains("\"MrTdHex\" is missing", r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain(service.Requests, q => q["quote"]!.GetValue<string>() == Base64Url.EncodeToString(sgxQuote));
    }

    [Fact]
    public void Allow_debug_is_refused_for_an_SGX_file()
    {
        var r = Attest(Path.Combine(Vectors.Directory, "maa", "azure-samples-quotes", "oe-sdk", "enclave.info.debug.json"), "--allow-debug");
        Assert.Equal(2, r.Exit);
        Assert.Contains("--allow-debug applies to TD evidence files", r.Err, StringComparison.Ordinal);
    }
}

/// <summary>Trustee's real TD quote with Intel-signed TDX collateral for its FMSPC verifies to the Intel root at the pinned time.</summary>
public sealed class TdxRealCollateralTests
{
    private static readonly string Case = Path.Combine(Vectors.Directory, "tdx", "cases", "trustee-tdx-v4-00a06d080000-outofdate-2025-10");

    private static (int Exit, string Out, string Err) Verify(string at)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = VeriteeCommand.Run(["verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", at, "--json"], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Trustee_quote_6_verifies_OutOfDate_inside_the_collateral_window_and_expires_at_its_end()
    {
        var r = Verify("2025-10-31T14:17:11Z");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        using (var doc = JsonDocument.Parse(r.Out))
        {
            var root = doc.RootElement;
            Assert.True(root.GetProperty("verified").GetBoolean());
            Assert.Equal("STATUS_TCB_OUT_OF_DATE", root.GetProperty("qvlStatus").GetString());
            Assert.Equal("OutOfDate", root.GetProperty("tcbStatus").GetString());
            Assert.Equal("UpToDate", root.GetProperty("tdxModuleStatus").GetString());
            Assert.False(root.GetProperty("collateralExpired").GetBoolean());
        }

        r = Verify("2025-11-12T10:45:32Z");
        Assert.Equal(1, r.Exit);
        using var expired = JsonDocument.Parse(r.Out);
        Assert.True(expired.RootElement.GetProperty("collateralExpired").GetBoolean());
    }

    [Theory]
    [InlineData("azure-trustee-tdx-v4-00806f050000-outofdate-2025-10", 0, "STATUS_TCB_OUT_OF_DATE", "OutOfDate", "2025-10-29T18:04:58Z")]
    [InlineData("trustee-tdx-v4-50806f000000-outofdate-2025-10", 0, "STATUS_TCB_OUT_OF_DATE", "OutOfDate", "2025-10-29T18:29:22Z")]
    [InlineData("azure-cvmtools-tdx-v4-90c06f000000-tcb-not-supported-2025-10", 1, "STATUS_TCB_NOT_SUPPORTED", null, null)]
    public void Real_Azure_and_Trustee_quotes_verify_with_Intel_TDX_collateral_at_the_pinned_time(string id, int exit, string status, string? tcbStatus, string? expiresAt)
    {
        var folder = Path.Combine(Vectors.Directory, "tdx", "cases", id);
        (int Exit, string Out, string Err) Run(string at)
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var code = VeriteeCommand.Run(["verify", Path.Combine(folder, "quote.bin"), "--collateral", folder, "--at", at, "--json"], stdout, stderr);
            return (code, stdout.ToString(), stderr.ToString());
        }

        var r = Run("2025-10-20T00:00:00Z");
        Assert.True(r.Exit == exit, r.Out + r.Err);
        using (var doc = JsonDocument.Parse(r.Out))
        {
            Assert.Equal(status, doc.RootElement.GetProperty("qvlStatus").GetString());
            Assert.Equal(tcbStatus, doc.RootElement.GetProperty("tcbStatus").GetString());
            Assert.False(doc.RootElement.GetProperty("collateralExpired").GetBoolean());
        }

        if (expiresAt is not null)
        {
            using var expired = JsonDocument.Parse(Run(expiresAt).Out);
            Assert.True(expired.RootElement.GetProperty("collateralExpired").GetBoolean());
        }
    }
}
