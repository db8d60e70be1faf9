using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Veritee.Dcap;
using Veritee.Dcap.Verification;
using Veritee.Sgx;

namespace Veritee.Enclave.Tests;

/// <summary>The simulated TDX platform: TD quotes v4/v5 (TD 1.0 and 1.5) and TDX collateral of any status, verified with QVL semantics.</summary>
public class SimulatedTdTests(PlatformFixture fixture) : IClassFixture<PlatformFixture>
{
    private static readonly byte[] RuntimeData = "{\"nonce\":\"td-test\"}"u8.ToArray();

    private SimulatedPlatform Platform => fixture.Platform;

    private DateTimeOffset At => fixture.Now.AddHours(1);

    private static byte[] ReportData => SampleEnclave.ReportDataFor(RuntimeData);

    private VerificationResult Verify(byte[] quote, CollateralOptions options, SimulatedPlatform? platform = null, DateTimeOffset? at = null)
    {
        platform ??= Platform;
        return QuoteVerifier.VerifyCold(quote, CollateralAuthority.IssueTdx(platform, options).ToQuoteCollateral(), platform.TrustAnchor, at ?? At);
    }

    private CollateralOptions Options(TcbStatus tcb = TcbStatus.UpToDate, TcbStatus qe = TcbStatus.UpToDate, TcbStatus module = TcbStatus.UpToDate, bool relaunch = false) =>
        new() { IssuedAt = fixture.Now, TcbStatus = tcb, QeTcbStatus = qe, TdxModuleStatus = module, TdRelaunch = relaunch };

    private byte[] TdQuote(int version = 4, bool td15 = false, SimulatedTd? td = null, SimulatedPlatform? platform = null) =>
        (platform ?? Platform).TdQuote(td ?? SimulatedTd.CreateDefault(), ReportData, version, td15);

    private static void AssertStatus(QvlStatus expected, VerificationResult result) =>
        Assert.True(expected == result.Status, $"expected {expected}, got {result.Status}: {result.Detail}");

    public static TheoryData<TcbStatus, QvlStatus, int, bool> Statuses()
    {
        var data = new TheoryData<TcbStatus, QvlStatus, int, bool>();
        foreach (var (version, td15) in new[] { (4, false), (5, false), (5, true) })
        {
            data.Add(TcbStatus.UpToDate, QvlStatus.STATUS_OK, version, td15);
            data.Add(TcbStatus.SWHardeningNeeded, QvlStatus.STATUS_TCB_SW_HARDENING_NEEDED, version, td15);
            data.Add(TcbStatus.ConfigurationNeeded, QvlStatus.STATUS_TCB_CONFIGURATION_NEEDED, version, td15);
            data.Add(TcbStatus.ConfigurationAndSWHardeningNeeded, QvlStatus.STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, version, td15);
            data.Add(TcbStatus.OutOfDate, QvlStatus.STATUS_TCB_OUT_OF_DATE, version, td15);
            data.Add(TcbStatus.OutOfDateConfigurationNeeded, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, version, td15);
            data.Add(TcbStatus.Revoked, QvlStatus.STATUS_TCB_REVOKED, version, td15);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Statuses))]
    public void Every_tcb_status_is_produced_for_td_quotes(TcbStatus status, QvlStatus expected, int version, bool td15)
    {
        var result = Verify(TdQuote(version, td15), Options(status));
        AssertStatus(expected, result);
        Assert.Equal(status, result.TdxTcbLevel?.Status);
        Assert.Equal(status, result.SgxTcbLevel?.Status);
        Assert.Equal(TcbStatus.UpToDate, result.TdxModuleStatus);
        Assert.False(result.CollateralExpired);
        Assert.Equal(status == TcbStatus.UpToDate ? [] : [CollateralAuthority.SimulatedAdvisory], result.AdvisoryIds);
        Assert.Equal(TeeType.Tdx, result.Quote!.TeeType);
        Assert.Equal(version == 4 ? QuoteBodyType.TdReport10 : td15 ? QuoteBodyType.TdReport15 : QuoteBodyType.TdReport10, result.Quote.BodyType);
    }

    [Theory]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.UpToDate, 4, false, QvlStatus.STATUS_TCB_OUT_OF_DATE)]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.UpToDate, 5, true, QvlStatus.STATUS_TCB_OUT_OF_DATE)]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.SWHardeningNeeded, 5, false, QvlStatus.STATUS_TCB_OUT_OF_DATE)]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.ConfigurationNeeded, 4, false, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED)]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.ConfigurationAndSWHardeningNeeded, 5, true, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED)]
    [InlineData(TcbStatus.Revoked, TcbStatus.UpToDate, 4, false, QvlStatus.STATUS_TCB_REVOKED)]
    [InlineData(TcbStatus.Revoked, TcbStatus.UpToDate, 5, true, QvlStatus.STATUS_TCB_REVOKED)]
    public void The_tdx_module_identity_status_converges_with_the_tdx_level(TcbStatus module, TcbStatus tcb, int version, bool td15, QvlStatus expected)
    {
        var result = Verify(TdQuote(version, td15), Options(tcb, module: module));
        AssertStatus(expected, result);
        Assert.Equal(module, result.TdxModuleStatus);
        Assert.Equal(tcb, result.TdxTcbLevel?.Status);
        Assert.Contains("\"tdxModuleIdentities\":[{\"id\":\"TDX_01\"", System.Text.Encoding.UTF8.GetString(CollateralAuthority.IssueTdx(Platform, Options(tcb, module: module)).TcbInfo));
    }

    [Theory]
    [InlineData(TcbStatus.UpToDate, 5, true, QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED)]
    [InlineData(TcbStatus.SWHardeningNeeded, 5, true, QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED)]
    [InlineData(TcbStatus.ConfigurationNeeded, 5, true, QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED)]
    [InlineData(TcbStatus.UpToDate, 5, false, QvlStatus.STATUS_TCB_OUT_OF_DATE)]
    [InlineData(TcbStatus.UpToDate, 4, false, QvlStatus.STATUS_TCB_OUT_OF_DATE)]
    public void A_td_preserving_module_update_advises_a_relaunch_of_td15_quotes(TcbStatus tcb, int version, bool td15, QvlStatus expected)
    {
        var result = Verify(TdQuote(version, td15), Options(tcb, relaunch: true));
        AssertStatus(expected, result);
        Assert.Equal(TcbStatus.OutOfDate, result.TdxModuleStatus);
        if (td15)
        {
            Assert.True(result.Quote!.TdReport.TeeTcbSvn2.Span[0] > result.Quote.TdReport.TeeTcbSvn.Span[0]);
        }
    }

    [Fact]
    public void A_relaunch_is_not_advised_when_the_quoting_enclave_is_out_of_date()
    {
        var result = Verify(TdQuote(5, true), Options(qe: TcbStatus.OutOfDate, relaunch: true));
        AssertStatus(QvlStatus.STATUS_TCB_OUT_OF_DATE, result);
    }

    [Theory]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.UpToDate, 4, false, QvlStatus.STATUS_TCB_OUT_OF_DATE)]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.ConfigurationNeeded, 5, true, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED)]
    [InlineData(TcbStatus.Revoked, TcbStatus.UpToDate, 5, false, QvlStatus.STATUS_TCB_REVOKED)]
    public void The_td_quoting_enclave_status_converges_with_the_platform_status(TcbStatus qe, TcbStatus tcb, int version, bool td15, QvlStatus expected)
    {
        var result = Verify(TdQuote(version, td15), Options(tcb, qe));
        AssertStatus(expected, result);
        Assert.Equal(qe, result.QeIdentityTcbLevel?.Status);
        Assert.Equal(Platform.Profile.TdQeSvn, result.QeIdentityTcbLevel?.IsvSvn);
    }

    [Fact]
    public void A_revoked_pck_rejects_td_quotes()
    {
        var result = QuoteVerifier.VerifyCold(TdQuote(), CollateralAuthority.IssueTdx(Platform, Options() with { RevokePck = true }).ToQuoteCollateral(), Platform.TrustAnchor, At);
        AssertStatus(QvlStatus.STATUS_SGX_PCK_REVOKED, result);
    }

    [Fact]
    public void Sgx_and_tdx_collateral_do_not_cross()
    {
        var sgx = CollateralAuthority.Issue(Platform, Options()).ToQuoteCollateral();
        AssertStatus(QvlStatus.STATUS_TCB_INFO_MISMATCH, QuoteVerifier.VerifyCold(TdQuote(), sgx, Platform.TrustAnchor, At));
        var enclave = Platform.Quote(fixture.Enclave(), ReportData, 4);
        AssertStatus(QvlStatus.STATUS_TCB_INFO_MISMATCH, Verify(enclave, Options()));
    }

    [Fact]
    public void The_td_quote_has_intels_layout_and_parses()
    {
        var td = SimulatedTd.CreateDefault("layout") with { MrConfigId = Filled(0x11), MrOwner = Filled(0x22), MrOwnerConfig = Filled(0x33), RtMr3 = Filled(0x44) };
        var v4 = Platform.TdQuote(td, ReportData, 4);
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(v4));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(v4.AsSpan(2)));
        Assert.Equal(0x81u, BinaryPrimitives.ReadUInt32LittleEndian(v4.AsSpan(4)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(v4.AsSpan(8)));
        Assert.Equal("939A7233F79C4CA9940A0DB3957F0607", Convert.ToHexString(v4.AsSpan(12, 16)));
        Assert.Equal(Platform.Profile.QeId, v4.AsSpan(28, 16).ToArray());
        Assert.Equal(new byte[4], v4.AsSpan(44, 4).ToArray());

        // Absolute offsets of a TDX v4 quote with 32 bytes of QE auth data: signature data at 48 + 584 + 4 = 636
        // (docs/verification.md §1.2), its fields at the relative offsets of §1.5.
        Assert.Equal(v4.Length - 636, (int)BinaryPrimitives.ReadUInt32LittleEndian(v4.AsSpan(632)));
        Assert.Equal(6, BinaryPrimitives.ReadUInt16LittleEndian(v4.AsSpan(764)));
        Assert.Equal(v4.Length - 770, (int)BinaryPrimitives.ReadUInt32LittleEndian(v4.AsSpan(766)));
        Assert.Equal(32, BinaryPrimitives.ReadUInt16LittleEndian(v4.AsSpan(1218)));
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (byte)i), v4.AsSpan(1220, 32).ToArray());
        Assert.Equal(5, BinaryPrimitives.ReadUInt16LittleEndian(v4.AsSpan(1252)));
        Assert.Equal(v4.Length - 1258, (int)BinaryPrimitives.ReadUInt32LittleEndian(v4.AsSpan(1254)));
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", System.Text.Encoding.ASCII.GetString(v4, 1258, 27));
        Assert.Equal(0, v4[^1]);

        var parsed = Quote.Parse(v4);
        var body = parsed.TdReport;
        Assert.Equal(QuoteBodyType.TdReport10, parsed.BodyType);
        Assert.Equal(Platform.Profile.TeeTcbSvn, body.TeeTcbSvn.ToArray());
        Assert.Equal(Platform.Profile.MrSeam, body.MrSeam.ToArray());
        Assert.Equal(new byte[48], body.MrSignerSeam.ToArray());
        Assert.Equal(new byte[8], body.SeamAttributes.ToArray());
        Assert.Equal("0000001000000000", Convert.ToHexString(body.TdAttributes.Span));
        Assert.Equal("E718060000000000", Convert.ToHexString(body.Xfam.Span));
        Assert.Equal(td.MrTd, body.MrTd.ToArray());
        Assert.Equal(td.MrConfigId, body.MrConfigId.ToArray());
        Assert.Equal(td.MrOwner, body.MrOwner.ToArray());
        Assert.Equal(td.MrOwnerConfig, body.MrOwnerConfig.ToArray());
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(td.RtMr(i), body.RtMr(i).ToArray());
        }

        Assert.Equal(ReportData, body.ReportData.ToArray());
        var qe = parsed.SignatureData.QeReport;
        Assert.Equal(2, qe.IsvProdId);
        Assert.Equal(Platform.Profile.TdQeSvn, qe.IsvSvn);
        Assert.Equal("DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5", Convert.ToHexString(qe.MrSigner.Span));

        var v5 = Platform.TdQuote(td with { MrServiceTd = Filled(0x55) }, ReportData, 5, td15: true);
        Assert.Equal(5, BinaryPrimitives.ReadUInt16LittleEndian(v5));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(v5.AsSpan(48)));
        Assert.Equal(648u, BinaryPrimitives.ReadUInt32LittleEndian(v5.AsSpan(50)));
        Assert.Equal(v5.Length - 706, (int)BinaryPrimitives.ReadUInt32LittleEndian(v5.AsSpan(702)));
        Assert.Equal(6, BinaryPrimitives.ReadUInt16LittleEndian(v5.AsSpan(834)));
        Assert.Equal(5, BinaryPrimitives.ReadUInt16LittleEndian(v5.AsSpan(1322)));
        var parsed5 = Quote.Parse(v5).TdReport;
        Assert.Equal(Platform.Profile.TeeTcbSvn2, parsed5.TeeTcbSvn2.ToArray());
        Assert.Equal(Filled(0x55), parsed5.MrServiceTd.ToArray());
        Assert.Equal(td.MrTd, parsed5.MrTd.ToArray());

        var v5td10 = Platform.TdQuote(td, ReportData, 5);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(v5td10.AsSpan(48)));
        Assert.Equal(584u, BinaryPrimitives.ReadUInt32LittleEndian(v5td10.AsSpan(50)));
        Assert.Equal(td.MrTd, Quote.Parse(v5td10).TdReport.MrTd.ToArray());
    }

    [Fact]
    public void The_default_td_is_stable_per_name()
    {
        var a = SimulatedTd.CreateDefault("web");
        Assert.Equal(a.MrTd, SimulatedTd.CreateDefault("web").MrTd);
        Assert.NotEqual(a.MrTd, SimulatedTd.CreateDefault("db").MrTd);
        Assert.NotEqual(a.MrTd, a.RtMr0);
        Assert.False(a.Debug);
        Assert.True(SimulatedTd.CreateDefault("web", debug: true).Debug);
        Assert.Equal(a.MrTd, a.WithDebug().MrTd);
        Assert.False(a.WithDebug().WithDebug(false).Debug);
    }

    public static TheoryData<string, int, bool> PolicyFields() => new()
    {
        { "debug", 4, false },
        { "sept-ve-disabled-cleared", 4, false },
        { "migratable", 5, false },
        { "mr-servicetd", 5, true },
    };

    /// <summary>
    /// These TDs verify under QVL semantics: debug, attributes and MRSERVICETD are relying-party policy
    /// (docs/tdx.md, "What a relying party must check"), so the test asserts the fields a policy would see.
    /// </summary>
    [Theory]
    [MemberData(nameof(PolicyFields))]
    public void Policy_relevant_td_fields_verify_and_are_reported_as_made(string variant, int version, bool td15)
    {
        var td = SimulatedTd.CreateDefault();
        td = variant switch
        {
            "debug" => td.WithDebug(),
            "sept-ve-disabled-cleared" => td with { Attributes = new byte[8] },
            "migratable" => td with { Attributes = [0, 0, 0, 0x30, 0, 0, 0, 0] },
            _ => td with { MrServiceTd = SHA384.HashData("service-td"u8) },
        };
        var result = Verify(TdQuote(version, td15, td), Options());
        AssertStatus(QvlStatus.STATUS_OK, result);
        var body = result.Quote!.TdReport;
        Assert.Equal(variant == "debug", body.IsDebuggable);
        var attributes = BinaryPrimitives.ReadUInt64LittleEndian(body.TdAttributes.Span);
        Assert.Equal(variant != "sept-ve-disabled-cleared", (attributes & (1UL << 28)) != 0);
        Assert.Equal(variant == "migratable", (attributes & (1UL << 29)) != 0);
        Assert.Equal(td.Attributes, body.TdAttributes.ToArray());
        if (td15)
        {
            Assert.Equal(td.MrServiceTd, body.MrServiceTd.ToArray());
            Assert.Contains(body.MrServiceTd.ToArray(), b => b != 0);
        }
    }

    [Fact]
    public void Report_data_is_carried_verbatim_and_binds_only_its_own_runtime_data()
    {
        // QVL does not judge report data: a quote over other runtime data verifies, and the relying party's
        // SHA-256(runtime data) ‖ zeros comparison is what tells them apart.
        var other = Platform.TdQuote(SimulatedTd.CreateDefault(), SampleEnclave.ReportDataFor("other"u8), 4);
        var result = Verify(other, Options());
        AssertStatus(QvlStatus.STATUS_OK, result);
        Assert.NotEqual(ReportData, result.Quote!.ReportData.ToArray());
        Assert.Equal(SampleEnclave.ReportDataFor("other"u8), result.Quote.ReportData.ToArray());
        Assert.Equal(new byte[32], result.Quote.ReportData[32..].ToArray());
    }

    [Fact]
    public void Expired_tdx_collateral_is_a_finding_beside_the_verdict()
    {
        var options = Options();
        var result = Verify(TdQuote(), options, at: fixture.Now + options.Validity + TimeSpan.FromSeconds(1));
        AssertStatus(QvlStatus.STATUS_OK, result);
        Assert.True(result.CollateralExpired);
        Assert.Contains(result.ExpiryFindings, f => f.Contains("TCB Info", StringComparison.OrdinalIgnoreCase));
        Assert.False(Verify(TdQuote(), options).CollateralExpired);
    }

    public static TheoryData<int, bool, int, QvlStatus> Mutations() => new()
    {
        // One flipped bit per field (layout: docs/verification.md §1.2, §1.4, §1.5; checks in the order of §5.4).
        // v4: 28 QE-ID in the header, 50 TEE_TCB_SVN, 184 MRTD, 568 REPORTDATA, 636 quote signature, 700 attestation
        // key (breaks the QE report binding), 1028 QE report, 1154 QE report signature, 1220 QE auth data.
        // v5 TD 1.5 (body at 54, signature data at 706): 382 RTMR0, 638 TEE_TCB_SVN2, 654 MRSERVICETD, 706 quote
        // signature, 770 attestation key, 1224 QE report signature, 1290 QE auth data.
        { 4, false, 28, QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE },
        { 4, false, 50, QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE },
        { 4, false, 184, QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE },
        { 4, false, 568, QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE },
        { 4, false, 636, QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE },
        { 4, false, 700, QvlStatus.STATUS_INVALID_QE_REPORT_DATA },
        { 4, false, 1028, QvlStatus.STATUS_INVALID_QE_REPORT_SIGNATURE },
        { 4, false, 1154, QvlStatus.STATUS_INVALID_QE_REPORT_SIGNATURE },
        { 4, false, 1220, QvlStatus.STATUS_INVALID_QE_REPORT_DATA },
        { 5, true, 382, QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE },
        { 5, true, 638, QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE },
        { 5, true, 654, QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE },
        { 5, true, 706, QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE },
        { 5, true, 770, QvlStatus.STATUS_INVALID_QE_REPORT_DATA },
        { 5, true, 1224, QvlStatus.STATUS_INVALID_QE_REPORT_SIGNATURE },
        { 5, true, 1290, QvlStatus.STATUS_INVALID_QE_REPORT_DATA },
    };

    [Theory]
    [MemberData(nameof(Mutations))]
    public void A_flipped_bit_gives_intels_status(int version, bool td15, int offset, QvlStatus expected)
    {
        var quote = TdQuote(version, td15);
        quote[offset] ^= 1;
        AssertStatus(expected, Verify(quote, Options()));
    }

    [Fact]
    public void A_legacy_module_without_identities_verifies_and_refuses_module_options()
    {
        using var legacy = SimulatedPlatform.Create(Path.Combine(fixture.Root, "legacy-" + Guid.NewGuid().ToString("N")), fixture.Now,
            PlatformProfile.CreateDefault() with { TeeTcbSvn = [3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], TeeTcbSvn2 = [3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
        foreach (var (version, td15) in new[] { (4, false), (5, true) })
        {
            var result = Verify(TdQuote(version, td15, platform: legacy), Options(), legacy);
            AssertStatus(QvlStatus.STATUS_OK, result);
            Assert.Null(result.TdxModuleStatus);
            AssertStatus(QvlStatus.STATUS_TCB_OUT_OF_DATE, Verify(TdQuote(version, td15, platform: legacy), Options(TcbStatus.OutOfDate), legacy));
        }

        Assert.DoesNotContain("tdxModuleIdentities", System.Text.Encoding.UTF8.GetString(CollateralAuthority.IssueTdx(legacy, Options()).TcbInfo));
        var e = Assert.Throws<ArgumentException>(() => CollateralAuthority.IssueTdx(legacy, Options(module: TcbStatus.OutOfDate)));
        Assert.Contains("major version 0", e.Message);
        Assert.Throws<ArgumentException>(() => CollateralAuthority.IssueTdx(legacy, Options(relaunch: true)));
    }

    [Fact]
    public void A_relaunch_needs_a_module_update_on_the_platform()
    {
        using var same = SimulatedPlatform.Create(Path.Combine(fixture.Root, "same-" + Guid.NewGuid().ToString("N")), fixture.Now,
            PlatformProfile.CreateDefault() with { TeeTcbSvn2 = [.. PlatformProfile.DefaultTeeTcbSvn] });
        var e = Assert.Throws<ArgumentException>(() => CollateralAuthority.IssueTdx(same, Options(relaunch: true)));
        Assert.Contains("TEE_TCB_SVN2", e.Message);

        // Without an update, a module OutOfDate is just that, also in TD 1.5 quotes.
        AssertStatus(QvlStatus.STATUS_TCB_OUT_OF_DATE, Verify(TdQuote(5, true, platform: same), Options(module: TcbStatus.OutOfDate), same));
        Assert.Throws<ArgumentException>(() => CollateralAuthority.IssueTdx(Platform, Options(module: TcbStatus.Revoked, relaunch: true)));
    }

    [Fact]
    public void A_module_update_to_a_new_major_version_names_both_identities()
    {
        // TD launched on TDX_01 SVN 5; the loaded module is TDX_03 SVN 2 (TEE_TCB_SVN2).
        using var upgraded = SimulatedPlatform.Create(Path.Combine(fixture.Root, "major-" + Guid.NewGuid().ToString("N")), fixture.Now,
            PlatformProfile.CreateDefault() with { TeeTcbSvn2 = [2, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
        var quote = TdQuote(5, true, platform: upgraded);
        var relaunch = Verify(quote, Options(relaunch: true), upgraded);
        AssertStatus(QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED, relaunch);
        Assert.Equal(["TDX_01", "TDX_03"], relaunch.TcbInfo!.TdxModuleIdentities!.Select(i => i.Id));
        AssertStatus(QvlStatus.STATUS_TCB_OUT_OF_DATE, Verify(quote, Options(module: TcbStatus.OutOfDate), upgraded));
        AssertStatus(QvlStatus.STATUS_OK, Verify(quote, Options(), upgraded));
    }

    [Fact]
    public void Tdx_only_options_and_bad_td_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => CollateralAuthority.Issue(Platform, Options(module: TcbStatus.OutOfDate)));
        Assert.Throws<ArgumentException>(() => CollateralAuthority.Issue(Platform, Options(relaunch: true)));
        Assert.Throws<ArgumentException>(() => CollateralAuthority.IssueTdx(Platform, Options(module: TcbStatus.SWHardeningNeeded)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Platform.TdQuote(SimulatedTd.CreateDefault(), ReportData, 3));
        Assert.Throws<ArgumentException>(() => Platform.TdQuote(SimulatedTd.CreateDefault(), ReportData, 4, td15: true));
        Assert.Throws<ArgumentException>(() => Platform.TdQuote(SimulatedTd.CreateDefault(), new byte[65]));
        var e = Assert.Throws<ArgumentException>(() => Platform.TdQuote(SimulatedTd.CreateDefault() with { MrTd = new byte[32] }, ReportData));
        Assert.Contains("MrTd must be 48 bytes", e.Message);
    }

    [Fact]
    public void A_platform_json_without_tdx_fields_loads_with_the_default_tdx_module()
    {
        var copy = fixture.CopyState();
        var path = Path.Combine(copy, "platform.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.True(json.Remove("tdx"));
        File.WriteAllText(path, json.ToJsonString());

        using var old = SimulatedPlatform.Load(copy);
        Assert.Equal(PlatformProfile.DefaultTeeTcbSvn, old.Profile.TeeTcbSvn);
        Assert.Equal(PlatformProfile.DefaultTeeTcbSvn2, old.Profile.TeeTcbSvn2);
        Assert.Equal(PlatformProfile.DefaultMrSeam, old.Profile.MrSeam);
        Assert.Equal(PlatformProfile.DefaultTdQeSvn, old.Profile.TdQeSvn);
        AssertStatus(QvlStatus.STATUS_OK, Verify(TdQuote(platform: old), Options(), old));
        AssertStatus(QvlStatus.STATUS_OK, QuoteVerifier.VerifyCold(old.Quote(fixture.Enclave(), ReportData), CollateralAuthority.Issue(old, Options()).ToQuoteCollateral(), old.TrustAnchor, At));
    }

    [Fact]
    public void The_tdx_profile_round_trips_through_platform_json_and_bad_values_are_named()
    {
        var folder = Path.Combine(fixture.Root, "custom-" + Guid.NewGuid().ToString("N"));
        var profile = PlatformProfile.CreateDefault() with { TeeTcbSvn = [7, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], TdQeSvn = 9, MrSeam = Filled(0x66) };
        SimulatedPlatform.Create(folder, fixture.Now, profile).Dispose();
        using (var loaded = SimulatedPlatform.Load(folder))
        {
            Assert.Equal(profile.TeeTcbSvn, loaded.Profile.TeeTcbSvn);
            Assert.Equal(9, loaded.Profile.TdQeSvn);
            Assert.Equal(Filled(0x66), loaded.Profile.MrSeam);
            var result = Verify(TdQuote(platform: loaded), Options(), loaded);
            AssertStatus(QvlStatus.STATUS_OK, result);
            // The launch module's identity and the loaded one's (TEE_TCB_SVN2 keeps the default, major version 1).
            Assert.Equal(["TDX_03", "TDX_01"], result.TcbInfo!.TdxModuleIdentities!.Select(i => i.Id));
        }

        var path = Path.Combine(folder, "platform.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["tdx"]!["mrSeam"] = "00";
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions()));
        var e = Assert.Throws<PlatformStateException>(() => SimulatedPlatform.Load(folder));
        Assert.Contains("\"mrSeam\" must be 96 hex digits", e.Message);
    }

    private static byte[] Filled(byte value) => Enumerable.Repeat(value, 48).ToArray();
}
