using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;

namespace Veritee.Dcap.X509;

/// <summary>
/// An X.509 CRL as Intel's PKI issues them (Root CA CRL, PCK Processor/Platform CA CRLs). Accepts DER, PEM and
/// Base16 text of the DER (with or without a trailing NUL), deciding by content as Intel's QvE does.
/// </summary>
public sealed class CertificateRevocationList
{
    private const string CrlNumber = "2.5.29.20";
    private const string AuthorityKeyIdentifier = "2.5.29.35";

    private CertificateRevocationList()
    {
    }

    /// <summary>The DER encoding.</summary>
    public required byte[] Der { get; init; }

    /// <summary>The signed TBSCertList bytes.</summary>
    public required ReadOnlyMemory<byte> TbsCertList { get; init; }

    /// <summary>The DER ECDSA signature.</summary>
    public required byte[] Signature { get; init; }

    /// <summary>DER of the issuer Name.</summary>
    public required ReadOnlyMemory<byte> Issuer { get; init; }

    /// <summary>Issuer common name.</summary>
    public required string IssuerCommonName { get; init; }

    /// <summary>thisUpdate.</summary>
    public required DateTimeOffset ThisUpdate { get; init; }

    /// <summary>nextUpdate (Intel's CRLs always carry one).</summary>
    public required DateTimeOffset NextUpdate { get; init; }

    /// <summary>True when both CRL Number and Authority Key Identifier extensions are present.</summary>
    public required bool HasRequiredExtensions { get; init; }

    /// <summary>The CRL Number, when present, as hex.</summary>
    public string? Number { get; init; }

    /// <summary>Revoked serial numbers (hex of the magnitude, as <see cref="DcapCertificate.SerialNumber"/>).</summary>
    public required IReadOnlySet<string> RevokedSerials { get; init; }

    /// <summary>True when <paramref name="certificate"/>'s serial is listed.</summary>
    public bool IsRevoked(DcapCertificate certificate) => RevokedSerials.Contains(certificate.SerialNumber);

    /// <summary>True when <paramref name="time"/> lies in thisUpdate..nextUpdate (inclusive).</summary>
    public bool IsValidAt(DateTimeOffset time) => ThisUpdate <= time && time <= NextUpdate;

    /// <summary>True when <paramref name="issuer"/>'s subject is this CRL's issuer and its key signed the CRL.</summary>
    public bool IsSignedBy(DcapCertificate issuer) =>
        issuer.PublicKey.Verify(TbsCertList.Span, Signature, DSASignatureFormat.Rfc3279DerSequence);

    /// <summary>Decodes DER, PEM (<c>X509 CRL</c>) or hex text; throws <see cref="DcapFormatException"/>.</summary>
    public static CertificateRevocationList Parse(ReadOnlySpan<byte> bytes) => ParseDer(Normalize(bytes));

    /// <summary>The DER bytes of a CRL given in any of the accepted encodings.</summary>
    public static byte[] Normalize(ReadOnlySpan<byte> bytes)
    {
        if (Pem.Contains(bytes, "X509 CRL"))
        {
            var blocks = Pem.DecodeAll(bytes, "X509 CRL");
            return blocks.Count == 1 ? blocks[0] : throw new DcapFormatException($"CRL: PEM holds {blocks.Count} CRL blocks, 1 expected");
        }

        var text = bytes.TrimEnd((byte)0).Trim("\r\n \t"u8);
        if (text.Length > 0 && text[0] != 0x30 && IsHexText(text))
        {
            return Convert.FromHexString(Encoding.ASCII.GetString(text));
        }

        return bytes.ToArray();
    }

    private static bool IsHexText(ReadOnlySpan<byte> text)
    {
        if (text.Length % 2 != 0)
        {
            return false;
        }

        foreach (var b in text)
        {
            if (!char.IsAsciiHexDigit((char)b))
            {
                return false;
            }
        }

        return true;
    }

    private static CertificateRevocationList ParseDer(byte[] der)
    {
        try
        {
            var top = new AsnReader(der, AsnEncodingRules.DER);
            var list = top.ReadSequence();
            if (top.HasData)
            {
                throw new DcapFormatException("CRL: trailing bytes after the CRL");
            }

            var tbsBytes = list.PeekEncodedValue();
            var tbs = list.ReadSequence();
            DerReading.ReadSignatureAlgorithm(list, "CRL");
            var signature = list.ReadBitString(out _);
            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                _ = tbs.ReadIntegerBytes();
            }

            DerReading.ReadSignatureAlgorithm(tbs, "CRL tbs");
            var issuer = tbs.ReadEncodedValue();
            var thisUpdate = DerReading.ReadTime(tbs);
            DateTimeOffset? nextUpdate = null;
            if (tbs.HasData && (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) || tbs.PeekTag().HasSameClassAndValue(Asn1Tag.GeneralizedTime)))
            {
                nextUpdate = DerReading.ReadTime(tbs);
            }

            var revoked = new HashSet<string>(StringComparer.Ordinal);
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                var entries = tbs.ReadSequence();
                while (entries.HasData)
                {
                    var entry = entries.ReadSequence();
                    revoked.Add(DerReading.SerialKey(entry.ReadIntegerBytes().Span));
                    _ = DerReading.ReadTime(entry);
                }
            }

            var hasNumber = false;
            var hasAki = false;
            string? number = null;
            if (tbs.HasData)
            {
                var extensions = tbs.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0)).ReadSequence();
                while (extensions.HasData)
                {
                    var ext = extensions.ReadSequence();
                    var oid = ext.ReadObjectIdentifier();
                    if (ext.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean))
                    {
                        _ = ext.ReadBoolean();
                    }

                    var value = ext.ReadOctetString();
                    if (oid == CrlNumber)
                    {
                        hasNumber = true;
                        number = DerReading.SerialKey(new AsnReader(value, AsnEncodingRules.DER).ReadIntegerBytes().Span);
                    }
                    else if (oid == AuthorityKeyIdentifier)
                    {
                        hasAki = true;
                    }
                }
            }

            return new CertificateRevocationList
            {
                Der = der,
                TbsCertList = tbsBytes,
                Signature = signature,
                Issuer = issuer,
                IssuerCommonName = DerReading.CommonName(issuer),
                ThisUpdate = thisUpdate,
                NextUpdate = nextUpdate ?? throw new DcapFormatException("CRL: nextUpdate missing"),
                HasRequiredExtensions = hasNumber && hasAki,
                Number = number,
                RevokedSerials = revoked,
            };
        }
        catch (AsnContentException e)
        {
            throw new DcapFormatException("CRL: malformed DER: " + e.Message, e);
        }
    }
}
