using System.Formats.Asn1;

namespace Veritee.Dcap.X509;

/// <summary>Shared DER pieces of certificates and CRLs.</summary>
internal static class DerReading
{
    public const string EcdsaWithSha256 = "1.2.840.10045.4.3.2";
    public const string EcPublicKeyOid = "1.2.840.10045.2.1";
    public const string P256Oid = "1.2.840.10045.3.1.7";
    public const string CommonNameOid = "2.5.4.3";

    public static DateTimeOffset ReadTime(AsnReader reader)
    {
        var tag = reader.PeekTag();
        return tag.HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();
    }

    public static void ReadSignatureAlgorithm(AsnReader reader, string what)
    {
        var alg = reader.ReadSequence();
        var oid = alg.ReadObjectIdentifier();
        if (oid != EcdsaWithSha256)
        {
            throw new DcapFormatException($"{what}: signature algorithm {oid} is not ecdsa-with-SHA256");
        }
    }

    /// <summary>The common name of a Name, or empty.</summary>
    public static string CommonName(ReadOnlyMemory<byte> nameDer)
    {
        var name = new AsnReader(nameDer, AsnEncodingRules.DER).ReadSequence();
        while (name.HasData)
        {
            var set = name.ReadSetOf();
            while (set.HasData)
            {
                var atv = set.ReadSequence();
                var oid = atv.ReadObjectIdentifier();
                if (oid == CommonNameOid)
                {
                    return atv.ReadCharacterString(atv.PeekTag().TagValue switch
                    {
                        (int)UniversalTagNumber.PrintableString => UniversalTagNumber.PrintableString,
                        (int)UniversalTagNumber.BMPString => UniversalTagNumber.BMPString,
                        (int)UniversalTagNumber.IA5String => UniversalTagNumber.IA5String,
                        _ => UniversalTagNumber.UTF8String,
                    });
                }

                _ = atv.ReadEncodedValue();
            }
        }

        return string.Empty;
    }

    /// <summary>Canonical text of a serial number: hex of the unsigned magnitude without leading zero bytes.</summary>
    public static string SerialKey(ReadOnlySpan<byte> integerContents)
    {
        var trimmed = integerContents;
        while (trimmed.Length > 1 && trimmed[0] == 0)
        {
            trimmed = trimmed[1..];
        }

        return Convert.ToHexStringLower(trimmed);
    }
}
