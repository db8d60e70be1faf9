using System.Formats.Asn1;
using Veritee.Dcap.X509;

namespace Veritee.Dcap;

/// <summary>
/// The root of trust: a P-256 public key, never certificate bytes (Intel's root exists as two certificates with
/// the same key). Any self-signed root carrying this key is accepted.
/// </summary>
public sealed class TrustAnchor
{
    /// <summary>The Intel SGX Root CA public key (uncompressed point).</summary>
    public const string IntelSgxRootCaPublicKeyHex =
        "040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394";

    private TrustAnchor(byte[] point, string name)
    {
        Point = point;
        Name = name;
        Key = new EcPublicKey(point);
    }

    /// <summary>Intel's production root.</summary>
    public static TrustAnchor IntelSgxRootCa { get; } = new(Convert.FromHexString(IntelSgxRootCaPublicKeyHex), "Intel SGX Root CA");

    /// <summary>The 65-byte uncompressed point.</summary>
    public byte[] Point { get; }

    /// <summary>A label for messages.</summary>
    public string Name { get; }

    /// <summary>The anchor's key, imported into the platform crypto once (on first use) and shared by every verification.</summary>
    internal EcPublicKey Key { get; }

    /// <summary>An anchor from a raw point (65 bytes uncompressed, or 64 bytes x‖y).</summary>
    public static TrustAnchor FromPoint(ReadOnlySpan<byte> point, string name) =>
        new(new EcPublicKey(point).Point.ToArray(), name);

    /// <summary>
    /// Reads a PEM certificate, a PEM <c>PUBLIC KEY</c>, a DER certificate, or a hex point; the certificate's
    /// subject key becomes the anchor.
    /// </summary>
    public static TrustAnchor Load(ReadOnlySpan<byte> bytes, string name)
    {
        if (Pem.Contains(bytes, "CERTIFICATE"))
        {
            var certs = Pem.DecodeCertificates(bytes);
            return certs.Count == 1 ? FromCertificate(certs[0], name) : throw new DcapFormatException($"{name}: holds {certs.Count} certificates, 1 expected");
        }

        if (Pem.Contains(bytes, "PUBLIC KEY"))
        {
            var spki = Pem.DecodeAll(bytes, "PUBLIC KEY")[0];
            try
            {
                var seq = new AsnReader(spki, AsnEncodingRules.DER).ReadSequence();
                _ = seq.ReadSequence();
                return FromPoint(seq.ReadBitString(out _), name);
            }
            catch (AsnContentException e)
            {
                throw new DcapFormatException($"{name}: malformed public key: {e.Message}", e);
            }
        }

        var text = System.Text.Encoding.ASCII.GetString(bytes).Trim();
        if (Veritee.Sgx.Hex.TryDecode(text, out var point))
        {
            return FromPoint(point, name);
        }

        return FromCertificate(bytes.ToArray(), name);
    }

    private static TrustAnchor FromCertificate(byte[] der, string name) =>
        new(DcapCertificate.Parse(der).PublicKey.Point.ToArray(), name);
}
