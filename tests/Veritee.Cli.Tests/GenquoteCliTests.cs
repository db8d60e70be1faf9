using System.Security.Cryptography;
using System.Text.Json;
using Veritee.Enclave;

namespace Veritee.Cli.Tests;

/// <summary>One simulated platform and one genquote run in a temp folder (never ~/.veritee), shared by the tests.</summary>
public sealed class GenquoteFixture : IDisposable
{
    public GenquoteFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "veritee-genquote-tests-" + Guid.NewGuid().ToString("N"));
        Platform = Path.Combine(Root, "platform");
        Quotes = Path.Combine(Root, "quotes");
        (Exit, Out, Err) = GenquoteCliTests.Run("genquote", "--simulate", "--out", Quotes, "--platform", Platform);
    }

    public string Root { get; }

    public string Platform { get; }

    public string Quotes { get; }

    public int Exit { get; }

    public string Out { get; }

    public string Err { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public class GenquoteCliTests(GenquoteFixture fixture) : IClassFixture<GenquoteFixture>
{
    private static readonly string[] Variants = ["debug", "release", "securityversion", "prodid"];

    internal static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private string Temp(string name) => Path.Combine(fixture.Root, name + "-" + Guid.NewGuid().ToString("N"));

    private string Collateral(params string[] extra)
    {
        var folder = Temp("collateral");
        var (exit, output, error) = Run(["platform", "collateral", "--out", folder, "--platform", fixture.Platform, .. extra]);
        Assert.True(exit == 0, error);
        Assert.Contains("trust_anchor.pem", output, StringComparison.Ordinal);
        return folder;
    }

    /// <summary>Writes the file's QuoteHex to a file and runs <c>veritee verify --json</c> on it.</summary>
    private (int Exit, JsonElement Result) Verify(string infoFile, string collateral, bool withAnchor = true)
    {
        var quoteFile = Temp("quote") + ".hex";
        File.WriteAllText(quoteFile, EnclaveInfo.Load(infoFile).QuoteHex);
        string[] args = ["verify", quoteFile, "--collateral", collateral, "--json"];
        if (withAnchor)
        {
            args = [.. args, "--trust-anchor", Path.Combine(collateral, "trust_anchor.pem")];
        }

        var (exit, output, error) = Run(args);
        Assert.True(output.Length > 0, error);
        using var doc = JsonDocument.Parse(output);
        return (exit, doc.RootElement.Clone());
    }

    [Fact]
    public void Genquote_writes_the_samples_four_variants()
    {
        Assert.True(fixture.Exit == 0, fixture.Err);
        Assert.Contains("Created simulated SGX platform", fixture.Out, StringComparison.Ordinal);
        var infos = Variants.ToDictionary(v => v, v => EnclaveInfo.Load(Path.Combine(fixture.Quotes, $"enclave.info.{v}.json")));
        foreach (var (variant, info) in infos)
        {
            Assert.Empty(info.Inconsistencies());
            Assert.Equal(EnclaveInfo.SgxType, info.Type);
            Assert.Equal(info.MrEnclaveHex.ToUpperInvariant(), info.MrEnclaveHex);
            Assert.Equal(info.QuoteHex.ToUpperInvariant(), info.QuoteHex);
            Assert.Equal(variant == "debug" ? 7UL : 5UL, info.Attributes);
            Assert.Equal(variant == "prodid" ? 999 : 1, info.ProductId);
            Assert.Equal(variant == "securityversion" ? 999u : 1u, info.SecurityVersion);
            Assert.StartsWith("-----BEGIN PUBLIC KEY-----", System.Text.Encoding.ASCII.GetString(info.EnclaveHeldData), StringComparison.Ordinal);
        }

        Assert.Single(infos.Values.Select(i => i.MrEnclaveHex).Distinct());
        Assert.Equal(4, infos.Values.Select(i => i.EnclaveHeldDataHex).Distinct().Count());
        Assert.Equal(SimulatedEnclave.MeasureName(SimulatedEnclave.DefaultName), Convert.FromHexString(infos["debug"].MrEnclaveHex));
    }

    [Theory]
    [InlineData("UpToDate", "STATUS_OK", 0)]
    [InlineData("SWHardeningNeeded", "STATUS_TCB_SW_HARDENING_NEEDED", 0)]
    [InlineData("ConfigurationNeeded", "STATUS_TCB_CONFIGURATION_NEEDED", 0)]
    [InlineData("ConfigurationAndSWHardeningNeeded", "STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED", 0)]
    [InlineData("OutOfDate", "STATUS_TCB_OUT_OF_DATE", 0)]
    [InlineData("OutOfDateConfigurationNeeded", "STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED", 0)]
    [InlineData("Revoked", "STATUS_TCB_REVOKED", 1)]
    public void Verify_accepts_every_file_with_the_configured_status(string tcbStatus, string qvlStatus, int expectedExit)
    {
        Assert.True(fixture.Exit == 0, fixture.Err);
        var collateral = Collateral("--tcb-status", tcbStatus);
        foreach (var variant in Variants)
        {
            var (exit, result) = Verify(Path.Combine(fixture.Quotes, $"enclave.info.{variant}.json"), collateral);
            Assert.Equal(qvlStatus, result.GetProperty("qvlStatus").GetString());
            Assert.Equal(tcbStatus, result.GetProperty("tcbStatus").GetString() ?? result.GetProperty("sgxTcbLevel").GetProperty("status").GetString());
            Assert.Equal(expectedExit, exit);
            Assert.Equal(variant == "debug", result.GetProperty("quote").GetProperty("isDebuggable").GetBoolean());
        }
    }

    [Fact]
    public void A_revoked_pck_and_the_intel_root_are_rejected()
    {
        var file = Path.Combine(fixture.Quotes, "enclave.info.release.json");
        var (exit, result) = Verify(file, Collateral("--revoke-pck"));
        Assert.Equal(1, exit);
        Assert.Equal("STATUS_SGX_PCK_REVOKED", result.GetProperty("qvlStatus").GetString());

        var (intelExit, intel) = Verify(file, Collateral(), withAnchor: false);
        Assert.Equal(1, intelExit);
        Assert.Equal("STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED", intel.GetProperty("qvlStatus").GetString());
    }

    [Fact]
    public void A_single_file_takes_every_identity_option()
    {
        var outDir = Temp("single");
        var image = Temp("image") + ".so";
        File.WriteAllBytes(image, [1, 2, 3, 4]);
        var (exit, _, error) = Run("genquote", "--simulate", "--out", outDir, "--platform", fixture.Platform, "--file", "mine.json",
            "--enclave-image", image, "--product-id", "7", "--svn", "3", "--debug", "--ehd", "0a0B0c", "--oe-envelope", "--quote-version", "4");
        Assert.True(exit == 0, error);
        var info = EnclaveInfo.Load(Path.Combine(outDir, "mine.json"));
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(image)), Convert.FromHexString(info.MrEnclaveHex));
        Assert.Equal(7, info.ProductId);
        Assert.Equal(3u, info.SecurityVersion);
        Assert.Equal("0A0B0C", info.EnclaveHeldDataHex);
        Assert.Equal(EnclaveInfo.OeAttributeDebug | EnclaveInfo.OeAttributeRemote, info.Attributes);
        Assert.StartsWith("0100000002000000", info.QuoteHex, StringComparison.Ordinal);
        Assert.Empty(info.Inconsistencies());
        Assert.Single(Directory.GetFiles(outDir));

        var (verifyExit, result) = Verify(Path.Combine(outDir, "mine.json"), Collateral());
        Assert.Equal(0, verifyExit);
        Assert.Equal("STATUS_OK", result.GetProperty("qvlStatus").GetString());
        Assert.Equal(4, result.GetProperty("quote").GetProperty("version").GetInt32());
    }

    [Fact]
    public void Quotes_from_an_earlier_run_verify_with_collateral_from_a_later_run()
    {
        var (exit, output, _) = Run("genquote", "--simulate", "--out", Temp("again"), "--platform", fixture.Platform, "--file", "x.json");
        Assert.Equal(0, exit);
        Assert.DoesNotContain("Created simulated SGX platform", output, StringComparison.Ordinal);
        var (verifyExit, _) = Verify(Path.Combine(fixture.Quotes, "enclave.info.debug.json"), Collateral("--at", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(0, verifyExit);
    }

    [Theory]
    [InlineData("--debug applies to a single file", "genquote", "--simulate", "--debug")]
    [InlineData("--quote-version: 5", "genquote", "--simulate", "--quote-version", "5")]
    [InlineData("--product-id: 70000", "genquote", "--simulate", "--product-id", "70000")]
    [InlineData("--ehd: expected", "genquote", "--simulate", "--ehd", "xyz")]
    [InlineData("exclusive", "genquote", "--simulate", "--enclave-name", "a", "--enclave-image", "FILE")]
    [InlineData("must be a file name", "genquote", "--simulate", "--file", "a/b.json")]
    [InlineData("only apply with --simulate", "genquote", "--product-id", "3")]
    [InlineData("--tcb-status: 'Fine' is not one of UpToDate, SWHardeningNeeded", "platform", "collateral", "--out", "OUT", "--tcb-status", "Fine")]
    [InlineData("--qe-tcb-status: 'SWHardeningNeeded' is not one of UpToDate, OutOfDate, Revoked", "platform", "collateral", "--out", "OUT", "--qe-tcb-status", "SWHardeningNeeded")]
    [InlineData("--validity-days: 0", "platform", "collateral", "--out", "OUT", "--validity-days", "0")]
    [InlineData("beyond the end of the calendar", "platform", "collateral", "--out", "OUT", "--at", "9999-12-30T00:00:00Z")]
    [InlineData("--tcb-status only apply with --out", "platform", "init", "--tcb-status", "OutOfDate")]
    public void Bad_options_exit_2_with_a_specific_message(string expected, params string[] args)
    {
        var outDir = Temp("bad");
        var full = args.Select(a => a switch { "OUT" => outDir, "FILE" => typeof(GenquoteCliTests).Assembly.Location, _ => a }).Concat(args[0] == "genquote" ? ["--out", outDir] : []).Concat(["--platform", fixture.Platform]).ToArray();
        var (exit, _, error) = Run(full);
        Assert.Equal(2, exit);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_simulate_and_without_hardware_nothing_is_simulated()
    {
        if (QuoteSources.Hardware().Any(s => s.IsAvailable))
        {
            return; // A real SGX/TDX machine: hardware would be used, which is the point.
        }

        var outDir = Temp("hw");
        var (exit, _, error) = Run("genquote", "--out", outDir);
        Assert.Equal(2, exit);
        Assert.Contains("pass --simulate", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void Platform_init_refuses_to_overwrite_and_corrupt_state_is_a_clear_error()
    {
        var folder = Temp("platform");
        var collateral = Temp("init-collateral");
        var (exit, output, error) = Run("platform", "init", "--platform", folder, "--out", collateral, "--tcb-status", "ConfigurationNeeded");
        Assert.True(exit == 0, error);
        Assert.Contains("root key:", output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(collateral, "trust_anchor.pem")));

        var (again, _, againError) = Run("platform", "init", "--platform", folder);
        Assert.Equal(2, again);
        Assert.Contains("already holds a simulated platform", againError, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(folder, "attestation-key.pem"), "not a key");
        var (corrupt, _, corruptError) = Run("genquote", "--simulate", "--out", Temp("q"), "--platform", folder);
        Assert.Equal(2, corrupt);
        Assert.Contains("attestation-key.pem: is not a PKCS#8 PEM private key", corruptError, StringComparison.Ordinal);
        var (corruptCollateral, _, corruptCollateralError) = Run("platform", "collateral", "--out", Temp("c"), "--platform", folder);
        Assert.Equal(2, corruptCollateral);
        Assert.Contains("simulated platform state", corruptCollateralError, StringComparison.Ordinal);
    }
}
