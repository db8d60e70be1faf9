using System.Buffers.Binary;
using System.Security.Cryptography;
using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Dcap.X509;
using Veritee.Sgx;

namespace Veritee.Enclave.Tests;

public class SimulatedPlatformTests(PlatformFixture fixture) : IClassFixture<PlatformFixture>
{
    private SimulatedPlatform Platform => fixture.Platform;

    private DateTimeOffset At => fixture.Now.AddHours(1);

    private VerificationResult Verify(byte[] quote, CollateralOptions options, TrustAnchor? anchor = null, DateTimeOffset? at = null) =>
        QuoteVerifier.VerifyCold(quote, CollateralAuthority.Issue(Platform, options).ToQuoteCollateral(), anchor ?? Platform.TrustAnchor, at ?? At);

    private byte[] Quote(int version = 3, bool debug = true) =>
        Platform.Quote(fixture.Enclave(debug), SampleEnclave.ReportDataFor("hello"u8), version);

    public static TheoryData<TcbStatus, QvlStatus, int> Statuses()
    {
        var data = new TheoryData<TcbStatus, QvlStatus, int>();
        foreach (var version in new[] { 3, 4 })
        {
            data.Add(TcbStatus.UpToDate, QvlStatus.STATUS_OK, version);
            data.Add(TcbStatus.SWHardeningNeeded, QvlStatus.STATUS_TCB_SW_HARDENING_NEEDED, version);
            data.Add(TcbStatus.ConfigurationNeeded, QvlStatus.STATUS_TCB_CONFIGURATION_NEEDED, version);
            data.Add(TcbStatus.ConfigurationAndSWHardeningNeeded, QvlStatus.STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, version);
            data.Add(TcbStatus.OutOfDate, QvlStatus.STATUS_TCB_OUT_OF_DATE, version);
            data.Add(TcbStatus.OutOfDateConfigurationNeeded, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, version);
            data.Add(TcbStatus.Revoked, QvlStatus.STATUS_TCB_REVOKED, version);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Statuses))]
    public void Every_tcb_status_is_produced_on_demand(TcbStatus status, QvlStatus expected, int version)
    {
        var result = Verify(Quote(version), new CollateralOptions { IssuedAt = fixture.Now, TcbStatus = status });
        Assert.True(expected == result.Status, $"{result.Status}: {result.Detail}");
        Assert.Equal(status, result.SgxTcbLevel?.Status);
        Assert.False(result.CollateralExpired);
        Assert.Equal(status == TcbStatus.UpToDate ? [] : [CollateralAuthority.SimulatedAdvisory], result.AdvisoryIds);
    }

    [Fact]
    public void A_revoked_pck_is_rejected_as_intel_would()
    {
        var result = Verify(Quote(), new CollateralOptions { IssuedAt = fixture.Now, RevokePck = true });
        Assert.Equal(QvlStatus.STATUS_SGX_PCK_REVOKED, result.Status);
        Assert.False(result.IsVerified);
    }

    [Theory]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.UpToDate, QvlStatus.STATUS_TCB_OUT_OF_DATE)]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.ConfigurationNeeded, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED)]
    [InlineData(TcbStatus.Revoked, TcbStatus.UpToDate, QvlStatus.STATUS_TCB_REVOKED)]
    public void The_quoting_enclave_status_converges_with_the_platform_status(TcbStatus qe, TcbStatus platform, QvlStatus expected)
    {
        var result = Verify(Quote(), new CollateralOptions { IssuedAt = fixture.Now, TcbStatus = platform, QeTcbStatus = qe });
        Assert.Equal(expected, result.Status);
        Assert.Equal(qe, result.QeIdentityTcbLevel?.Status);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void The_same_quote_is_untrusted_under_the_intel_root(int version)
    {
        var result = Verify(Quote(version), new CollateralOptions { IssuedAt = fixture.Now }, TrustAnchor.IntelSgxRootCa);
        Assert.Equal(QvlStatus.STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED, result.Status);
        Assert.False(result.IsVerified);
    }

    [Fact]
    public void Quote_carries_the_enclave_identity_and_intel_quote_layout()
    {
        var enclave = fixture.Enclave(debug: false, productId: 999, svn: 42);
        var reportData = SampleEnclave.ReportDataFor("ehd"u8);
        var quote = Veritee.Sgx.Quote.Parse(Platform.Quote(enclave, reportData));
        Assert.Equal(3, quote.Header.Version);
        Assert.True(quote.Header.QeVendorId.Span.SequenceEqual(QuoteHeader.IntelQeVendorId));
        Assert.Equal(Platform.Profile.QeSvn, quote.Header.QeSvn);
        Assert.Equal(Platform.Profile.PceSvn, quote.Header.PceSvn);
        Assert.Equal(Platform.Profile.QeId, quote.Header.UserData.Span[..16].ToArray());
        var report = quote.SgxReport;
        Assert.Equal(SimulatedEnclave.MeasureName("test-enclave"), report.MrEnclave.ToArray());
        Assert.Equal(SimulatedEnclave.MrSignerOf(Platform.EnclaveSignerKey), report.MrSigner.ToArray());
        Assert.Equal(999, report.IsvProdId);
        Assert.Equal(42, report.IsvSvn);
        Assert.False(report.IsDebuggable);
        Assert.Equal(0x05UL, report.Flags);
        Assert.Equal(reportData, report.ReportData.ToArray());
        Assert.Equal(SHA256.HashData("ehd"u8), report.ReportData.Span[..32].ToArray());
        Assert.Equal(Platform.Profile.CpuSvn, report.CpuSvn.ToArray());

        var signature = quote.SignatureData;
        Assert.Equal(CertificationDataType.PckCertificateChain, signature.CertificationData.Type);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (byte)i), signature.QeAuthData.ToArray());
        var binding = SHA256.HashData([.. signature.AttestationKey.ToArray(), .. signature.QeAuthData.ToArray()]);
        Assert.Equal(binding, signature.QeReport.ReportData.Span[..32].ToArray());
        Assert.True(signature.QeReport.ReportData.Span[32..].IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(3, Pem.DecodeCertificates(signature.CertificationData.Data.Span).Count);

        Assert.True(Veritee.Sgx.Quote.Parse(Platform.Quote(fixture.Enclave(debug: true), reportData)).SgxReport.IsDebuggable);
    }

    [Fact]
    public void Pck_certificate_carries_the_intel_shaped_sgx_extension()
    {
        var pck = DcapCertificate.Parse(Platform.PckCertificate.RawData);
        Assert.True(pck.HasRequiredExtensions);
        Assert.Contains("SGX PCK Certificate", pck.SubjectCommonName, StringComparison.Ordinal);
        var extension = PckCertificateExtension.Parse(pck.SgxExtension!.Value);
        Assert.Equal(Platform.Profile.Fmspc, extension.Fmspc);
        Assert.Equal(Platform.Profile.PceId, extension.PceId);
        Assert.Equal(Platform.Profile.PceSvn, extension.PceSvn);
        Assert.Equal(Platform.Profile.TcbComponents, extension.TcbComponentSvns);
        Assert.Equal(Platform.Profile.CpuSvn, extension.CpuSvn);
        Assert.Equal(Platform.Profile.Ppid, extension.Ppid);
        Assert.Equal(SgxType.Standard, extension.SgxType);
        Assert.Null(extension.Configuration);

        var root = DcapCertificate.Parse(Platform.RootCertificate.RawData);
        Assert.True(root.HasRequiredExtensions);
        Assert.True(root.IsSelfIssued);
        Assert.Contains("SGX Root CA", root.SubjectCommonName, StringComparison.Ordinal);
        Assert.False(root.PublicKey.SameAs(Convert.FromHexString(TrustAnchor.IntelSgxRootCaPublicKeyHex)));
    }

    [Fact]
    public void Collateral_crls_carry_number_and_aki_and_name_the_issuers()
    {
        var collateral = CollateralAuthority.Issue(Platform, new CollateralOptions { IssuedAt = fixture.Now, RevokePck = true });
        var rootCrl = CertificateRevocationList.Parse(collateral.RootCaCrl);
        var pckCrl = CertificateRevocationList.Parse(collateral.PckCrl);
        Assert.True(rootCrl.HasRequiredExtensions);
        Assert.True(pckCrl.HasRequiredExtensions);
        Assert.Empty(rootCrl.RevokedSerials);
        Assert.True(pckCrl.IsRevoked(DcapCertificate.Parse(Platform.PckCertificate.RawData)));
        Assert.Contains("Processor CA", pckCrl.IssuerCommonName, StringComparison.Ordinal);
        Assert.Equal(fixture.Now, rootCrl.ThisUpdate);
        Assert.Equal(fixture.Now.AddDays(30), pckCrl.NextUpdate);

        var tcbInfo = TcbInfo.Parse(collateral.TcbInfo);
        Assert.Equal(("SGX", 3), (tcbInfo.Id, tcbInfo.Version));
        var qe = EnclaveIdentity.Parse(collateral.QeIdentity);
        Assert.Equal(("QE", 2), (qe.Id, qe.Version));
        Assert.Equal(Convert.FromHexString("8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF"), qe.MrSigner);
    }

    [Fact]
    public void Tampering_with_the_quote_or_the_collateral_is_detected()
    {
        var quote = Quote();
        quote[48 + 64] ^= 1;
        Assert.Equal(QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE, Verify(quote, new CollateralOptions { IssuedAt = fixture.Now }).Status);

        var collateral = CollateralAuthority.Issue(Platform, new CollateralOptions { IssuedAt = fixture.Now });
        var text = System.Text.Encoding.ASCII.GetString(collateral.TcbInfo).Replace("\"UpToDate\"", "\"OutOfDate\"", StringComparison.Ordinal);
        var altered = collateral.ToQuoteCollateral() with { TcbInfo = System.Text.Encoding.ASCII.GetBytes(text) };
        Assert.Equal(QvlStatus.STATUS_TCB_INFO_INVALID_SIGNATURE, QuoteVerifier.VerifyCold(Quote(), altered, Platform.TrustAnchor, At).Status);
    }

    [Fact]
    public void Expired_collateral_is_flagged_beside_the_verdict()
    {
        var result = Verify(Quote(), new CollateralOptions { IssuedAt = fixture.Now, Validity = TimeSpan.FromDays(1) }, at: fixture.Now.AddDays(2));
        Assert.Equal(QvlStatus.STATUS_OK, result.Status);
        Assert.True(result.CollateralExpired);
    }

    [Fact]
    public void Quotes_stay_verifiable_across_runs_through_the_state_folder()
    {
        var quote = Quote();
        using var reloaded = SimulatedPlatform.Load(fixture.Folder);
        Assert.Equal(Platform.Profile.Fmspc, reloaded.Profile.Fmspc);
        var folder = Path.Combine(fixture.Root, "collateral-" + Guid.NewGuid().ToString("N"));
        CollateralAuthority.Issue(reloaded, new CollateralOptions { IssuedAt = fixture.Now, TcbStatus = TcbStatus.SWHardeningNeeded }).WriteTo(folder);

        var anchor = TrustAnchor.Load(File.ReadAllBytes(Path.Combine(folder, SimulatedCollateral.TrustAnchorFile)), "trust_anchor.pem");
        var result = QuoteVerifier.VerifyCold(quote, QuoteCollateral.Load(folder), anchor, At);
        Assert.Equal(QvlStatus.STATUS_TCB_SW_HARDENING_NEEDED, result.Status);

        var later = reloaded.Quote(fixture.Enclave(), new byte[64]);
        Assert.Equal(QvlStatus.STATUS_TCB_SW_HARDENING_NEEDED, QuoteVerifier.VerifyCold(later, QuoteCollateral.Load(folder), Platform.TrustAnchor, At).Status);
    }

    [Fact]
    public void Open_enclave_envelope_around_a_simulated_quote_verifies()
    {
        var wrapped = OpenEnclaveReport.Wrap(Quote());
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(wrapped.AsSpan(4)));
        Assert.Equal(QvlStatus.STATUS_OK, Verify(wrapped, new CollateralOptions { IssuedAt = fixture.Now }).Status);
    }

    [Fact]
    public void Bad_requests_are_refused_with_specific_errors()
    {
        Assert.Contains("at most 64", Assert.Throws<ArgumentException>(() => Platform.Quote(fixture.Enclave(), new byte[65])).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Platform.Quote(fixture.Enclave(), new byte[64], version: 5));
        Assert.Contains("TDRelaunchAdvised", Assert.Throws<ArgumentException>(() =>
            CollateralAuthority.Issue(Platform, new CollateralOptions { IssuedAt = fixture.Now, TcbStatus = TcbStatus.TDRelaunchAdvised })).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => CollateralAuthority.Issue(Platform, new CollateralOptions { IssuedAt = fixture.Now, QeTcbStatus = TcbStatus.SWHardeningNeeded }));
        var exists = Assert.Throws<PlatformStateException>(() => SimulatedPlatform.Create(fixture.Folder, fixture.Now));
        Assert.Contains("already holds", exists.Message, StringComparison.Ordinal);
    }
}
