using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Veritee.Dcap.X509;

/// <summary>
/// An X.509 certificate of the Intel SGX PKI, parsed with exactly what Intel's verifier uses: raw TBS bytes,
/// issuer and subject names, serial, validity, the P-256 key, the extensions present and the SGX extension.
/// Parsing is managed and cheap; signatures are checked explicitly (never through the OS chain builder).
/// </summary>
public sealed class DcapCertificate
{
    private const string AuthorityKeyIdentifier = "2.5.29.35";
    private const string SubjectKeyIdentifier = "2.5.29.14";
    private const string KeyUsage = "2.5.29.15";
    private const string BasicConstraints = "2.5.29.19";
    private const string CrlDistributionPoints = "2.5.29.31";

    private DcapCertificate()
    {
    }

    /// <summary>The full DER encoding.</summary>
    public required byte[] Der { get; init; }

    /// <summary>The TBSCertificate bytes the signature covers.</summary>
    public required ReadOnlyMemory<byte> TbsCertificate { get; init; }

    /// <summary>The signature (DER ECDSA-Sig-Value).</summary>
    public required byte[] Signature { get; init; }

    /// <summary>The serial number as lower-case hex of its magnitude.</summary>
    public required string SerialNumber { get; init; }

    /// <summary>DER of the issuer Name.</summary>
    public required ReadOnlyMemory<byte> Issuer { get; init; }

    /// <summary>DER of the subject Name.</summary>
    public required ReadOnlyMemory<byte> Subject { get; init; }

    /// <summary>Subject common name.</summary>
    public required string SubjectCommonName { get; init; }

    /// <summary>Issuer common name.</summary>
    public required string IssuerCommonName { get; init; }

    /// <summary>notBefore.</summary>
    public required DateTimeOffset NotBefore { get; init; }

    /// <summary>notAfter.</summary>
    public required DateTimeOffset NotAfter { get; init; }

    /// <summary>The subject's P-256 public key.</summary>
    public required EcPublicKey PublicKey { get; init; }

    /// <summary>True when AKI, SKI, KeyUsage, BasicConstraints and CRL Distribution Points are all present (Intel requires them).</summary>
    public required bool HasRequiredExtensions { get; init; }

    /// <summary>The raw value of the SGX extension (1.2.840.113741.1.13.1), when present.</summary>
    public ReadOnlyMemory<byte>? SgxExtension { get; init; }

    /// <summary>True when issuer and subject names are equal.</summary>
    public bool IsSelfIssued => Issuer.Span.SequenceEqual(Subject.Span);

    /// <summary>True when <paramref name="issuer"/>'s subject is this certificate's issuer and its key signed this certificate.</summary>
    public bool IsIssuedBy(DcapCertificate issuer) =>
        Issuer.Span.SequenceEqual(issuer.Subject.Span) &&
        issuer.PublicKey.Verify(TbsCertificate.Span, Signature, DSASignatureFormat.Rfc3279DerSequence);

    /// <summary>Parses DER; throws <see cref="DcapFormatException"/> naming the problem.</summary>
    public static DcapCertificate Parse(byte[] der)
    {
        try
        {
            return ParseCore(der);
        }
        catch (AsnContentException e)
        {
            throw new DcapFormatException("certificate: malformed DER: " + e.Message, e);
        }
    }

    private static DcapCertificate ParseCore(byte[] der)
    {
        var top = new AsnReader(der, AsnEncodingRules.DER);
        var cert = top.ReadSequence();
        if (top.HasData)
        {
            throw new DcapFormatException("certificate: trailing bytes after the certificate");
        }

        var tbsBytes = cert.PeekEncodedValue();
        var tbs = cert.ReadSequence();
        DerReading.ReadSignatureAlgorithm(cert, "certificate");
        var signature = cert.ReadBitString(out var unused);
        if (unused != 0 || cert.HasData)
        {
            throw new DcapFormatException("certificate: malformed signature value");
        }

        if (tbs.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
        {
            _ = tbs.ReadEncodedValue();
        }

        var serial = DerReading.SerialKey(tbs.ReadIntegerBytes().Span);
        DerReading.ReadSignatureAlgorithm(tbs, "certificate tbs");
        var issuer = tbs.ReadEncodedValue();
        var validity = tbs.ReadSequence();
        var notBefore = DerReading.ReadTime(validity);
        var notAfter = DerReading.ReadTime(validity);
        var subject = tbs.ReadEncodedValue();
        var spki = tbs.ReadSequence();
        var alg = spki.ReadSequence();
        var keyOid = alg.ReadObjectIdentifier();
        var curve = alg.HasData ? alg.ReadObjectIdentifier() : string.Empty;
        if (keyOid != DerReading.EcPublicKeyOid || curve != DerReading.P256Oid)
        {
            throw new DcapFormatException($"certificate: public key {keyOid}/{curve} is not EC P-256");
        }

        var point = spki.ReadBitString(out _);
        var present = new HashSet<string>(StringComparer.Ordinal);
        ReadOnlyMemory<byte>? sgx = null;
        while (tbs.HasData)
        {
            var tag = tbs.PeekTag();
            if (tag.HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 3)))
            {
                var extensions = tbs.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 3)).ReadSequence();
                while (extensions.HasData)
                {
                    var ext = extensions.ReadSequence();
                    var oid = ext.ReadObjectIdentifier();
                    if (ext.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean))
                    {
                        _ = ext.ReadBoolean();
                    }

                    var value = ext.ReadOctetString();
                    if (!present.Add(oid))
                    {
                        throw new DcapFormatException($"certificate: extension {oid} appears twice");
                    }

                    if (oid == Veritee.Sgx.PckCertificateExtension.Oid)
                    {
                        sgx = value;
                    }
                }
            }
            else
            {
                _ = tbs.ReadEncodedValue();
            }
        }

        return new DcapCertificate
        {
            Der = der,
            TbsCertificate = tbsBytes,
            Signature = signature,
            SerialNumber = serial,
            Issuer = issuer,
            Subject = subject,
            SubjectCommonName = DerReading.CommonName(subject),
            IssuerCommonName = DerReading.CommonName(issuer),
            NotBefore = notBefore,
            NotAfter = notAfter,
            PublicKey = new EcPublicKey(point),
            HasRequiredExtensions = present.Contains(AuthorityKeyIdentifier) && present.Contains(SubjectKeyIdentifier) &&
                present.Contains(KeyUsage) && present.Contains(BasicConstraints) && present.Contains(CrlDistributionPoints),
            SgxExtension = sgx,
        };
    }
}
