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

    /// <summary>A configfs-tsm source over a fake tree whose writes count in <c>generation</c>, as the kernel's do.</summary>
    private static ConfigfsTsmQuoteSource Tsm(string root, KernelLikeTsmFiles? files = null) => new(root, "veritee-test") { Files = files ?? new KernelLikeTsmFiles() };

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
        var source = Tsm(root);
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
        Assert.Contains("'sev_guest'", Assert.Throws<QuoteSourceException>(() => Tsm(root).GetQuote(reportData)).Message, StringComparison.Ordinal);

        var sgx = fixture.Platform.Quote(fixture.Enclave(), new byte[64]);
        var (root2, _, reportData2) = TsmTree(outblob: sgx);
        Assert.Contains("Sgx quote", Assert.Throws<QuoteSourceException>(() => Tsm(root2).GetQuote(reportData2)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configfs_tsm_with_a_bad_generation_or_absent_root_is_an_error()
    {
        var (root, entry, reportData) = TsmTree();
        File.WriteAllText(Path.Combine(entry, "generation"), "x");
        Assert.Contains("not a number", Assert.Throws<QuoteSourceException>(() => Tsm(root).GetQuote(reportData)).Message, StringComparison.Ordinal);

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

    [Fact]
    public void Configfs_tsm_reads_generation_before_writing_inblob_and_after_reading_outblob()
    {
        var (root, entry, reportData) = TsmTree();
        var files = new KernelLikeTsmFiles();
        Tsm(root, files).GetQuote(reportData);
        Assert.Equal(["read provider", "read generation", "write inblob", "read outblob", "read generation"], files.Log);
        Assert.Equal("2", File.ReadAllText(Path.Combine(entry, "generation")));
    }

    [Fact]
    public void Configfs_tsm_detects_a_writer_that_raced_between_its_write_and_its_read()
    {
        // Another process writes inblob right after ours (same report data, so only generation can tell): 1 -> 3.
        var (root, _, reportData) = TsmTree();
        var e = Assert.Throws<QuoteSourceException>(() => Tsm(root, new KernelLikeTsmFiles { ExtraWritesAfterOurs = 1 }).GetQuote(reportData));
        Assert.Contains("written by someone else", e.Message, StringComparison.Ordinal);
        Assert.Contains("generation 1 before writing, 3 after reading, 2 expected", e.Message, StringComparison.Ordinal);

        // A tree whose generation never moves is not the kernel's: refused as well.
        var (root2, _, reportData2) = TsmTree();
        Assert.Contains("written by someone else", Assert.Throws<QuoteSourceException>(() => Tsm(root2, new KernelLikeTsmFiles { CountWrites = false }).GetQuote(reportData2)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configfs_tsm_bounds_outblob_and_names_EFBIG()
    {
        var (root, entry, reportData) = TsmTree();
        var big = new byte[ConfigfsTsmQuoteSource.MaxOutblobSize + 1];
        TdxQuote.CopyTo(big, 0);
        File.WriteAllBytes(Path.Combine(entry, "outblob"), big);
        Assert.Contains($"more than {ConfigfsTsmQuoteSource.MaxOutblobSize} bytes", Assert.Throws<QuoteSourceException>(() => Tsm(root).GetQuote(reportData)).Message, StringComparison.Ordinal);

        var (root2, _, reportData2) = TsmTree();
        var e = Assert.Throws<QuoteSourceException>(() => Tsm(root2, new KernelLikeTsmFiles { OutblobError = new IOException("File too large", 27) }).GetQuote(reportData2));
        Assert.Contains("EFBIG", e.Message, StringComparison.Ordinal);
        Assert.Contains("TSM_OUTBLOB_MAX", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_TD_evidence_file_from_configfs_binds_the_runtime_data_in_inblob()
    {
        var runtime = "{\"nonce\":\"abc\"}"u8.ToArray();
        var reportData = TdInfo.ReportDataFor(runtime);
        var quote = (byte[])TdxQuote.Clone();
        reportData.CopyTo(quote, 48 + 520); // a fake kernel: the quote carries what was written (signature not checked here)
        var (root, entry, _) = TsmTree(outblob: quote);
        var info = TdInfo.FromSource(QuoteSources.SelectTd(Tsm(root), new TdxGuestDevice(Path.Combine(root, "no-device"))), runtime, runtimeDataIsJson: true);
        Assert.Equal(reportData, File.ReadAllBytes(Path.Combine(entry, "inblob")));
        Assert.Equal(reportData[32..], new byte[32]);
        Assert.Equal("JSON", info.RuntimeDataType);
        Assert.Equal(runtime, info.RuntimeData);
        Assert.Empty(info.Inconsistencies());
        Assert.Equal(Convert.ToHexString(Quote.Parse(TdxQuote).TdReport.MrTd.Span), info.MrTdHex);

        // A quote for other report data (another writer's) is refused.
        var (root2, _, _) = TsmTree();
        Assert.Contains("report data", Assert.Throws<QuoteSourceException>(() => TdInfo.FromSource(Tsm(root2), runtime, runtimeDataIsJson: true)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_configfs_the_legacy_device_is_described_not_used_and_neither_means_no_TD()
    {
        var dir = NewTree("dev");
        var device = Path.Combine(dir, "tdx_guest");
        File.WriteAllBytes(device, []);
        var absent = new ConfigfsTsmQuoteSource(Path.Combine(dir, "no-tsm"));
        var e = Assert.Throws<QuoteSourceException>(() => QuoteSources.SelectTd(absent, new TdxGuestDevice(device)));
        Assert.Contains("TDX_CMD_GET_REPORT0", e.Message, StringComparison.Ordinal);
        Assert.Contains("configfs-tsm", e.Message, StringComparison.Ordinal);
        Assert.Contains("Quote Generation Service", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<QuoteSourceException>(() => QuoteSources.SelectTd(absent, new TdxGuestDevice(Path.Combine(dir, "none"))));
        Assert.Contains("not a TDX guest", e.Message, StringComparison.Ordinal);
        Assert.Contains("--simulate", e.Message, StringComparison.Ordinal);

        // The ioctl on something that is not the TDX device fails with a message naming the call (no crash, no hang).
        var ioctl = Assert.Throws<QuoteSourceException>(() => new TdxGuestDevice(device).GetTdReport(new byte[64]));
        Assert.Contains("TDX_CMD_GET_REPORT0", ioctl.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new TdxGuestDevice(device).GetTdReport(new byte[63]));
    }
}

/// <summary>
/// configfs-tsm over a fake tree, counting writes in <c>generation</c> as the kernel does (every write to an entry
/// attribute is one step). <see cref="ExtraWritesAfterOurs"/> plays another process writing right after us.
/// </summary>
internal sealed class KernelLikeTsmFiles : TsmFiles
{
    public List<string> Log { get; } = [];

    public bool CountWrites { get; init; } = true;

    public int ExtraWritesAfterOurs { get; init; }

    public IOException? OutblobError { get; init; }

    public override void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public override void DeleteDirectory(string path)
    {
        // The fake entry keeps its files for the test to inspect.
    }

    public override void Write(string path, byte[] data)
    {
        Log.Add("write " + Path.GetFileName(path));
        base.Write(path, data);
        if (CountWrites)
        {
            var generation = Path.Combine(Path.GetDirectoryName(path)!, "generation");
            var n = long.Parse(File.ReadAllText(generation).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            File.WriteAllText(generation, (n + 1 + ExtraWritesAfterOurs).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    public override byte[] Read(string path, int max)
    {
        Log.Add("read " + Path.GetFileName(path));
        if (OutblobError is not null && Path.GetFileName(path) == "outblob")
        {
            throw OutblobError;
        }

        return base.Read(path, max);
    }
}
