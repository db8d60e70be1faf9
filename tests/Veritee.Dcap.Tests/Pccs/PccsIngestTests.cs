using System.Text;
using System.Text.Json.Nodes;
using Veritee.Dcap.Pccs;
using Veritee.Enclave;
using static Veritee.Dcap.Tests.Pccs.PckSetFixture;

namespace Veritee.Dcap.Tests.Pccs;

/// <summary>Trust on ingest: Intel-signed collateral passes; a flipped byte, a wrong root, a revoked PCK fail naming the item.</summary>
public sealed class PccsIngestTests(PckSetFixture fixture) : IClassFixture<PckSetFixture>
{
    /// <summary>The vector case's verification time (case.json), inside every item's validity.</summary>
    private static readonly DateTimeOffset CaseTime = DateTimeOffset.Parse("2025-07-04T10:28:44Z", System.Globalization.CultureInfo.InvariantCulture);

    private static PlatformCollateralFile IntelFile(Action<JsonObject>? tweak = null) => PlatformCollateralFile.Read(IntelVectorFiles.PcsClientFile(tweak));

    private static JsonObject Collaterals(JsonObject root) => root["collaterals"]!.AsObject();

    private static string FlipHexAt(string hex, int fromEnd)
    {
        var chars = hex.ToCharArray();
        var i = chars.Length - fromEnd;
        chars[i] = chars[i] == '0' ? '1' : '0';
        return new string(chars);
    }

    [Fact]
    public void IntelSignedCollateralPasses()
    {
        var result = PccsIngest.Verify(IntelFile(), TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.True(result.IsValid, result.Message);
        Assert.Empty(result.ExpiryFindings);
        Assert.NotNull(result.EarliestExpiration);
    }

    [Fact]
    public void ExpiredCollateralStillPassesWithItsAgeReported()
    {
        // Freshness is the consumer's judgement: a cache keeps serving the newest signed collateral it holds.
        var result = PccsIngest.Verify(IntelFile(), TrustAnchor.IntelSgxRootCa, CaseTime.AddYears(1));
        Assert.True(result.IsValid, result.Message);
        Assert.Contains(result.ExpiryFindings, f => f.StartsWith("collaterals.tcbinfos[0].sgx_tcbinfo: TCB Info at or past nextUpdate", StringComparison.Ordinal));
    }

    [Fact]
    public void AFlippedTcbInfoSignatureByteIsNamed()
    {
        var file = IntelFile(r =>
        {
            var info = Collaterals(r)["tcbinfos"]![0]!["sgx_tcbinfo"]!;
            info["signature"] = FlipHexAt((string)info["signature"]!, 3);
        });
        var result = PccsIngest.Verify(file, TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.Equal(QvlStatus.STATUS_TCB_INFO_INVALID_SIGNATURE, result.Status);
        Assert.Equal("collaterals.tcbinfos[0].sgx_tcbinfo", result.Item);
        Assert.StartsWith("collaterals.tcbinfos[0].sgx_tcbinfo: TCB Info signature does not verify", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFlippedIdentitySignatureByteIsNamed()
    {
        var file = IntelFile(r =>
        {
            var c = Collaterals(r);
            var text = (string)c["qeidentity"]!;
            var at = text.LastIndexOf('"') - 2;
            c["qeidentity"] = text[..at] + (text[at] == '0' ? '1' : '0') + text[(at + 1)..];
        });
        var result = PccsIngest.Verify(file, TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.Equal(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE, result.Status);
        Assert.Equal("collaterals.qeidentity", result.Item);
    }

    [Fact]
    public void AFlippedPckCertificateSignatureByteIsNamed()
    {
        var entry = IntelVectorFiles.PckEntry();
        var der = X509.Pem.DecodeCertificates(Encoding.ASCII.GetBytes(entry.CertificatePem!))[0];
        der[^1] ^= 0x01;
        var pem = new string(System.Security.Cryptography.PemEncoding.Write("CERTIFICATE", der)) + "\n";
        var file = IntelFile(r => Collaterals(r)["pck_certs"]![0]!["certs"]![0]!["cert"] = Uri.EscapeDataString(pem));
        var result = PccsIngest.Verify(file, TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.False(result.IsValid);
        Assert.Equal("collaterals.pck_certs[0].certs[0]", result.Item);
        Assert.Equal(QvlStatus.STATUS_SGX_PCK_INVALID_ISSUER, result.Status);
    }

    [Fact]
    public void ACrlByteFlipIsNamed()
    {
        var file = IntelFile(r => Collaterals(r)["pckcacrl"]!["processorCrl"] = FlipHexAt((string)Collaterals(r)["pckcacrl"]!["processorCrl"]!, 2));
        var result = PccsIngest.Verify(file, TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.Equal("collaterals.pckcacrl.processorCrl", result.Item);
        Assert.Equal(QvlStatus.STATUS_SGX_CRL_INVALID_SIGNATURE, result.Status);
    }

    [Fact]
    public void AnotherTrustAnchorRefusesIntelsCollateral()
    {
        var result = PccsIngest.Verify(IntelFile(), fixture.Platform.TrustAnchor, CaseTime);
        Assert.Equal(QvlStatus.STATUS_SGX_ROOT_CA_UNTRUSTED, result.Status);
        Assert.Equal("collaterals.rootcacrl", result.Item);

        // Item by item, the TCB Info alone names its own failure.
        var tcb = PccsIngest.VerifyTcbInfo(IntelVectorFiles.Read("tcb_info.json"), Encoding.ASCII.GetString(IntelVectorFiles.Read("tcb_info_issuer_chain.pem")),
            IntelVectorFiles.Read("root_ca_crl.der"), fixture.Platform.TrustAnchor, CaseTime, "tcb?fmspc=00A067110000");
        Assert.Equal(QvlStatus.STATUS_SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED, tcb.Status);
        Assert.StartsWith("tcb?fmspc=00A067110000: ", tcb.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARevokedPckCertificateIsNamed()
    {
        var platform = fixture.Platform;
        var collateral = CollateralAuthority.Issue(platform, new CollateralOptions { IssuedAt = IssuedAt, RevokePck = true });
        var profile = platform.Profile;
        var tcb = new PcsTcb(profile.TcbComponents, profile.PceSvn);
        var file = new PlatformCollateralFile
        {
            PckCertificates = [new PlatformPckCertificates("00", "0000", "", "", [new PckCertificateEntry(tcb, tcb.Tcbm, platform.PckCertificate.ExportCertificatePem() + "\n")])],
            TcbInfos = [new FmspcTcbInfos(Convert.ToHexString(profile.Fmspc), collateral.TcbInfo, null, null, null)],
            ProcessorCrl = collateral.PckCrl,
            RootCaCrl = collateral.RootCaCrl,
            QeIdentity = collateral.QeIdentity,
            PckIssuerChainProcessor = IssuerChainHeader.Encode(Encoding.ASCII.GetString(collateral.PckCrlIssuerChain)),
            TcbInfoIssuerChain = IssuerChainHeader.Encode(Encoding.ASCII.GetString(collateral.TcbInfoIssuerChain)),
            EnclaveIdentityIssuerChain = IssuerChainHeader.Encode(Encoding.ASCII.GetString(collateral.QeIdentityIssuerChain)),
        };
        var result = PccsIngest.Verify(file, platform.TrustAnchor, IssuedAt);
        Assert.Equal(QvlStatus.STATUS_SGX_PCK_REVOKED, result.Status);
        Assert.Equal("collaterals.pck_certs[0].certs[0]", result.Item);

        var clean = CollateralAuthority.Issue(platform, new CollateralOptions { IssuedAt = IssuedAt });
        var ok = PccsIngest.Verify(new PlatformCollateralFile
        {
            PckCertificates = file.PckCertificates,
            TcbInfos = file.TcbInfos,
            ProcessorCrl = clean.PckCrl,
            RootCaCrl = clean.RootCaCrl,
            QeIdentity = clean.QeIdentity,
            PckIssuerChainProcessor = file.PckIssuerChainProcessor,
            TcbInfoIssuerChain = file.TcbInfoIssuerChain,
            EnclaveIdentityIssuerChain = file.EnclaveIdentityIssuerChain,
        }, platform.TrustAnchor, IssuedAt);
        Assert.True(ok.IsValid, ok.Message);
    }

    [Fact]
    public void ItemsFiledUnderTheWrongSlotAreRefused()
    {
        var wrongFmspc = PccsIngest.Verify(IntelFile(r => Collaterals(r)["tcbinfos"]![0]!["fmspc"] = "00906ED50000"), TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.Equal(QvlStatus.STATUS_TCB_INFO_MISMATCH, wrongFmspc.Status);
        Assert.Contains("filed under SGX FMSPC 00906ED50000", wrongFmspc.Message, StringComparison.Ordinal);

        var asTdx = PccsIngest.Verify(IntelFile(r => Collaterals(r)["tcbinfos"]![0]!["tdx_tcbinfo"] = Collaterals(r)["tcbinfos"]![0]!["sgx_tcbinfo"]!.DeepClone()), TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.Equal("collaterals.tcbinfos[0].tdx_tcbinfo", asTdx.Item);

        var qveSlot = PccsIngest.Verify(IntelFile(r => Collaterals(r)["qveidentity"] = (string)Collaterals(r)["qeidentity"]!), TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.Equal(QvlStatus.STATUS_QE_IDENTITY_MISMATCH, qveSlot.Status);
        Assert.Equal("collaterals.qveidentity", qveSlot.Item);
    }

    [Fact]
    public void MissingPiecesAreNamed()
    {
        Assert.Equal("collaterals.rootcacrl", PccsIngest.Verify(IntelFile(r => Collaterals(r).Remove("rootcacrl")), TrustAnchor.IntelSgxRootCa, CaseTime).Item);
        var noCrl = PccsIngest.Verify(IntelFile(r => Collaterals(r)["pckcacrl"]!.AsObject().Remove("processorCrl")), TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.Equal("collaterals.pck_certs[0].certs[0]", noCrl.Item);
        Assert.Contains("pckcacrl.processorCrl", noCrl.Message, StringComparison.Ordinal);
        var platformCrlWithoutChain = PccsIngest.Verify(IntelFile(r => Collaterals(r)["pckcacrl"]!["platformCrl"] = Collaterals(r)["pckcacrl"]!["processorCrl"]!.DeepClone()), TrustAnchor.IntelSgxRootCa, CaseTime);
        Assert.Equal("collaterals.pckcacrl.platformCrl", platformCrlWithoutChain.Item);
    }

    [Fact]
    public void APlatformCaSetVerifiesItemByItem()
    {
        var platform = fixture.Platform;
        var set = fixture.Issue([Tcb(3, 3, 3), Tcb(2, 2, 2)], o => o with { CaType = PckCaType.Platform, NotAvailable = new HashSet<int> { 1 } });
        var root = CollateralAuthority.Issue(platform, new CollateralOptions { IssuedAt = IssuedAt }).RootCaCrl;
        Assert.True(PccsIngest.VerifyPckCrl(set.PckCrl, set.IssuerChainPem, root, platform.TrustAnchor, IssuedAt).IsValid);
        Assert.True(PccsIngest.VerifyRootCaCrl(root, set.IssuerChainPem, platform.TrustAnchor, IssuedAt).IsValid);
        var certs = PccsIngest.VerifyPckCertificates(set.Entries, set.IssuerChainPem, root, set.PckCrl, platform.TrustAnchor, IssuedAt);
        Assert.True(certs.IsValid, certs.Message);
        Assert.True(PccsIngest.VerifyTcbInfo(set.TcbInfo, set.TcbInfoIssuerChainPem, root, platform.TrustAnchor, IssuedAt).IsValid);

        // Under the Processor CA's chain the same certificates are not validly issued.
        var processorChain = fixture.Issue([Tcb(1, 1)]).IssuerChainPem;
        var wrong = PccsIngest.VerifyPckCertificates(set.Entries, processorChain, root, set.PckCrl, platform.TrustAnchor, IssuedAt, "pckcerts");
        Assert.False(wrong.IsValid);
        Assert.Equal("pckcerts[0]", wrong.Item);
    }
}
