using System.Text;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Pccs;
using static Veritee.Dcap.Tests.Pccs.PckSetFixture;

namespace Veritee.Dcap.Tests.Pccs;

/// <summary>Issuer-chain header values as PCS sends them and QCNL needs them.</summary>
public sealed class IssuerChainHeaderTests(PckSetFixture fixture) : IClassFixture<PckSetFixture>
{
    [Fact]
    public void EncodingEscapesLikePcsAndEndsInAnEscapedNewline()
    {
        var set = fixture.Issue([Tcb(1, 1)]);
        var value = IssuerChainHeader.Encode(set.IssuerChainPem);
        Assert.StartsWith("-----BEGIN%20CERTIFICATE-----%0A", value, StringComparison.Ordinal);
        Assert.EndsWith("-----END%20CERTIFICATE-----%0A", value, StringComparison.Ordinal);
        Assert.DoesNotContain(" ", value, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", value, StringComparison.Ordinal);
        Assert.DoesNotContain("+", value, StringComparison.Ordinal);
        Assert.DoesNotContain("/", value, StringComparison.Ordinal);
        Assert.DoesNotContain("=", value, StringComparison.Ordinal);
        Assert.Equal(set.IssuerChainPem, IssuerChainHeader.Decode(value));
    }

    [Fact]
    public void CrlfAndMissingFinalNewlineAreNormalised()
    {
        var set = fixture.Issue([Tcb(1, 1)]);
        var crlf = set.IssuerChainPem.Replace("\n", "\r\n", StringComparison.Ordinal).TrimEnd();
        Assert.EndsWith("%0A", IssuerChainHeader.Encode(crlf), StringComparison.Ordinal);
        Assert.Equal(set.IssuerChainPem, IssuerChainHeader.Decode(IssuerChainHeader.Encode(crlf)));
    }

    [Fact]
    public void IntelsOwnHeaderValueDecodes()
    {
        // A chain with literal '+' (minimal escaping) decodes as PcsCollateralSource has always decoded it.
        var pem = File.ReadAllText(Path.Combine(TestSupport.Vectors.DcapCase("sgx-v3-processorca-confsw-2025-07"), "tcb_info_issuer_chain.pem"));
        var minimal = pem.Replace("%", "%25", StringComparison.Ordinal).Replace(" ", "%20", StringComparison.Ordinal).Replace("\n", "%0A", StringComparison.Ordinal);
        Assert.Equal(Encoding.UTF8.GetString(PcsCollateralSource.DecodeIssuerChainHeader(minimal)), IssuerChainHeader.Decode(minimal));
        Assert.Equal(2, X509.Pem.DecodeCertificates(Encoding.ASCII.GetBytes(IssuerChainHeader.Decode(IssuerChainHeader.Encode(pem)))).Count);
    }

    [Fact]
    public void BadValuesAreRefusedWithTheReason()
    {
        Assert.Contains("no PEM certificate", Assert.Throws<DcapFormatException>(() => IssuerChainHeader.Encode("nothing")).Message, StringComparison.Ordinal);
        Assert.Contains("holds 0 certificates", Assert.Throws<DcapFormatException>(() => IssuerChainHeader.Decode("abc")).Message, StringComparison.Ordinal);
        Assert.Contains("exceed the limit", Assert.Throws<DcapFormatException>(() => IssuerChainHeader.Decode(new string('A', IssuerChainHeader.MaxValueChars + 1))).Message, StringComparison.Ordinal);
        Assert.Contains("U+000A", Assert.Throws<DcapFormatException>(() => IssuerChainHeader.Decode("a\nb")).Message, StringComparison.Ordinal);
        var set = fixture.Issue([Tcb(1, 1)]);
        var five = string.Concat(Enumerable.Repeat(set.CaCertificatePem, 5));
        Assert.Contains("holds 5 certificates", Assert.Throws<DcapFormatException>(() => IssuerChainHeader.Decode(Uri.EscapeDataString(five))).Message, StringComparison.Ordinal);
        Assert.Contains("text after the last certificate", Assert.Throws<DcapFormatException>(() => IssuerChainHeader.Decode(IssuerChainHeader.Encode(set.CaCertificatePem) + "junk")).Message, StringComparison.Ordinal);
        var truncated = IssuerChainHeader.Encode(set.IssuerChainPem)[..200];
        Assert.Throws<DcapFormatException>(() => IssuerChainHeader.Decode(truncated));
    }
}
