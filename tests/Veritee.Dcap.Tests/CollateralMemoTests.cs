using Veritee.Dcap.Collateral;
using Veritee.Dcap.Lab;
using Veritee.Dcap.Verification;

namespace Veritee.Dcap.Tests;

/// <summary>
/// The warm verifier remembers a collateral bundle whose quote-independent checks passed (by a private copy of its
/// bytes and the trust anchor) and each quote's PCK chain under it. These tests hold that memo to Intel's verdict:
/// later times, mutated bytes, a new CRL and another anchor must each give exactly what a cold verification gives.
/// </summary>
public sealed class CollateralMemoTests
{
    private const string CaseId = "sgx-v3-processorca-confsw-2025-07";

    public static TheoryData<string> LaterTimes() => new()
    {
        "2025-07-04T10:28:44Z", // the case's own time: nothing expired
        "2025-07-19T10:01:18Z", // exactly the earliest nextUpdate: expired (QvE counts equality)
        "2025-08-30T00:00:00Z", // past TCB Info, QE Identity and CRL nextUpdate
        "2025-06-01T00:00:00Z", // before the CRLs' thisUpdate
        "2040-01-01T00:00:00Z", // past every certificate's notAfter
    };

    [Theory]
    [MemberData(nameof(LaterTimes))]
    public void A_remembered_bundle_is_judged_at_each_calls_time(string time)
    {
        var c = VectorCase.Load(CaseId);
        var at = DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture);
        var collateral = c.Collateral;
        var cache = new VerificationCache();
        var verifier = new QuoteVerifier(cache);

        // Remember the bundle at the case's time, then verify the same instance at another time.
        Assert.True(verifier.Verify(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time).IsVerified);
        Assert.Equal(1, cache.BundleCount);
        var warm = verifier.Verify(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, at);
        var cold = QuoteVerifier.VerifyCold(c.Quote, c.Collateral, TrustAnchor.IntelSgxRootCa, at);

        AssertSame(cold, warm);
        Assert.Equal(at >= new DateTimeOffset(2025, 7, 19, 10, 1, 18, TimeSpan.Zero), warm.CollateralExpired && warm.ExpiryFindings.Any(f => f.Contains("nextUpdate", StringComparison.Ordinal)));
    }

    public static TheoryData<string, int> CollateralBytes() => new()
    {
        { "tcb_info.json", 40 },           // inside the signed TCB Info body
        { "tcb_info.json", -20 },          // inside its signature
        { "qe_identity.json", 40 },
        { "root_ca_crl.der", 60 },         // inside the signed CRL body
        { "pck_crl.der", -10 },            // inside the CRL signature
        { "tcb_info_issuer_chain.pem", 300 },
        { "qe_identity_issuer_chain.pem", 300 },
    };

    [Theory]
    [MemberData(nameof(CollateralBytes))]
    public void A_bundle_mutated_after_it_was_remembered_is_verified_from_its_new_bytes(string file, int offset)
    {
        var c = VectorCase.Load(CaseId);
        var collateral = c.Collateral;
        var verifier = new QuoteVerifier(new VerificationCache());
        Assert.True(verifier.Verify(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time).IsVerified);

        // Flip one bit of the caller's own array, in place: the memo's copy must not vouch for the new bytes.
        var part = Part(collateral, file);
        var at = offset >= 0 ? offset : part.Length + offset;
        part[at] ^= 0x01;
        var cold = QuoteVerifier.VerifyCold(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        var warm = verifier.Verify(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.False(cold.IsVerified, $"{file}@{at}: the mutation itself must break the bundle ({cold.Status.Name()})");
        AssertSame(cold, warm);

        // Restored bytes verify again.
        part[at] ^= 0x01;
        Assert.True(verifier.Verify(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time).IsVerified);
    }

    [Fact]
    public void A_new_crl_that_revokes_the_pck_certificate_is_a_new_bundle()
    {
        var at = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
        using var lab = new DcapLab(at, DcapLab.Comps(5, 5, 2), 11);
        var anchor = TrustAnchor.FromPoint(lab.RootPoint, "lab root");
        var tcbInfo = DcapLab.TcbInfoBody(false, at.AddDays(-1), at.AddDays(29), [new LabTcbLevel(DcapLab.Comps(5, 5, 2), 11, null, "UpToDate")]);
        var qeIdentity = DcapLab.QeIdentityBody(false, at.AddDays(-1), at.AddDays(29), [new LabIsvLevel(8, "UpToDate")]);
        var quote = lab.SgxQuote(8);
        var verifier = new QuoteVerifier(new VerificationCache());

        var before = ToQuoteCollateral(lab.Collateral(tcbInfo, qeIdentity, at.AddDays(-1), at.AddDays(29)));
        Assert.Equal(QvlStatus.STATUS_OK, verifier.Verify(quote, before, anchor, at).Status);

        var revoking = ToQuoteCollateral(lab.Collateral(tcbInfo, qeIdentity, at.AddDays(-1), at.AddDays(29), revokePck: true));
        var warm = verifier.Verify(quote, revoking, anchor, at);
        Assert.Equal(QvlStatus.STATUS_SGX_PCK_REVOKED, warm.Status);
        AssertSame(QuoteVerifier.VerifyCold(quote, revoking, anchor, at), warm);

        // The bundle without the revocation is still the bundle it was.
        Assert.Equal(QvlStatus.STATUS_OK, verifier.Verify(quote, before, anchor, at).Status);
    }

    [Fact]
    public void A_bundle_remembered_under_one_anchor_is_not_trusted_under_another()
    {
        var c = VectorCase.Load(CaseId);
        var collateral = c.Collateral;
        var verifier = new QuoteVerifier(new VerificationCache());
        Assert.True(verifier.Verify(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time).IsVerified);

        using var lab = new DcapLab(c.Time, DcapLab.Comps(1), 1);
        var other = TrustAnchor.FromPoint(lab.RootPoint, "another root");
        var warm = verifier.Verify(c.Quote, collateral, other, c.Time);
        Assert.Equal(QvlStatus.STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED, warm.Status);
        AssertSame(QuoteVerifier.VerifyCold(c.Quote, collateral, other, c.Time), warm);
    }

    [Fact]
    public void The_same_bytes_in_another_instance_are_one_remembered_bundle()
    {
        var c = VectorCase.Load(CaseId);
        var cache = new VerificationCache();
        var verifier = new QuoteVerifier(cache);
        var first = verifier.Verify(c.Quote, c.Collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        var second = verifier.Verify(c.Quote, c.Collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.True(first.IsVerified);
        AssertSame(first, second);
        Assert.Equal(1, cache.BundleCount);

        // The dcap-qvl JSON form is other bytes (whitespace of the bodies), so another bundle with the same verdict.
        AssertSame(first, verifier.Verify(c.Quote, c.DcapQvlCollateral, TrustAnchor.IntelSgxRootCa, c.Time));
    }

    [Fact]
    public void A_quote_whose_pck_chain_differs_is_checked_against_the_remembered_bundle()
    {
        var c = VectorCase.Load(CaseId);
        var collateral = c.Collateral;
        var verifier = new QuoteVerifier(new VerificationCache());
        Assert.True(verifier.Verify(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time).IsVerified);

        // One bit inside the PCK certificate's signature (the PEM's base64 text, first certificate of the chain).
        var quote = c.Quote;
        var pem = System.Text.Encoding.ASCII.GetString(quote);
        var end = pem.IndexOf("-----END CERTIFICATE-----", StringComparison.Ordinal);
        Assert.True(end > 0);
        var at = end - 8;
        quote[at] = quote[at] == (byte)'A' ? (byte)'B' : (byte)'A';

        var cold = QuoteVerifier.VerifyCold(quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        var warm = verifier.Verify(quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.False(cold.IsVerified);
        AssertSame(cold, warm);
    }

    [Fact]
    public void A_collateral_with_a_missing_part_fails_closed_when_warm()
    {
        var c = VectorCase.Load(CaseId);
        var full = c.Collateral;
        var verifier = new QuoteVerifier(new VerificationCache());
        Assert.True(verifier.Verify(c.Quote, full, TrustAnchor.IntelSgxRootCa, c.Time).IsVerified);

        var missing = full with { TcbInfo = null! };
        var warm = verifier.Verify(c.Quote, missing, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.False(warm.IsVerified);
        AssertSame(QuoteVerifier.VerifyCold(c.Quote, missing, TrustAnchor.IntelSgxRootCa, c.Time), warm);
    }

    private static void AssertSame(VerificationResult expected, VerificationResult actual)
    {
        Assert.Equal(expected.Status, actual.Status);
        Assert.Equal(expected.Detail, actual.Detail);
        Assert.Equal(expected.TcbStatus, actual.TcbStatus);
        Assert.Equal(expected.AdvisoryIds, actual.AdvisoryIds);
        Assert.Equal(expected.ExpiryFindings, actual.ExpiryFindings);
        Assert.Equal(expected.CollateralExpired, actual.CollateralExpired);
        Assert.Equal(expected.EarliestExpiration, actual.EarliestExpiration);
    }

    private static byte[] Part(QuoteCollateral collateral, string file) => file switch
    {
        "tcb_info.json" => collateral.TcbInfo,
        "qe_identity.json" => collateral.QeIdentity,
        "root_ca_crl.der" => collateral.RootCaCrl,
        "pck_crl.der" => collateral.PckCrl,
        "tcb_info_issuer_chain.pem" => collateral.TcbInfoIssuerChain,
        "qe_identity_issuer_chain.pem" => collateral.QeIdentityIssuerChain,
        _ => throw new ArgumentOutOfRangeException(nameof(file)),
    };

    private static QuoteCollateral ToQuoteCollateral(LabCollateral c) =>
        new(c.PckCrlIssuerChain, c.RootCaCrl, c.PckCrl, c.SigningChain, c.TcbInfo, c.SigningChain, c.QeIdentity);
}
