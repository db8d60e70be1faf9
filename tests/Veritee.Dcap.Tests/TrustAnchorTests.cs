using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Veritee.Dcap.Verification;
using Veritee.TestSupport;

namespace Veritee.Dcap.Tests;

/// <summary>TrustAnchor.Load reads every form of the Intel root (same key); any other key makes chains untrusted.</summary>
public class TrustAnchorTests
{
    public static TheoryData<string> RootFiles() =>
    [
        "intel_sgx_root_ca.pem",
        "intel_sgx_root_ca.der",
        "intel_sgx_root_ca_public_key.hex",
        "intel_sgx_root_ca_legacy_2018-05-21_to_2033-05-21.pem",
    ];

    [Theory]
    [MemberData(nameof(RootFiles))]
    public void Every_form_of_the_intel_root_loads_as_the_same_key(string file)
    {
        var anchor = TrustAnchor.Load(File.ReadAllBytes(Path.Combine(Vectors.DcapTrust, file)), file);
        Assert.Equal(TrustAnchor.IntelSgxRootCa.Point, anchor.Point);
        Assert.Equal(file, anchor.Name);
        Assert.Equal(TrustAnchor.IntelSgxRootCaPublicKeyHex, Convert.ToHexStringLower(anchor.Point));
    }

    [Theory]
    [MemberData(nameof(RootFiles))]
    public void A_loaded_root_verifies_vector_cases_as_the_built_in_anchor_does(string file)
    {
        var anchor = TrustAnchor.Load(File.ReadAllBytes(Path.Combine(Vectors.DcapTrust, file)), file);

        // One case whose quote carries the current root certificate, one with the legacy certificate (same key).
        foreach (var id in new[] { "tdx-v4-uptodate-2025-07", "sgx-v3-oe-envelope-legacy-root-2022-05" })
        {
            var c = VectorCase.Load(id);
            var result = QuoteVerifier.VerifyCold(c.Quote, c.Collateral, anchor, c.Time);
            Assert.Equal(c.ExpectedStatus, result.Status.Name());
        }
    }

    [Fact]
    public void Public_key_pem_and_raw_points_load_as_the_same_key()
    {
        using var root = X509CertificateLoader.LoadCertificate(File.ReadAllBytes(Path.Combine(Vectors.DcapTrust, "intel_sgx_root_ca.der")));
        using var key = root.GetECDsaPublicKey()!;
        var pem = key.ExportSubjectPublicKeyInfoPem();
        Assert.Equal(TrustAnchor.IntelSgxRootCa.Point, TrustAnchor.Load(Encoding.ASCII.GetBytes(pem), "spki").Point);

        var point = Convert.FromHexString(TrustAnchor.IntelSgxRootCaPublicKeyHex);
        Assert.Equal(point, TrustAnchor.FromPoint(point, "65").Point);
        Assert.Equal(point, TrustAnchor.FromPoint(point.AsSpan(1), "64").Point);
        Assert.Equal(point, TrustAnchor.Load(Encoding.ASCII.GetBytes("  " + TrustAnchor.IntelSgxRootCaPublicKeyHex.ToUpperInvariant() + "\r\n"), "hex").Point);
    }

    public static TheoryData<string, string> OtherKeys() => new()
    {
        { "tdx-v4-uptodate-2025-07", "intel_sgx_pck_platform_ca.pem" },
        { "sgx-v3-processorca-confsw-2025-07", "intel_sgx_pck_processor_ca.pem" },
        { "sgx-v3-processorca-confsw-2025-07", "intel_sgx_tcb_signing_2025-05-06_to_2032-05-06.pem" },
    };

    [Theory]
    [MemberData(nameof(OtherKeys))]
    public void Another_key_as_anchor_makes_the_pck_chain_untrusted(string id, string anchorFile)
    {
        var anchor = TrustAnchor.Load(File.ReadAllBytes(Path.Combine(Vectors.DcapTrust, anchorFile)), anchorFile);
        Assert.NotEqual(TrustAnchor.IntelSgxRootCa.Point, anchor.Point);
        var c = VectorCase.Load(id);
        var result = QuoteVerifier.VerifyCold(c.Quote, c.Collateral, anchor, c.Time);
        Assert.Equal(QvlStatus.STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED, result.Status);
        Assert.False(result.IsVerified);
        Assert.Null(result.TcbStatus);
        Assert.Contains(anchorFile, result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fresh_key_as_anchor_makes_the_pck_chain_untrusted()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var parameters = key.ExportParameters(false);
        var anchor = TrustAnchor.FromPoint([0x04, .. parameters.Q.X!, .. parameters.Q.Y!], "fresh");
        var c = VectorCase.Load("tdx-v5-td15-uptodate-2025-06");
        Assert.Equal(QvlStatus.STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED, QuoteVerifier.VerifyCold(c.Quote, c.Collateral, anchor, c.Time).Status);
    }

    [Fact]
    public void Files_that_are_not_one_key_are_rejected()
    {
        var chain = File.ReadAllBytes(Path.Combine(Vectors.DcapCase("tdx-v4-uptodate-2025-07"), "tcb_info_issuer_chain.pem"));
        Assert.Contains("2 certificates", Assert.Throws<DcapFormatException>(() => TrustAnchor.Load(chain, "chain")).Message, StringComparison.Ordinal);
        Assert.Throws<DcapFormatException>(() => TrustAnchor.Load("not a key"u8, "text"));
        Assert.Throws<DcapFormatException>(() => TrustAnchor.Load([], "empty"));
        Assert.Throws<DcapFormatException>(() => TrustAnchor.Load(Encoding.ASCII.GetBytes(TrustAnchor.IntelSgxRootCaPublicKeyHex[..100]), "short hex"));
        Assert.Throws<DcapFormatException>(() => TrustAnchor.Load(Encoding.ASCII.GetBytes("05" + TrustAnchor.IntelSgxRootCaPublicKeyHex[2..]), "bad prefix"));
        Assert.Throws<DcapFormatException>(() => TrustAnchor.Load("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n"u8, "bad spki"));
    }
}
