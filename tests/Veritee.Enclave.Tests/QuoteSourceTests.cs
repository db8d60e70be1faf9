using Veritee.Sgx;
using Veritee.TestSupport;

namespace Veritee.Enclave.Tests;

public sealed class QuoteSourceTests(PlatformFixture fixture) : IClassFixture<PlatformFixture>
{
    private static readonly byte[] TdxQuote = File.ReadAllBytes(Path.Combine(Vectors.DcapCase("tdx-v4-uptodate-2025-07"), "quote.bin"));

    private string NewTree(string name)
    {
        var dir = Path.Combine(fixture.Root, name + "-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private (string Root, byte[] ReportData) GramineTree(string type = "dcap")
    {
        var root = NewTree("dev-attestation");
        var reportData = SampleEnclave.ReportDataFor("gramine"u8);
        File.WriteAllText(Path.Combine(root, "attestation_type"), type);
        File.WriteAllBytes(Path.Combine(root, "quote"), fixture.Platform.Quote(fixture.Enclave(), reportData));
        return (root, reportData);
    }

    private (string Root, string Entry, byte[] ReportData) TsmTree(string provider = "tdx_guest", byte[]? outblob = null)
    {
        var root = NewTree("tsm-report");
        var entry = Path.Combine(root, "veritee-test");
        Directory.CreateDirectory(entry);
        File.WriteAllText(Path.Combine(entry, "provider"), provider + "\n");
        File.WriteAllText(Path.Combine(entry, "generation"), "1\n");
        var quote = outblob ?? TdxQuote;
        File.WriteAllBytes(Path.Combine(entry, "outblob"), quote);
        return (root, entry, Quote.Parse(quote).ReportData.ToArray());
    }

    [Fact]
    public void Gramine_writes_the_report_data_and_returns_the_quote()
    {
        var (root, reportData) = GramineTree();
        var source = new GramineQuoteSource(root);
        Assert.True(source.IsAvailable);
        var evidence = source.GetQuote(reportData);
        Assert.Equal(reportData, File.ReadAllBytes(Path.Combine(root, "user_report_data")));
        Assert.Equal(TeeType.Sgx, evidence.TeeType);
        Assert.Equal("gramine", evidence.Source);
        Assert.Equal(reportData, Quote.Parse(evidence.Quote).ReportData.ToArray());
    }

    [Fact]
    public void Gramine_refuses_a_quote_for_other_report_data()
    {
        var (root, _) = GramineTree();
        var e = Assert.Throws<QuoteSourceException>(() => new GramineQuoteSource(root).GetQuote(new byte[64]));
        Assert.Contains("report data", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("none", "sgx.remote_attestation")]
    [InlineData("epid", "'epid'")]
    public void Gramine_without_dcap_attestation_says_why(string type, string expected)
    {
        var (root, reportData) = GramineTree(type);
        var e = Assert.Throws<QuoteSourceException>(() => new GramineQuoteSource(root).GetQuote(reportData));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gramine_with_garbage_in_the_quote_file_is_an_error()
    {
        var (root, reportData) = GramineTree();
        File.WriteAllBytes(Path.Combine(root, "quote"), [1, 2, 3]);
        Assert.Contains("did not return a quote", Assert.Throws<QuoteSourceException>(() => new GramineQuoteSource(root).GetQuote(reportData)).Message, StringComparison.Ordinal);
        File.WriteAllBytes(Path.Combine(root, "quote"), []);
        Assert.Contains("no quote", Assert.Throws<QuoteSourceException>(() => new GramineQuoteSource(root).GetQuote(reportData)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gramine_is_absent_without_its_files()
    {
        Assert.False(new GramineQuoteSource(NewTree("empty")).IsAvailable);
        Assert.Throws<ArgumentException>(() => new GramineQuoteSource(NewTree("empty")).GetQuote(new byte[63]));
    }

    [Fact]
    public void Configfs_tsm_writes_inblob_and_returns_the_tdx_quote()
    {
        var (root, entry, reportData) = TsmTree();
        var source = new ConfigfsTsmQuoteSource(root, "veritee-test");
        Assert.True(source.IsAvailable);
        var evidence = source.GetQuote(reportData);
        Assert.Equal(reportData, File.ReadAllBytes(Path.Combine(entry, "inblob")));
        Assert.Equal(TeeType.Tdx, evidence.TeeType);
        Assert.Equal(Quote.Parse(TdxQuote).Length, evidence.Quote.Length);
        Assert.True(TdxQuote.AsSpan().StartsWith(evidence.Quote));
    }

    [Fact]
    public void Configfs_tsm_refuses_other_providers_and_other_tees()
    {
        var (root, _, reportData) = TsmTree("sev_guest");
        Assert.Contains("'sev_guest'", Assert.Throws<QuoteSourceException>(() => new ConfigfsTsmQuoteSource(root, "veritee-test").GetQuote(reportData)).Message, StringComparison.Ordinal);

        var sgx = fixture.Platform.Quote(fixture.Enclave(), new byte[64]);
        var (root2, _, reportData2) = TsmTree(outblob: sgx);
        Assert.Contains("Sgx quote", Assert.Throws<QuoteSourceException>(() => new ConfigfsTsmQuoteSource(root2, "veritee-test").GetQuote(reportData2)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configfs_tsm_with_a_bad_generation_or_absent_root_is_an_error()
    {
        var (root, entry, reportData) = TsmTree();
        File.WriteAllText(Path.Combine(entry, "generation"), "x");
        Assert.Contains("not a number", Assert.Throws<QuoteSourceException>(() => new ConfigfsTsmQuoteSource(root, "veritee-test").GetQuote(reportData)).Message, StringComparison.Ordinal);

        var missing = new ConfigfsTsmQuoteSource(Path.Combine(fixture.Root, "no-tsm"));
        Assert.False(missing.IsAvailable);
        Assert.Contains("does not exist", Assert.Throws<QuoteSourceException>(() => missing.GetQuote(new byte[64])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Selection_prefers_hardware_and_never_falls_back_to_simulation_silently()
    {
        var absent = new IQuoteSource[] { new GramineQuoteSource(NewTree("a")), new ConfigfsTsmQuoteSource(Path.Combine(fixture.Root, "no-tsm")) };
        var simulated = new SimulatedQuoteSource(fixture.Platform, fixture.Enclave());
        var e = Assert.Throws<QuoteSourceException>(() => QuoteSources.Select(false, () => simulated, absent));
        Assert.Contains("--simulate", e.Message, StringComparison.Ordinal);
        Assert.Contains("gramine at", e.Message, StringComparison.Ordinal);

        Assert.Same(simulated, QuoteSources.Select(true, () => simulated, absent));

        var (tsmRoot, _, _) = TsmTree();
        var present = new IQuoteSource[] { new GramineQuoteSource(NewTree("b")), new ConfigfsTsmQuoteSource(tsmRoot) };
        Assert.Equal("configfs-tsm", QuoteSources.Select(false, () => simulated, present).Name);
        Assert.Equal("simulated", QuoteSources.Select(true, () => simulated, present).Name);
    }

    [Fact]
    public void Simulated_source_quotes_the_report_data()
    {
        var source = new SimulatedQuoteSource(fixture.Platform, fixture.Enclave(), quoteVersion: 4);
        var reportData = SampleEnclave.ReportDataFor("x"u8);
        var evidence = source.GetQuote(reportData);
        Assert.Equal(4, Quote.Parse(evidence.Quote).Header.Version);
        Assert.Equal(reportData, Quote.Parse(evidence.Quote).ReportData.ToArray());
    }
}
