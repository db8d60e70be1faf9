using System.Text;
using Veritee.Dcap.X509;

namespace Veritee.Dcap.Pccs;

/// <summary>
/// The percent-encoded PEM chains of PCS/PCCS issuer-chain headers (<c>SGX-PCK-Certificate-Issuer-Chain</c>,
/// <c>TCB-Info-Issuer-Chain</c>, …). Encoding escapes everything but RFC 3986 unreserved characters
/// (space <c>%20</c>, newline <c>%0A</c>, <c>+</c> <c>%2B</c>, <c>/</c> <c>%2F</c>, <c>=</c> <c>%3D</c>), as PCS does, and
/// always ends in <c>%0A</c>: Intel's QCNL drops the last two characters of a value that does not end in an escape.
/// </summary>
public static class IssuerChainHeader
{
    /// <summary>Longest accepted header value (Intel's chains are ~2 KiB of PEM, ~2.7 KiB encoded).</summary>
    public const int MaxValueChars = 32 * 1024;

    /// <summary>Most certificates accepted in one chain.</summary>
    public const int MaxCertificates = 4;

    /// <summary>
    /// Encodes a PEM chain (one or more certificates, in order) as a header value ending in <c>%0A</c>. Line ends are
    /// normalised to LF; the certificates are re-armoured canonically.
    /// </summary>
    /// <exception cref="DcapFormatException">The text holds no PEM certificate or a malformed one.</exception>
    public static string Encode(string pemChain)
    {
        ArgumentNullException.ThrowIfNull(pemChain);
        var ders = Pem.DecodeCertificates(Encoding.ASCII.GetBytes(pemChain));
        if (ders.Count == 0)
        {
            throw new DcapFormatException("issuer chain: no PEM certificate");
        }

        var text = new StringBuilder();
        foreach (var der in ders)
        {
            text.Append(PcsPckCertificates.PemText(der));
        }

        return Uri.EscapeDataString(text.ToString());
    }

    /// <summary>
    /// Decodes a header value into its PEM text (a literal <c>+</c> stays <c>+</c>), checking that it holds 1 to
    /// <see cref="MaxCertificates"/> well-formed PEM certificates and nothing else but whitespace.
    /// </summary>
    /// <exception cref="DcapFormatException">The value is too long, not percent-encoded PEM, or holds no or too many certificates.</exception>
    public static string Decode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length > MaxValueChars)
        {
            throw new DcapFormatException($"issuer chain: {value.Length} characters exceed the limit of {MaxValueChars}");
        }

        foreach (var c in value)
        {
            if (c is < '!' or > '~' && c != ' ')
            {
                throw new DcapFormatException($"issuer chain: character U+{(int)c:X4} is not allowed in a header value");
            }
        }

        var pem = Uri.UnescapeDataString(value.Trim());
        var ders = Pem.DecodeCertificates(Encoding.UTF8.GetBytes(pem));
        if (ders.Count is 0 or > MaxCertificates)
        {
            throw new DcapFormatException($"issuer chain: holds {ders.Count} certificates, 1 to {MaxCertificates} expected");
        }

        var rest = pem;
        const string End = "-----END CERTIFICATE-----";
        rest = rest[(rest.LastIndexOf(End, StringComparison.Ordinal) + End.Length)..];
        if (!string.IsNullOrWhiteSpace(rest.TrimEnd('\0')))
        {
            throw new DcapFormatException("issuer chain: text after the last certificate");
        }

        return pem;
    }
}
