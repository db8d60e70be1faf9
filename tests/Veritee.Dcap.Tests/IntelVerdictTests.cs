using Veritee.Dcap.Collateral;
using Veritee.Dcap.Lab;
using Veritee.Dcap.Verification;

namespace Veritee.Dcap.Tests;

/// <summary>
/// Intel QVL's verdict on unusual but correctly signed collateral (docs/verification.md §5–§8), each built by hand with
/// <see cref="DcapLab"/> and checked end to end: cold, and warm twice through one cache (a cache never changes a verdict).
/// The expected statuses come from QVL's source (EnclaveIdentityV2, TcbInfo, TdxModuleIdentity, TcbLevelCheck,
/// TdxModuleCheck, TDRelaunchCheck) and QvE's expiration rule.
/// </summary>
public sealed class IntelVerdictTests : IDisposable
{
    private static readonly DateTimeOffset At = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Issued = At.AddDays(-1);
    private static readonly DateTimeOffset Next = At.AddDays(29);
    private static readonly byte[] Pck = DcapLab.Comps(5, 5, 2);
    private const ushort PceSvn = 11;
    private const ushort QeSvn = 8;

    private readonly DcapLab _lab = new(At, Pck, PceSvn);

    public void Dispose() => _lab.Dispose();

    public static TheoryData<string, string, QvlStatus> QeConfigurationLevels() => new()
    {
        // Matched level neither UpToDate nor Revoked: the QE is out of date, merged with the platform status.
        { "ConfigurationNeeded", "UpToDate", QvlStatus.STATUS_TCB_OUT_OF_DATE },
        { "OutOfDateConfigurationNeeded", "UpToDate", QvlStatus.STATUS_TCB_OUT_OF_DATE },
        { "ConfigurationNeeded", "ConfigurationNeeded", QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED },
        { "OutOfDateConfigurationNeeded", "SWHardeningNeeded", QvlStatus.STATUS_TCB_OUT_OF_DATE },
        { "ConfigurationNeeded", "Revoked", QvlStatus.STATUS_TCB_REVOKED },
    };

    [Theory]
    [MemberData(nameof(QeConfigurationLevels))]
    public void Qe_identity_configuration_levels_parse_and_make_the_qe_out_of_date(string qeStatus, string platformStatus, QvlStatus expected)
    {
        var sgx = Verify(_lab.SgxQuote(QeSvn), SgxTcbInfo(platformStatus), QeIdentity(false, (QeSvn, qeStatus), (2, "OutOfDate")), At);
        Assert.Equal(expected, sgx.Status);

        // The same status classes on a TD QE identity.
        var tdx = Verify(_lab.TdxQuote(4, DcapLab.Comps(3, 0, 3), null, QeSvn), TdxTcbInfo(platformStatus, [Module("TDX_01", (0, "UpToDate"))]),
            QeIdentity(true, (QeSvn, qeStatus), (2, "OutOfDate")), At);
        Assert.Equal(expected, tdx.Status);
    }

    [Fact]
    public void Unmatched_qe_configuration_levels_are_ignored()
    {
        var result = Verify(_lab.SgxQuote(QeSvn), SgxTcbInfo("UpToDate"),
            QeIdentity(false, (QeSvn + 2, "OutOfDateConfigurationNeeded"), (QeSvn + 1, "ConfigurationNeeded"), (QeSvn, "UpToDate")), At);
        Assert.Equal(QvlStatus.STATUS_OK, result.Status);
    }

    [Theory]
    [InlineData("SWHardeningNeeded", false)]
    [InlineData("ConfigurationAndSWHardeningNeeded", false)]
    [InlineData("SWHardeningNeeded", true)]
    [InlineData("ConfigurationAndSWHardeningNeeded", true)]
    [InlineData("NoSuchStatus", false)]
    public void Qe_identity_with_a_status_qvl_cannot_parse_is_invalid_even_when_unmatched(string status, bool tdx)
    {
        var quote = tdx ? _lab.TdxQuote(4, DcapLab.Comps(3, 0, 3), null, QeSvn) : _lab.SgxQuote(QeSvn);
        var tcbInfo = tdx ? TdxTcbInfo("UpToDate", [Module("TDX_01", (0, "UpToDate"))]) : SgxTcbInfo("UpToDate");
        var result = Verify(quote, tcbInfo, QeIdentity(tdx, (QeSvn + 5, status), (QeSvn, "UpToDate")), At);
        Assert.Equal(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID, result.Status);
        Assert.Contains(status, result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_tcb_levels_make_the_tcb_info_invalid()
    {
        var body = DcapLab.TcbInfoBody(false, Issued, Next,
            [new LabTcbLevel(Pck, PceSvn, null, "UpToDate"), new LabTcbLevel(DcapLab.Comps(1), 1, null, "OutOfDate"), new LabTcbLevel(DcapLab.Comps(1), 1, null, "Revoked")]);
        var result = Verify(_lab.SgxQuote(QeSvn), body, QeIdentity(false, (QeSvn, "UpToDate")), At);
        Assert.Equal(QvlStatus.STATUS_SGX_TCB_INFO_INVALID, result.Status);
        Assert.Contains("duplicate", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tcb_level_status_qvl_does_not_know_makes_the_tcb_info_invalid()
    {
        var body = DcapLab.TcbInfoBody(false, Issued, Next, [new LabTcbLevel(Pck, PceSvn, null, "UpToDate"), new LabTcbLevel(DcapLab.Comps(1), 1, null, "Obsolete")]);
        Assert.Equal(QvlStatus.STATUS_SGX_TCB_INFO_INVALID, Verify(_lab.SgxQuote(QeSvn), body, QeIdentity(false, (QeSvn, "UpToDate")), At).Status);
    }

    [Fact]
    public void Verification_exactly_at_next_update_counts_as_expired()
    {
        var tcbInfo = SgxTcbInfo("UpToDate");
        var qe = QeIdentity(false, (QeSvn, "UpToDate"));
        var before = Verify(_lab.SgxQuote(QeSvn), tcbInfo, qe, Next.AddSeconds(-1));
        Assert.Equal(QvlStatus.STATUS_OK, before.Status);
        Assert.False(before.CollateralExpired);

        // QvE: collateral_expiration_status = (earliest_expiration_date <= expiration_check_date).
        var at = Verify(_lab.SgxQuote(QeSvn), tcbInfo, qe, Next);
        Assert.Equal(QvlStatus.STATUS_OK, at.Status);
        Assert.True(at.CollateralExpired);
        Assert.Contains(at.ExpiryFindings, f => f.Contains("TCB Info", StringComparison.Ordinal));
        Assert.Contains(at.ExpiryFindings, f => f.Contains("QE Identity", StringComparison.Ordinal));
        Assert.Contains(at.ExpiryFindings, f => f.Contains("CRL", StringComparison.Ordinal));

        var collateral = ToQuoteCollateral(_lab.Collateral(tcbInfo, qe, Issued, Next));
        Assert.True(CollateralValidity.Of(collateral).IsValidAt(Next.AddSeconds(-1)));
        Assert.False(CollateralValidity.Of(collateral).IsValidAt(Next));
    }

    [Fact]
    public void Verification_exactly_at_a_certificate_not_after_counts_as_expired()
    {
        using var lab = new DcapLab(At, Pck, PceSvn, certificatesNotAfter: At.AddDays(10));
        var later = new DateTimeOffset(2025, 7, 1, 0, 0, 0, TimeSpan.Zero);
        var tcbInfo = DcapLab.TcbInfoBody(false, Issued, later, [new LabTcbLevel(Pck, PceSvn, null, "UpToDate")]);
        var qe = DcapLab.QeIdentityBody(false, Issued, later, [new LabIsvLevel(QeSvn, "UpToDate")]);
        var notAfter = lab.CertificatesNotAfter;
        Assert.False(Verify(lab, lab.SgxQuote(QeSvn), tcbInfo, qe, notAfter.AddSeconds(-1), later).CollateralExpired);
        var at = Verify(lab, lab.SgxQuote(QeSvn), tcbInfo, qe, notAfter, later);
        Assert.True(at.CollateralExpired);
        Assert.All(at.ExpiryFindings, f => Assert.Contains("notAfter", f, StringComparison.Ordinal));
    }

    [Fact]
    public void Tdx_duplicate_module_identity_levels_make_the_tcb_info_unparseable()
    {
        var body = TdxTcbInfo("UpToDate", [Module("TDX_01", (3, "UpToDate"), (3, "OutOfDate"))]);
        var result = Verify(_lab.TdxQuote(4, DcapLab.Comps(3, 1, 3), null, QeSvn), body, QeIdentity(true, (QeSvn, "UpToDate")), At);

        // QVL's TdxModuleIdentity throws its FormatException ("Detected duplicated TDX Module Identity TCB levels").
        Assert.Equal(QvlStatus.STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT, result.Status);
        Assert.Contains("duplicate", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Tdx_missing_module_identities_with_a_module_version_is_a_module_mismatch()
    {
        var body = TdxTcbInfo("UpToDate", identities: null);
        var result = Verify(_lab.TdxQuote(4, DcapLab.Comps(3, 1, 3), null, QeSvn), body, QeIdentity(true, (QeSvn, "UpToDate")), At);
        Assert.Equal(QvlStatus.STATUS_TDX_MODULE_MISMATCH, result.Status);

        // Module version 0 does not need them.
        Assert.Equal(QvlStatus.STATUS_OK, Verify(_lab.TdxQuote(4, DcapLab.Comps(3, 0, 3), null, QeSvn), body, QeIdentity(true, (QeSvn, "UpToDate")), At).Status);
    }

    [Fact]
    public void Tdx_module_identity_levels_are_judged_highest_isvsvn_first_whatever_the_json_order()
    {
        // JSON order (2 OutOfDate, 4 Revoked): QVL sorts to (4 Revoked, 2 OutOfDate), so module SVN 4 is revoked.
        var body = TdxTcbInfo("UpToDate", [Module("TDX_01", (2, "OutOfDate"), (4, "Revoked"))]);
        var result = Verify(_lab.TdxQuote(4, DcapLab.Comps(4, 1, 3), null, QeSvn), body, QeIdentity(true, (QeSvn, "UpToDate")), At);
        Assert.Equal(QvlStatus.STATUS_TCB_REVOKED, result.Status);
        Assert.Equal(TcbStatus.Revoked, result.TdxModuleStatus);
        Assert.Equal([4, 2], result.TcbInfo!.TdxModuleIdentities![0].TcbLevels.Select(l => (int)l.IsvSvn));
    }

    [Fact]
    public void Td_relaunch_uses_the_highest_module_level_whatever_the_json_order()
    {
        // Loaded module SVN 3 (OutOfDate); SVN2 names module 1 at SVN 5. The highest level is 5, listed last in the
        // JSON: with QVL's order 5 >= 5 advises a relaunch; the JSON's first level (isvsvn 3) would have too, so use 6.
        var identities = new[] { Module("TDX_01", (3, "OutOfDate"), (6, "UpToDate")) };
        var body = TdxTcbInfo("SWHardeningNeeded", identities);
        var qe = QeIdentity(true, (QeSvn, "UpToDate"));
        var notYet = Verify(_lab.TdxQuote(5, DcapLab.Comps(3, 1, 3), DcapLab.Comps(5, 1, 3), QeSvn), body, qe, At);
        Assert.Equal(QvlStatus.STATUS_TCB_OUT_OF_DATE, notYet.Status);
        var relaunch = Verify(_lab.TdxQuote(5, DcapLab.Comps(3, 1, 3), DcapLab.Comps(6, 1, 3), QeSvn), body, qe, At);
        Assert.Equal(QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED, relaunch.Status);
    }

    [Fact]
    public void Td_relaunch_naming_a_module_the_tcb_info_lacks_is_intel_unrecognized_status()
    {
        // Module 1 at SVN 3 is OutOfDate; TEE_TCB_SVN2 names module 2, which the TCB Info lacks. QVL's relaunch check
        // answers TDX_MODULE_MISMATCH and its merge with the QE status turns that into TCB_UNRECOGNIZED_STATUS.
        var body = TdxTcbInfo("UpToDate", [Module("TDX_01", (5, "UpToDate"), (3, "OutOfDate"))]);
        var result = Verify(_lab.TdxQuote(5, DcapLab.Comps(3, 1, 3), DcapLab.Comps(7, 2, 3), QeSvn), body, QeIdentity(true, (QeSvn, "UpToDate")), At);
        Assert.Equal(QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS, result.Status);
        Assert.False(result.IsVerified);
    }

    private static LabModuleIdentity Module(string id, params (ushort IsvSvn, string Status)[] levels) =>
        new(id, [.. levels.Select(l => new LabIsvLevel(l.IsvSvn, l.Status))]);

    private static string SgxTcbInfo(string platformStatus) => DcapLab.TcbInfoBody(false, Issued, Next,
        [new LabTcbLevel(DcapLab.Comps(9, 9), PceSvn, null, "UpToDate"), new LabTcbLevel(Pck, PceSvn, null, platformStatus), new LabTcbLevel(DcapLab.Comps(), 0, null, "OutOfDate")]);

    private static string TdxTcbInfo(string tdxStatus, IEnumerable<LabModuleIdentity>? identities) => DcapLab.TcbInfoBody(true, Issued, Next,
        [new LabTcbLevel(Pck, PceSvn, DcapLab.Comps(0, 0, 3), tdxStatus), new LabTcbLevel(DcapLab.Comps(), 0, DcapLab.Comps(), "OutOfDate")], identities);

    private static string QeIdentity(bool tdx, params (int IsvSvn, string Status)[] levels) =>
        DcapLab.QeIdentityBody(tdx, Issued, Next, levels.Select(l => new LabIsvLevel((ushort)l.IsvSvn, l.Status)));

    private static QuoteCollateral ToQuoteCollateral(LabCollateral c) =>
        new(c.PckCrlIssuerChain, c.RootCaCrl, c.PckCrl, c.SigningChain, c.TcbInfo, c.SigningChain, c.QeIdentity);

    private VerificationResult Verify(byte[] quote, string tcbInfo, string qeIdentity, DateTimeOffset at) =>
        Verify(_lab, quote, tcbInfo, qeIdentity, at, Next);

    private static VerificationResult Verify(DcapLab lab, byte[] quote, string tcbInfo, string qeIdentity, DateTimeOffset at, DateTimeOffset crlNext)
    {
        var collateral = ToQuoteCollateral(lab.Collateral(tcbInfo, qeIdentity, Issued, crlNext));
        var anchor = TrustAnchor.FromPoint(lab.RootPoint, "lab root");
        var cold = QuoteVerifier.VerifyCold(quote, collateral, anchor, at);
        var warm = new QuoteVerifier(new VerificationCache());
        foreach (var run in new[] { warm.Verify(quote, collateral, anchor, at), warm.Verify(quote, collateral, anchor, at) })
        {
            Assert.Equal(cold.Status, run.Status);
            Assert.Equal(cold.ExpiryFindings, run.ExpiryFindings);
        }

        return cold;
    }
}
