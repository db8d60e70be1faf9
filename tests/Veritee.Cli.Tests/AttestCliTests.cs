using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Veritee.Enclave;
using Veritee.Service;
using Veritee.TestSupport;

namespace Veritee.Cli.Tests;

/// <summary>A real Veritee service on loopback (http, or https with a self-signed certificate) at the 2022 Azure-sample time.</summary>
public class CliServiceFixture : IAsyncLifetime
{
    public const string AdminToken = "cli-test-admin-token";

    /// <summary>Inside the collateral window of case sgx-v3-oe-envelope-legacy-root-2022-05.</summary>
    public const string At = "1652310227";

    private readonly string _data = Path.Combine(Path.GetTempPath(), "veritee-cli-attest-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _app;

    public string BaseUrl { get; private set; } = string.Empty;

    public string? CaCertFile { get; private set; }

    protected virtual bool UseTls => false;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_data);
        var port = Loopback.FreePort();

        BaseUrl = $"{(UseTls ? "https" : "http")}://127.0.0.1:{port}";
        X509Certificate2? tls = null;
        if (UseTls)
        {
            tls = Loopback.SelfSignedCertificate();
            CaCertFile = Path.Combine(_data, "service-tls.pem");
            File.WriteAllText(CaCertFile, tls.ExportCertificatePem());
        }

        var options = new ServiceOptions
        {
            TlsCertificate = tls,
            InstanceUrl = BaseUrl,
            DataDirectory = Path.Combine(_data, "store"),
            AdminToken = AdminToken,
            CollateralDirectory = Vectors.DcapCase("sgx-v3-oe-envelope-legacy-root-2022-05"),
        };
        _app = await VeriteeServer.BuildAsync(options, BaseUrl, new PinnedClock(DateTimeOffset.FromUnixTimeSeconds(long.Parse(At, System.Globalization.CultureInfo.InvariantCulture))));
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_data, recursive: true);
    }

    private sealed class PinnedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

public sealed class TlsCliServiceFixture : CliServiceFixture
{
    protected override bool UseTls => true;
}

public sealed class AttestCliTests(CliServiceFixture service) : IClassFixture<CliServiceFixture>, IDisposable
{
    private static readonly string Samples = Path.Combine(Vectors.Directory, "maa", "azure-samples-quotes");
    private static readonly string[] CheckLabels = ["IsDebuggable match", "MRENCLAVE match", "MRSIGNER match", "ProductID match", "Security Version match", "Enclave Held Data match"];
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-attest-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample(string variant) => Path.Combine(Samples, "oe-sdk", $"enclave.info.{variant}.json");

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private (int Exit, string Out, string Err) Attest(string file, params string[] extra) =>
        Run(["attest", file, "--endpoint", service.BaseUrl, "--at", CliServiceFixture.At, .. extra]);

    private (int Exit, string Out, string Err) Admin(params string[] args) =>
        Run([.. args, "--endpoint", service.BaseUrl, "--admin-token", CliServiceFixture.AdminToken, "--at", CliServiceFixture.At]);

    private static string CheckLine(string output, string label) =>
        output.Split('\n').Select(l => l.TrimEnd('\r')).Single(l => l.StartsWith(label.PadRight(35) + ": ", StringComparison.Ordinal));

    private string Tampered(string variant, Func<EnclaveInfo, EnclaveInfo> change)
    {
        var path = Path.Combine(_dir, $"tampered.{variant}.json");
        change(EnclaveInfo.Load(Sample(variant))).Save(path);
        return path;
    }

    [Theory]
    [InlineData("debug")]
    [InlineData("release")]
    [InlineData("prodid")]
    [InlineData("securityversion")]
    public void The_samples_files_pass_every_check(string variant)
    {
        var r = Attest(Sample(variant));
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Empty(r.Err);
        Assert.Contains("VALIDATING MAA JWT TOKEN - CLAIMS MATCH CLIENT ENCLAVE INFO", r.Out, StringComparison.Ordinal);
        Assert.Contains("Attestation type                   : OpenEnclave", r.Out, StringComparison.Ordinal);
        foreach (var label in CheckLabels)
        {
            Assert.EndsWith(": True", CheckLine(r.Out, label), StringComparison.Ordinal);
        }

        Assert.Contains("PASSED (all 6 checks)", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("We think", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Simulated platform", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_attest_reports_the_rs256_floor_and_ratio()
    {
        var r = Run("bench", "attest", service.BaseUrl, "--quote", Sample("release"), "--concurrency", "2", "--seconds", "0.3", "--json");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("requests").GetInt64() > 0);
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.True(root.GetProperty("p99Ms").GetDouble() > 0);
        Assert.True(root.GetProperty("rs256SignaturesPerSecond").GetDouble() > 0);
        VerifyCliTests.AssertFloor(root, "rs256-sign", "requestsPerSecond");
    }

    [Fact]
    public void Details_print_both_values_side_by_side()
    {
        var info = EnclaveInfo.Load(Sample("debug"));
        var r = Attest(Sample("debug"), "--details");
        Assert.Equal(0, r.Exit);
        Assert.Contains("    We think   : " + info.MrEnclaveHex.ToLowerInvariant(), r.Out, StringComparison.Ordinal);
        Assert.Contains("    MAA service: " + info.MrEnclaveHex.ToLowerInvariant(), r.Out, StringComparison.Ordinal);
        Assert.Equal(6, r.Out.Split('\n').Count(l => l.StartsWith("    MAA service: ", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_wrong_MrEnclaveHex_fails_that_check_and_exits_1()
    {
        var path = Tampered("debug", i => i with { MrEnclaveHex = new string('0', 64) });
        var r = Attest(path, "--details");
        Assert.Equal(1, r.Exit);
        Assert.EndsWith(": False", CheckLine(r.Out, "MRENCLAVE match"), StringComparison.Ordinal);
        Assert.EndsWith(": True", CheckLine(r.Out, "MRSIGNER match"), StringComparison.Ordinal);
        Assert.Contains("    We think   : " + new string('0', 64), r.Out, StringComparison.Ordinal);
        Assert.Contains("FAILED (1 of 6 checks: MRENCLAVE)", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_output_lists_every_check()
    {
        var path = Tampered("release", i => i with { SecurityVersion = 2 });
        var r = Attest(path, "--json");
        Assert.Equal(1, r.Exit);
        using var json = JsonDocument.Parse(r.Out);
        var root = json.RootElement;
        Assert.Equal("OpenEnclave", root.GetProperty("attestationType").GetString());
        Assert.True(root.GetProperty("token").GetProperty("valid").GetBoolean());
        Assert.False(root.GetProperty("token").GetProperty("simulated").GetBoolean());
        Assert.False(root.GetProperty("passed").GetBoolean());
        var checks = root.GetProperty("checks").EnumerateArray().ToList();
        Assert.Equal(6, checks.Count);
        var svn = checks.Single(c => c.GetProperty("name").GetString() == "Security Version");
        Assert.False(svn.GetProperty("passed").GetBoolean());
        Assert.Equal("2", svn.GetProperty("expected").GetString());
        Assert.Equal("1", svn.GetProperty("actual").GetString());
        Assert.Equal(5, checks.Count(c => c.GetProperty("passed").GetBoolean()));

        var ok = Attest(Sample("release"), "--json");
        Assert.Equal(0, ok.Exit);
        Assert.True(JsonDocument.Parse(ok.Out).RootElement.GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void A_token_that_does_not_validate_exits_1_with_the_reason()
    {
        // Without --at the client's clock is today's: the service's 2022 token has long expired.
        var r = Run("attest", Sample("debug"), "--endpoint", service.BaseUrl);
        Assert.Equal(1, r.Exit);
        Assert.Contains("Token valid                        : False (Expired", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("match", r.Out, StringComparison.Ordinal);

        var json = Run("attest", Sample("debug"), "--endpoint", service.BaseUrl, "--json");
        Assert.Equal(1, json.Exit);
        Assert.Equal("Expired", JsonDocument.Parse(json.Out).RootElement.GetProperty("token").GetProperty("reason").GetString());
    }

    [Fact]
    public void Evidence_the_service_refuses_exits_1_with_its_code()
    {
        var path = Tampered("debug", i =>
        {
            var quote = i.Quote;
            quote[16 + 100] ^= 1;
            return i with { QuoteHex = Convert.ToHexString(quote) };
        });
        var r = Attest(path);
        Assert.Equal(1, r.Exit);
        Assert.Contains("veritee: the service refused: 400 InvalidParameter:", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_and_connection_errors_exit_2()
    {
        Assert.Equal(2, Attest(Path.Combine(_dir, "missing.json")).Exit);

        var notJson = Path.Combine(_dir, "bad.json");
        File.WriteAllText(notJson, "{\"Type\": 2}");
        var bad = Attest(notJson);
        Assert.Equal(2, bad.Exit);
        Assert.Contains("MrEnclaveHex", bad.Err, StringComparison.Ordinal);

        Assert.Equal(2, Run("attest", Sample("debug"), "--endpoint", "not a url").Exit);
        Assert.Equal(2, Run("attest", Sample("debug")).Exit);

        var closedPort = Loopback.FreePort();

        var unreachable = Run("attest", Sample("debug"), "--endpoint", $"http://127.0.0.1:{closedPort}");
        Assert.Equal(2, unreachable.Exit);
        Assert.Contains("cannot reach the service", unreachable.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Policy_set_get_reset_through_the_endpoint()
    {
        const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"x-ms-sgx-svn\"] => issue(type=\"cli-svn\", value=c.value);};";
        var file = Path.Combine(_dir, "policy.txt");
        File.WriteAllText(file, Policy);

        var set = Admin("policy", "set", file, "--type", "OpenEnclave");
        Assert.True(set.Exit == 0, set.Out + set.Err);
        Assert.Contains("OpenEnclave policy Updated", set.Out, StringComparison.Ordinal);

        var get = Admin("policy", "get", "--type", "openenclave");
        Assert.Equal(0, get.Exit);
        Assert.Equal(Policy, get.Out.TrimEnd());
        Assert.Contains("unsigned", get.Err, StringComparison.Ordinal);

        // The policy governs attestation: it issues no legacy claims, but the x-ms-* comparison still passes.
        Assert.Equal(0, Attest(Sample("debug")).Exit);

        var reset = Admin("policy", "reset", "--type", "OpenEnclave");
        Assert.Equal(0, reset.Exit);
        Assert.Contains("Removed", reset.Out, StringComparison.Ordinal);
        Assert.Contains("issue(type=\"is-debuggable\"", Admin("policy", "get", "--type", "OpenEnclave").Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Policy_commands_take_the_attestation_type_as_users_type_it()
    {
        const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"x-ms-sgx-svn\"] => issue(type=\"positional-svn\", value=c.value);};";
        var file = Path.Combine(_dir, "positional.txt");
        File.WriteAllText(file, Policy);

        var set = Admin("policy", "set", "SgxEnclave", file);
        Assert.True(set.Exit == 0, set.Out + set.Err);
        Assert.Contains("SgxEnclave policy Updated", set.Out, StringComparison.Ordinal);

        var get = Admin("policy", "get", "SgxEnclave");
        Assert.True(get.Exit == 0, get.Out + get.Err);
        Assert.Equal(Policy, get.Out.TrimEnd());

        // The option spelling and the positional one name the same type; disagreeing ones are a usage error.
        Assert.Equal(Policy, Admin("policy", "get", "--type", "sgxenclave").Out.TrimEnd());
        Assert.Equal(Policy, Admin("policy", "get", "sgxenclave", "--type", "SgxEnclave").Out.TrimEnd());
        var conflict = Admin("policy", "get", "SgxEnclave", "--type", "OpenEnclave");
        Assert.Equal(2, conflict.Exit);
        Assert.Contains("disagree", conflict.Err, StringComparison.Ordinal);

        var reset = Admin("policy", "reset", "SgxEnclave");
        Assert.True(reset.Exit == 0, reset.Out + reset.Err);
        Assert.Contains("SgxEnclave policy Removed", reset.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("positional-svn", Admin("policy", "get", "SgxEnclave").Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_TdxVm_policy_is_set_got_and_reset_by_name()
    {
        const string Policy = "version= 1.2;authorizationrules{[type==\"tdx_td_attributes_debug\", value==false] => permit();};issuancerules{};";
        var file = Path.Combine(_dir, "tdx-policy.txt");
        File.WriteAllText(file, Policy);

        var set = Admin("policy", "set", "TdxVm", file);
        Assert.True(set.Exit == 0, set.Out + set.Err);
        Assert.Contains("TdxVm policy Updated", set.Out, StringComparison.Ordinal);
        Assert.Equal(Policy, Admin("policy", "get", "tdxvm").Out.TrimEnd());

        var reset = Admin("policy", "reset", "--type", "TdxVm");
        Assert.True(reset.Exit == 0, reset.Out + reset.Err);
        Assert.DoesNotContain("tdx_td_attributes_debug", Admin("policy", "get", "TdxVm").Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signed_policy_names_its_signer()
    {
        Assert.Equal(0, Run("cert", "create", "--key", Path.Combine(_dir, "s.key"), "--cert", Path.Combine(_dir, "s.crt"), "--subject", "CN=Veritee CLI attest signer", "--days", "7").Exit);
        var file = Path.Combine(_dir, "policy.txt");
        File.WriteAllText(file, "version=1.0; authorizationrules{=> permit();};");
        var set = Admin("policy", "set", file, "--type", "SgxEnclave", "--key", Path.Combine(_dir, "s.key"), "--cert", Path.Combine(_dir, "s.crt"));
        Assert.True(set.Exit == 0, set.Out + set.Err);
        Assert.Contains("signer CN=Veritee CLI attest signer", set.Out, StringComparison.Ordinal);
        Assert.Contains("signed by CN=Veritee CLI attest signer", Admin("policy", "get", "--type", "SgxEnclave").Err, StringComparison.Ordinal);
        Assert.Equal(0, Admin("policy", "reset", "--type", "SgxEnclave").Exit);

        Assert.Equal(2, Admin("policy", "set", file, "--type", "SgxEnclave", "--key", Path.Combine(_dir, "s.key")).Exit);
    }

    [Fact]
    public void Policy_errors_have_their_exit_codes()
    {
        var broken = Path.Combine(_dir, "broken.txt");
        File.WriteAllText(broken, "version=1.0; authorizationrules{=> permit()};");
        Assert.Equal(2, Admin("policy", "set", broken, "--type", "SgxEnclave").Exit);
        Assert.Equal(2, Admin("policy", "get", "--type", "Tpm").Exit);

        var wrongToken = Run("policy", "get", "--type", "SgxEnclave", "--endpoint", service.BaseUrl, "--admin-token", "wrong", "--at", CliServiceFixture.At);
        Assert.Equal(2, wrongToken.Exit);
        Assert.Contains("401 Unauthorized", wrongToken.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong", wrongToken.Err, StringComparison.Ordinal);

        if (Environment.GetEnvironmentVariable("VERITEE_ADMIN_TOKEN") is null)
        {
            var none = Run("policy", "get", "--type", "SgxEnclave", "--endpoint", service.BaseUrl);
            Assert.Equal(2, none.Exit);
            Assert.Contains("VERITEE_ADMIN_TOKEN", none.Err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Signer_list_is_empty_and_add_is_refused_cleanly_on_an_AAD_instance()
    {
        var list = Admin("signer", "list");
        Assert.Equal(0, list.Exit);
        Assert.Contains("no policy-management certificates", list.Out, StringComparison.Ordinal);

        Assert.Equal(0, Run("cert", "create", "--key", Path.Combine(_dir, "a.key"), "--cert", Path.Combine(_dir, "a.crt"), "--days", "7").Exit);
        Assert.Equal(0, Run("cert", "create", "--key", Path.Combine(_dir, "b.key"), "--cert", Path.Combine(_dir, "b.crt"), "--days", "7").Exit);
        foreach (var op in new[] { "add", "remove" })
        {
            var r = Admin("signer", op, Path.Combine(_dir, "b.crt"), "--key", Path.Combine(_dir, "a.key"), "--cert", Path.Combine(_dir, "a.crt"));
            Assert.Equal(1, r.Exit);
            var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith("veritee: the service refused: 400 InvalidOperation:", lines[0], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Token_verify_against_the_endpoint()
    {
        using var http = new HttpClient();
        var quote = System.Buffers.Text.Base64Url.EncodeToString(EnclaveInfo.Load(Sample("debug")).Quote);
        using var response = await http.PostAsync(service.BaseUrl + "/attest/OpenEnclave?api-version=2022-08-01",
            new StringContent("{\"report\":\"" + quote + "\"}", System.Text.Encoding.UTF8, "application/json"));
        var token = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        var file = Path.Combine(_dir, "token.jwt");
        File.WriteAllText(file, token);

        var ok = Run("token", "verify", file, "--endpoint", service.BaseUrl, "--at", CliServiceFixture.At);
        Assert.True(ok.Exit == 0, ok.Out + ok.Err);
        Assert.Contains("issuer: " + service.BaseUrl, ok.Out, StringComparison.Ordinal);

        Assert.Equal(1, Run("token", "verify", file, "--endpoint", service.BaseUrl).Exit);
        var parts = token.Split('.');
        var tampered = parts[0] + "." + parts[1] + "." + (parts[2][0] == 'A' ? 'B' : 'A') + parts[2][1..];
        var bad = Run("token", "verify", tampered, "--endpoint", service.BaseUrl, "--at", CliServiceFixture.At, "--json");
        Assert.Equal(1, bad.Exit);
        Assert.Equal("BadSignature", JsonDocument.Parse(bad.Out).RootElement.GetProperty("reason").GetString());

        Assert.Equal(2, Run("token", "verify", file, "--endpoint", service.BaseUrl, "--issuer", service.BaseUrl).Exit);
        Assert.Equal(2, Run("token", "verify", file).Exit);
    }
}

public sealed class AttestTlsCliTests(TlsCliServiceFixture service) : IClassFixture<TlsCliServiceFixture>
{
    private static readonly string Debug = Path.Combine(Vectors.Directory, "maa", "azure-samples-quotes", "oe-sdk", "enclave.info.debug.json");

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void A_self_signed_service_is_trusted_with_ca_cert_only()
    {
        var untrusted = Run("attest", Debug, "--endpoint", service.BaseUrl, "--at", CliServiceFixture.At);
        Assert.Equal(2, untrusted.Exit);
        Assert.Contains("cannot reach the service", untrusted.Err, StringComparison.Ordinal);

        var trusted = Run("attest", Debug, "--endpoint", service.BaseUrl, "--at", CliServiceFixture.At, "--ca-cert", service.CaCertFile!);
        Assert.True(trusted.Exit == 0, trusted.Out + trusted.Err);
        Assert.Contains("PASSED", trusted.Out, StringComparison.Ordinal);
    }
}
