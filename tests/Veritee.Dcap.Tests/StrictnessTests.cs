using System.Text;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;

namespace Veritee.Dcap.Tests;

public class StrictnessTests
{
    private const string Case = "sgx-v3-processorca-confsw-2025-07";

    [Fact]
    public void Content_after_the_signed_collateral_object_is_a_format_error()
    {
        var c = VectorCase.Load(Case);
        var json = c.Collateral.TcbInfo;
        var padded = json.Concat(Encoding.ASCII.GetBytes(" garbage {{{")).ToArray();
        Assert.Throws<DcapFormatException>(() => TcbInfo.Parse(padded));
        var result = QuoteVerifier.VerifyCold(c.Quote, c.Collateral with { TcbInfo = padded }, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.Equal(QvlStatus.STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT, result.Status);

        // Whitespace and a NUL terminator are how collateral arrives and stay accepted.
        Assert.NotNull(TcbInfo.Parse(json.Concat("\n\0"u8.ToArray()).ToArray()));
    }

    [Fact]
    public void Duplicate_keys_in_a_signed_body_are_a_format_error()
    {
        var c = VectorCase.Load(Case);
        var text = Encoding.UTF8.GetString(c.Collateral.QeIdentity);
        var duplicated = text.Replace("\"id\":\"QE\"", "\"id\":\"QE\",\"id\":\"TD_QE\"", StringComparison.Ordinal);
        Assert.NotEqual(text, duplicated);
        Assert.Throws<DcapFormatException>(() => EnclaveIdentity.Parse(Encoding.UTF8.GetBytes(duplicated)));
    }

    [Fact]
    public void A_quote_carrying_many_certificates_is_refused_before_they_are_parsed()
    {
        var c = VectorCase.Load(Case);
        var quote = Veritee.Sgx.Quote.Parse(c.Quote);
        var pem = Encoding.ASCII.GetString(quote.SignatureData.CertificationData.Data.Span).TrimEnd('\0');
        var many = string.Concat(Enumerable.Repeat(pem, 3));

        // Rebuild a v3 quote whose certification data holds 9 certificates (lengths fixed up, signatures now stale).
        var certOffset = quote.SignatureData.CertificationData.Offset;
        var prefix = c.Quote.AsSpan(0, certOffset - 4).ToArray();
        var data = Encoding.ASCII.GetBytes(many);
        var rebuilt = prefix.Concat(BitConverter.GetBytes(data.Length)).Concat(data).ToArray();
        var sigLen = rebuilt.Length - quote.SignedLength - 4;
        BitConverter.GetBytes(sigLen).CopyTo(rebuilt, quote.SignedLength);
        var result = QuoteVerifier.VerifyCold(rebuilt, c.Collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.Equal(QvlStatus.STATUS_UNSUPPORTED_PCK_CERT_FORMAT, result.Status);
        Assert.Contains("at most", result.Detail, StringComparison.Ordinal);
    }
}
