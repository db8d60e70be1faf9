using System.Text.Json;
using Veritee.Enclave;

namespace Veritee.Cli.Tests;

/// <summary>One simulated platform in a temp folder (never ~/.veritee) for the TD commands.</summary>
public sealed class TdxCliFixture : IDisposable
{
    public TdxCliFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "veritee-tdx-cli-tests-" + Guid.NewGuid().ToString("N"));
        Platform = Path.Combine(Root, "platform");
        Quotes = Path.Combine(Root, "quotes");
        (Exit, Out, Err) = GenquoteCliTests.Run("genquote", "--tdx", "--simulate", "--out", Quotes, "--platform", Platform);
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

public class TdxGenquoteCliTests(TdxCliFixture fixture) : IClassFixture<TdxCliFixture>
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => GenquoteCliTests.Run(args);

    private string Temp(string name) => Path.Combine(fixture.Root, name + "-" + Guid.NewGuid().ToString("N"));

    private string Collateral(params string[] extra)
    {
        var folder = Temp("collateral");
        var (exit, output, error) = Run(["platform", "collateral", "--tdx", "--out", folder, "--platform", fixture.Platform, .. extra]);
        Assert.True(exit == 0, error);
        Assert.Contains("Wrote TDX collateral", output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(folder, "trust_anchor.pem")));
        return folder;
    }

    private string Genquote(params string[] extra)
    {
        var fileName = "td-" + Guid.NewGuid().ToString("N") + ".json";
        var (exit, output, error) = Run(["genquote", "--tdx", "--simulate", "--out", fixture.Quotes, "--file", fileName, "--platform", fixture.Platform, .. extra]);
        Assert.True(exit == 0, error);
        Assert.Contains("Wrote ", output, StringComparison.Ordinal);
        return Path.Combine(fixture.Quotes, fileName);
    }

    /// <summary><c>veritee verify --json</c> on the TD evidence file itself.</summary>
    private static (int Exit, JsonElement Result) Verify(string tdInfo, string collateral)
    {
        var (exit, output, error) = Run("verify", tdInfo, "--collateral", collateral, "--trust-anchor", Path.Combine(collateral, "trust_anchor.pem"), "--json");
        Assert.True(output.Length > 0, error);
        using var doc = JsonDocument.Parse(output);
        return (exit, doc.RootElement.Clone());
    }

    [Fact]
    public void Genquote_tdx_writes_a_consistent_td_evidence_file()
    {
        Assert.True(fixture.Exit == 0, fixture.Err);
        Assert.Contains("veritee platform collateral --tdx", fixture.Out, StringComparison.Ordinal);
        var info = TdInfo.Load(Path.Combine(fixture.Quotes, TdInfo.DefaultFileName));
        Assert.Empty(info.Inconsistencies());
        Assert.Equal(0x81, info.Type);
        Assert.Equal("Binary", info.RuntimeDataType);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", System.Text.Encoding.ASCII.GetString(info.RuntimeData), StringComparison.Ordinal);
        Assert.Equal(TdInfo.ReportDataFor(info.RuntimeData), Veritee.Sgx.Quote.Parse(info.Quote).ReportData.ToArray());
        Assert.Equal(SimulatedTd.CreateDefault().MrTd, Convert.FromHexString(info.MrTdHex));
        Assert.False(info.IsDebuggable);
        Assert.Equal(4, info.Quote[0]);
    }

    [Theory]
    [InlineData("4", "UpToDate", "STATUS_OK", 0)]
    [InlineData("4", "SWHardeningNeeded", "STATUS_TCB_SW_HARDENING_NEEDED", 0)]
    [InlineData("5", "ConfigurationNeeded", "STATUS_TCB_CONFIGURATION_NEEDED", 0)]
    [InlineData("5", "ConfigurationAndSWHardeningNeeded", "STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED", 0)]
    [InlineData("4", "OutOfDate", "STATUS_TCB_OUT_OF_DATE", 0)]
    [InlineData("5", "OutOfDateConfigurationNeeded", "STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED", 0)]
    [InlineData("4", "Revoked", "STATUS_TCB_REVOKED", 1)]
    public void Verify_gives_the_tcb_status_the_tdx_collateral_was_issued_with(string version, string tcbStatus, string qvlStatus, int expectedExit)
    {
        var file = Genquote("--quote-version", version);
        var (exit, result) = Verify(file, Collateral("--tcb-status", tcbStatus));
        Assert.Equal(qvlStatus, result.GetProperty("qvlStatus").GetString());
        Assert.Equal(expectedExit, exit);
        Assert.Equal("Tdx", result.GetProperty("quote").GetProperty("teeType").GetString());
    }

    [Theory]
    [InlineData(new[] { "--tdx-module-status", "OutOfDate" }, "STATUS_TCB_OUT_OF_DATE")]
    [InlineData(new[] { "--tdx-module-status", "Revoked" }, "STATUS_TCB_REVOKED")]
    [InlineData(new[] { "--qe-tcb-status", "OutOfDate" }, "STATUS_TCB_OUT_OF_DATE")]
    [InlineData(new[] { "--td-relaunch" }, "STATUS_TCB_TD_RELAUNCH_ADVISED")]
    [InlineData(new[] { "--td-relaunch", "--tcb-status", "ConfigurationNeeded" }, "STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED")]
    public void Td15_quotes_see_module_qe_and_relaunch_statuses(string[] collateralOptions, string qvlStatus)
    {
        var file = Genquote("--quote-version", "5", "--td15");
        var (_, result) = Verify(file, Collateral(collateralOptions));
        Assert.Equal(qvlStatus, result.GetProperty("qvlStatus").GetString());
        Assert.Equal("TdReport15", result.GetProperty("quote").GetProperty("bodyType").GetString());
    }

    [Fact]
    public void Td_identity_and_runtime_data_options_reach_the_quote()
    {
        var runtime = Temp("runtime") + ".json";
        File.WriteAllText(runtime, "{\"nonce\":\"abc\",\"key\":1}");
        var mrtd = new string('a', 96);
        var rtmr3 = new string('3', 96);
        var file = Genquote("--quote-version", "5", "--td15", "--debug", "--mrtd", mrtd, "--rtmr", "3=" + rtmr3, "--rtmr", "0=" + new string('0', 96),
            "--runtime-data", runtime, "--runtime-data-type", "JSON");
        var info = TdInfo.Load(file);
        Assert.Empty(info.Inconsistencies());
        Assert.True(info.IsDebuggable);
        Assert.Equal(mrtd, info.MrTdHex, ignoreCase: true);
        Assert.Equal(rtmr3, info.Rtmr3Hex, ignoreCase: true);
        Assert.Equal(new string('0', 96), info.Rtmr0Hex);
        Assert.Equal(SimulatedTd.CreateDefault().RtMr1, Convert.FromHexString(info.Rtmr1Hex));
        Assert.Equal("JSON", info.RuntimeDataType);
        Assert.Equal(File.ReadAllBytes(runtime), info.RuntimeData);
        Assert.Equal(5, info.Quote[0]);
        Assert.Equal(3, info.Quote[48]);

        var (exit, result) = Verify(file, Collateral());
        Assert.Equal(0, exit);
        Assert.True(result.GetProperty("quote").GetProperty("isDebuggable").GetBoolean());
    }

    public static TheoryData<string[], string> BadOptions() => new()
    {
        { ["genquote", "--tdx", "--simulate", "--quote-version", "3"], "--quote-version: 3 is not 4 or 5" },
        { ["genquote", "--tdx", "--simulate", "--td15"], "--td15 needs --quote-version 5" },
        { ["genquote", "--tdx", "--simulate", "--rtmr", "4=00"], "--rtmr: '4=00' is not N=HEX" },
        { ["genquote", "--tdx", "--simulate", "--rtmr", "1=00"], "--rtmr 1: expected 96 hex digits" },
        { ["genquote", "--tdx", "--simulate", "--mrtd", "abc"], "--mrtd: expected 96 hex digits" },
        { ["genquote", "--tdx", "--simulate", "--runtime-data-type", "Text"], "--runtime-data-type: 'Text' is not Binary or JSON" },
        { ["genquote", "--tdx", "--simulate", "--runtime-data-type", "JSON"], "--runtime-data-type JSON needs --runtime-data FILE" },
        { ["genquote", "--tdx", "--simulate", "--runtime-data", "/nonexistent/veritee-runtime"], "no such file" },
        { ["genquote", "--tdx", "--simulate", "--svn", "2"], "--svn apply to SGX enclaves, not with --tdx" },
        { ["genquote", "--tdx", "--debug"], "--debug, --platform only apply with --simulate" },
        { ["genquote", "--simulate", "--td15"], "--td15 only apply with --tdx" },
        { ["genquote", "--simulate", "--runtime-data-type", "JSON"], "--runtime-data-type only apply with --tdx" },
        { ["platform", "collateral", "--out", "x", "--td-relaunch"], "--td-relaunch only apply with --tdx" },
        { ["platform", "collateral", "--out", "x", "--tdx", "--tdx-module-status", "SWHardeningNeeded"], "--tdx-module-status: 'SWHardeningNeeded' is not one of UpToDate, OutOfDate, Revoked" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Bad_tdx_options_are_one_line_errors_with_exit_2(string[] args, string message)
    {
        var folder = Temp("bad");
        var (exit, output, error) = Run([.. args, "--platform", fixture.Platform, .. args[0] == "genquote" ? new[] { "--out", folder } : []]);
        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any());
    }

    [Fact]
    public void Verify_names_the_field_of_a_broken_td_evidence_file()
    {
        var broken = Temp("broken") + ".json";
        var text = File.ReadAllText(Path.Combine(fixture.Quotes, TdInfo.DefaultFileName));
        var mrtd = TdInfo.Load(Path.Combine(fixture.Quotes, TdInfo.DefaultFileName)).MrTdHex;
        File.WriteAllText(broken, text.Replace(mrtd, "zz", StringComparison.Ordinal));
        var (exit, output, error) = Run("verify", broken, "--collateral", Collateral());
        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Contains("MrTdHex", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Runtime_data_that_is_not_json_or_too_large_is_refused()
    {
        var notJson = Temp("runtime");
        File.WriteAllText(notJson, "{not json");
        var (exit, _, error) = Run("genquote", "--tdx", "--simulate", "--platform", fixture.Platform, "--out", Temp("out"), "--runtime-data", notJson, "--runtime-data-type", "JSON");
        Assert.Equal(2, exit);
        Assert.Contains("is declared JSON but does not parse", error, StringComparison.Ordinal);

        var large = Temp("large");
        File.WriteAllBytes(large, new byte[(192 * 1024) + 1]);
        (exit, _, error) = Run("genquote", "--tdx", "--simulate", "--platform", fixture.Platform, "--out", Temp("out"), "--runtime-data", large);
        Assert.Equal(2, exit);
        Assert.Contains("more than the limit of 196608", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Genquote_tdx_without_simulate_names_the_configfs_tsm_source_it_needs()
    {
        var folder = Temp("out");
        var (exit, output, error) = Run("genquote", "--tdx", "--out", folder);
        if (exit == 0)
        {
            // A TD guest with configfs-tsm: a real TD quote binding the default runtime data.
            Assert.Empty(TdInfo.Load(Path.Combine(folder, TdInfo.DefaultFileName)).Inconsistencies());
            return;
        }

        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, output);
        Assert.Contains("configfs-tsm", error, StringComparison.Ordinal);
        Assert.Contains(ConfigfsTsmQuoteSource.DefaultRoot, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }
}
