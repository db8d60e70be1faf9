using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Veritee.Service;

/// <summary>
/// The instance's RSA-2048 token signing key and its self-signed certificate (<c>CN={instance}</c>), published in
/// <c>/certs</c>. The kid follows MAA's (Open Enclave attestation-certificate) convention:
/// base64(SHA-256(PEM SubjectPublicKeyInfo text + NUL)).
/// </summary>
public sealed class InstanceSigningKey : IDisposable
{
    private InstanceSigningKey(RSA key, X509Certificate2 certificate)
    {
        Key = key;
        Certificate = certificate;
        Kid = KidOfPublicKey(key.ExportSubjectPublicKeyInfo());
    }

    /// <summary>The kid of a SubjectPublicKeyInfo (DER).</summary>
    private static string KidOfPublicKey(ReadOnlySpan<byte> subjectPublicKeyInfo)
    {
        var pem = PemEncoding.WriteString("PUBLIC KEY", subjectPublicKeyInfo) + "\n";
        return Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(pem + "\0")));
    }

    /// <summary>The kid of the key a certificate (DER) carries.</summary>
    public static string KidOf(byte[] certificateDer)
    {
        using var certificate = X509CertificateLoader.LoadCertificate(certificateDer);
        return KidOfPublicKey(certificate.PublicKey.ExportSubjectPublicKeyInfo());
    }

    /// <summary>The private key.</summary>
    public RSA Key { get; }

    /// <summary>The self-signed certificate.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The JWK key id.</summary>
    public string Kid { get; }

    /// <summary>Creates a new key and certificate for <paramref name="instanceUrl"/>.</summary>
    public static InstanceSigningKey Create(string instanceUrl, DateTimeOffset now)
    {
        var rsa = RSA.Create(2048);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + instanceUrl), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var cert = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(30));
        return new InstanceSigningKey(rsa, X509CertificateLoader.LoadCertificate(cert.Export(X509ContentType.Cert)));
    }

    /// <summary>Loads from PKCS#8 private key bytes and the DER certificate.</summary>
    public static InstanceSigningKey Load(byte[] pkcs8, byte[] certificateDer)
    {
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(pkcs8, out _);
        var cert = X509CertificateLoader.LoadCertificate(certificateDer);
        using var certKey = cert.GetRSAPublicKey() ?? throw new CryptographicException("instance certificate has no RSA key");
        if (!certKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(rsa.ExportSubjectPublicKeyInfo()))
        {
            throw new CryptographicException("instance certificate does not match the stored private key");
        }

        return new InstanceSigningKey(rsa, cert);
    }

    /// <summary>The key and certificate of a PKCS#12 file (an RSA key is required: MAA clients expect RS256).</summary>
    public static InstanceSigningKey FromCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var rsa = certificate.GetRSAPrivateKey() ?? throw new CryptographicException("the instance key file must hold an RSA private key with its certificate");
        return new InstanceSigningKey(rsa, X509CertificateLoader.LoadCertificate(certificate.RawData));
    }

    /// <summary>PKCS#8 private key bytes for the store.</summary>
    public byte[] ExportPkcs8() => Key.ExportPkcs8PrivateKey();

    /// <summary>The JWKS entry as MAA publishes it: only <c>x5c</c>, <c>kid</c>, <c>kty</c>.</summary>
    public JsonObject Jwk() => Jwk(Kid, Certificate.RawData);

    /// <summary>The JWKS entry of a key known by its certificate (DER) alone: a key rolled out of service.</summary>
    public static JsonObject Jwk(string kid, byte[] certificateDer) => new()
    {
        ["kid"] = kid,
        ["kty"] = "RSA",
        ["x5c"] = new JsonArray(Convert.ToBase64String(certificateDer)),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        Key.Dispose();
        Certificate.Dispose();
    }
}
