using System.Text.Json;
using Veritee.TestSupport;

namespace Veritee.Cli.Tests;

public class VerifyCliTests
{
    private static readonly string Case = Vectors.DcapCase("sgx-v3-processorca-confsw-2025-07");

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void Verified_quote_exits_0_with_the_json_contract()
    {
        var (exit, output, _) = Run("verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", "1751624924", "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED", root.GetProperty("qvlStatus").GetString());
        Assert.Equal("ConfigurationAndSWHardeningNeeded", root.GetProperty("tcbStatus").GetString());
        Assert.Equal(["INTEL-SA-00289", "INTEL-SA-00615"], root.GetProperty("advisoryIds").EnumerateArray().Select(a => a.GetString()));
        Assert.False(root.GetProperty("collateralExpired").GetBoolean());
    }

    [Fact]
    public void Iso_time_and_dcap_qvl_json_collateral_are_accepted()
    {
        var (exit, output, _) = Run("verify", Path.Combine(Case, "quote.bin"), "--collateral", Path.Combine(Case, "collateral.dcap-qvl.json"), "--at", "2025-07-04T10:28:44Z");
        Assert.Equal(0, exit);
        Assert.Contains("STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED", output, StringComparison.Ordinal);
        Assert.Contains("INTEL-SA-00289, INTEL-SA-00615", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Expired_collateral_exits_1_and_the_json_keeps_both_facts()
    {
        // `veritee verify && deploy` must not deploy on expired collateral.
        var (exit, output, _) = Run("verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", "2033-06-01T00:00:00Z", "--json");
        Assert.Equal(1, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED", doc.RootElement.GetProperty("qvlStatus").GetString());
        Assert.True(doc.RootElement.GetProperty("verified").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("collateralExpired").GetBoolean());
        Assert.NotEmpty(doc.RootElement.GetProperty("expiryFindings").EnumerateArray());
    }

    [Fact]
    public void Expired_collateral_text_says_why_the_quote_is_not_accepted()
    {
        var (exit, output, _) = Run("verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", "2033-06-01T00:00:00Z");
        Assert.Equal(1, exit);
        Assert.StartsWith("Quote NOT accepted: verified, but its collateral has expired (--allow-expired-collateral accepts it)", output, StringComparison.Ordinal);
        Assert.Contains("collateral:   EXPIRED at 2033-06-01T00:00:00Z", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Allow_expired_collateral_exits_0_and_still_reports_the_expiry(bool json)
    {
        string[] args = ["verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", "2033-06-01T00:00:00Z", "--allow-expired-collateral"];
        var (exit, output, _) = Run(json ? [.. args, "--json"] : args);
        Assert.Equal(0, exit);
        if (json)
        {
            using var doc = JsonDocument.Parse(output);
            Assert.True(doc.RootElement.GetProperty("verified").GetBoolean());
            Assert.True(doc.RootElement.GetProperty("collateralExpired").GetBoolean());
        }
        else
        {
            Assert.StartsWith("Quote verified; its collateral has expired (accepted: --allow-expired-collateral)", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Allow_expired_collateral_does_not_accept_a_rejected_quote()
    {
        var negative = Vectors.DcapCase("neg-tcbinfo-body-altered");
        var (exit, _, _) = Run("verify", Path.Combine(negative, "quote.bin"), "--collateral", negative, "--at", "2033-06-01T00:00:00Z", "--allow-expired-collateral");
        Assert.Equal(1, exit);
    }

    [Fact]
    public void Rejected_quote_exits_1_and_names_the_status()
    {
        var negative = Vectors.DcapCase("neg-tcbinfo-body-altered");
        var (exit, output, _) = Run("verify", Path.Combine(negative, "quote.bin"), "--collateral", negative, "--at", "1751624924", "--json");
        Assert.Equal(1, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("STATUS_TCB_INFO_INVALID_SIGNATURE", doc.RootElement.GetProperty("qvlStatus").GetString());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("tcbStatus").ValueKind);
    }

    [Fact]
    public void A_foreign_trust_anchor_makes_the_chain_untrusted()
    {
        var anchor = Path.Combine(Vectors.DcapTrust, "intel_sgx_pck_platform_ca.pem");
        var (exit, output, _) = Run("verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", "1751624924", "--trust-anchor", anchor, "--json");
        Assert.Equal(1, exit);
        Assert.Contains("STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("verify")]
    [InlineData("verify", "quote.bin")]
    [InlineData("verify", "missing-quote.bin", "--collateral", ".")]
    [InlineData("verify", "quote.bin", "--collateral", "missing-folder")]
    [InlineData("verify", "quote.bin", "--collateral", ".", "--at", "yesterday")]
    [InlineData("verify", "quote.bin", "--collateral", ".", "--trust-anchor", "case.json")]
    [InlineData("no-such-command")]
    public void Usage_and_input_errors_exit_2_with_one_message(params string[] args)
    {
        var resolved = args.Select(a => a is "quote.bin" or "case.json" ? Path.Combine(Case, a) : a == "." ? Case : a).ToArray();
        var (exit, output, error) = Run(resolved);
        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith("veritee: ", error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Bench_refuses_a_quote_that_does_not_verify()
    {
        var (exit, _, error) = Run("bench", "verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", "1751624924", "--trust-anchor",
            Path.Combine(Vectors.DcapTrust, "intel_sgx_pck_platform_ca.pem"), "--seconds", "0.1");
        Assert.Equal(1, exit);
        Assert.Contains("benchmark refused", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_reports_the_json_shape()
    {
        var (exit, output, _) = Run("bench", "verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", "1751624924", "--seconds", "0.2", "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("verify-warm", doc.RootElement.GetProperty("mode").GetString());
        Assert.Equal(1, doc.RootElement.GetProperty("threads").GetInt32());
        Assert.True(doc.RootElement.GetProperty("operations").GetInt64() > 0);
        Assert.True(doc.RootElement.GetProperty("opsPerSecond").GetDouble() > 0);
        AssertFloor(doc.RootElement, "ecdsa-p256-verify");
    }

    [Fact]
    public void Bench_cold_reports_the_import_plus_verify_floor()
    {
        var (exit, output, _) = Run("bench", "verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", "1751624924", "--seconds", "0.2", "--cold", "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("verify-cold", doc.RootElement.GetProperty("mode").GetString());
        AssertFloor(doc.RootElement, "ecdsa-p256-import-verify");
    }

    [Fact]
    public void Bench_text_names_its_floor_and_ratio()
    {
        var (exit, output, _) = Run("bench", "verify", Path.Combine(Case, "quote.bin"), "--collateral", Case, "--at", "1751624924", "--seconds", "0.2");
        Assert.Equal(0, exit);
        Assert.Contains("verify-warm: ", output, StringComparison.Ordinal);
        Assert.Contains("floor ecdsa-p256-verify (", output, StringComparison.Ordinal);
        Assert.Contains("; ratio ", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_distinct_quotes_verifies_a_new_quote_of_a_simulated_platform_each_call()
    {
        var (exit, output, error) = Run("bench", "verify", "--distinct-quotes", "--seconds", "0.3", "--json");
        Assert.True(exit == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("verify-warm-distinct-quotes", root.GetProperty("mode").GetString());
        Assert.True(root.GetProperty("operations").GetInt64() > 0);
        AssertFloor(root, "ecdsa-p256-verify");

        // The same measurement per CPU second, beside the wall-clock one.
        Assert.True(root.GetProperty("cpuSeconds").GetDouble() > 0);
        Assert.True(root.GetProperty("opsPerCpuSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("floorPerCpuSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("cpuRatio").GetDouble() > 0);
    }

    [Theory]
    [InlineData("quote")]
    [InlineData("--collateral")]
    public void Bench_distinct_quotes_refuses_a_quote_or_collateral_of_its_own(string extra)
    {
        string[] args = extra == "quote"
            ? ["bench", "verify", Path.Combine(Case, "quote.bin"), "--distinct-quotes", "--seconds", "0.1"]
            : ["bench", "verify", "--distinct-quotes", "--collateral", Case, "--seconds", "0.1"];
        var (exit, _, error) = Run(args);
        Assert.Equal(2, exit);
        Assert.Contains("--distinct-quotes makes its own platform", error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Bench_without_distinct_quotes_still_needs_a_quote_and_collateral()
    {
        var (exit, _, error) = Run("bench", "verify", "--seconds", "0.1");
        Assert.Equal(2, exit);
        Assert.Contains("QUOTE is required", error, StringComparison.Ordinal);
        (exit, _, error) = Run("bench", "verify", Path.Combine(Case, "quote.bin"), "--seconds", "0.1");
        Assert.Equal(2, exit);
        Assert.Contains("--collateral is required", error, StringComparison.Ordinal);
    }

    /// <summary>The floor fields every bench with a floor prints: named, positive, ratio = rate / floor.</summary>
    internal static void AssertFloor(JsonElement root, string name, string rateField = "opsPerSecond")
    {
        Assert.Equal(name, root.GetProperty("floor").GetString());
        var ops = root.GetProperty(rateField).GetDouble();
        var floor = root.GetProperty("floorPerSecond").GetDouble();
        var ratio = root.GetProperty("ratio").GetDouble();
        Assert.True(floor > 0, $"floorPerSecond {floor}");
        Assert.True(ratio > 0, $"ratio {ratio}");

        // The rate and floorPerSecond are rounded to 0.1 and ratio to 1e-4; allow for all three.
        var expected = ops / floor;
        var slack = 1e-4 + (expected * ((0.05 / ops) + (0.05 / floor)));
        Assert.InRange(ratio, expected - slack, expected + slack);
    }
}
