using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Veritee.Tokens;

/// <summary>
/// A private key and the certificate that names it, used to sign policy and policy-signer JWS the way MAA's
/// isolated mode expects (header <c>{"alg":"RS256"|"ES256","x5c":[cert]}</c>). RSA and EC keys are supported.
/// </summary>
public sealed class JwsSigningKey : IDisposable
{
    private readonly RSA? _rsa;
    private readonly ECDsa? _ecdsa;

    private JwsSigningKey(X509Certificate2 certificate, RSA? rsa, ECDsa? ecdsa)
    {
        Certificate = certificate;
        _rsa = rsa;
        _ecdsa = ecdsa;
    }

    /// <summary>The signer certificate placed in the header's <c>x5c</c>.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The JWS <c>alg</c> written in headers: <c>RS256</c> for RSA keys, <c>ES256</c> for EC keys.</summary>
    public string Algorithm => _rsa is not null ? "RS256" : "ES256";

    /// <summary>Pairs an RSA key with its certificate.</summary>
    /// <exception cref="ArgumentException">The certificate does not hold this key's public key.</exception>
    public static JwsSigningKey Create(RSA key, X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(certificate);
        using var certKey = certificate.GetRSAPublicKey() ?? throw new ArgumentException("the certificate does not hold an RSA key", nameof(certificate));
        if (!certKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            throw new ArgumentException("the private key does not belong to the certificate", nameof(key));
        }

        return new JwsSigningKey(certificate, key, null);
    }

    /// <summary>Pairs an EC key with its certificate.</summary>
    /// <exception cref="ArgumentException">The certificate does not hold this key's public key.</exception>
    public static JwsSigningKey Create(ECDsa key, X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(certificate);
        using var certKey = certificate.GetECDsaPublicKey() ?? throw new ArgumentException("the certificate does not hold an EC key", nameof(certificate));
        if (!certKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            throw new ArgumentException("the private key does not belong to the certificate", nameof(key));
        }

        return new JwsSigningKey(certificate, null, key);
    }

    /// <summary>
    /// Loads a PEM private key (PKCS#8, encrypted PKCS#8, PKCS#1 <c>RSA PRIVATE KEY</c> or SEC1 <c>EC PRIVATE KEY</c>)
    /// and a PEM or DER certificate.
    /// </summary>
    /// <exception cref="TokenFormatException">Unreadable key or certificate, wrong or missing password, or a key that does not match the certificate.</exception>
    public static JwsSigningKey Load(string keyPem, ReadOnlySpan<byte> certificate, string? password)
    {
        ArgumentNullException.ThrowIfNull(keyPem);
        var cert = LoadCertificate(certificate);
        var encrypted = keyPem.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal);
        if (encrypted && string.IsNullOrEmpty(password))
        {
            throw new TokenFormatException("the private key is encrypted: a password is required");
        }

        using var certRsa = cert.GetRSAPublicKey();
        using var certEc = certRsa is null ? cert.GetECDsaPublicKey() : null;
        if (certRsa is null && certEc is null)
        {
            throw new TokenFormatException("the certificate holds neither an RSA nor an EC key");
        }

        AsymmetricAlgorithm key = certRsa is not null ? RSA.Create() : ECDsa.Create();
        try
        {
            if (encrypted)
            {
                key.ImportFromEncryptedPem(keyPem, password);
            }
            else
            {
                key.ImportFromPem(keyPem);
            }

            return key switch
            {
                RSA rsa => Create(rsa, cert),
                ECDsa ec => Create(ec, cert),
                _ => throw new TokenFormatException("unsupported key type"),
            };
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new TokenFormatException(encrypted
                ? "the private key could not be decrypted (wrong password?) or does not match the certificate"
                : "the private key is not a PEM " + (certRsa is not null ? "RSA" : "EC") + " private key matching the certificate", e);
        }
    }

    /// <summary>Reads a PEM (first <c>CERTIFICATE</c> block) or DER certificate.</summary>
    /// <exception cref="TokenFormatException">Not a certificate.</exception>
    public static X509Certificate2 LoadCertificate(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var text = Encoding.ASCII.GetString(bytes);
            return text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text)
                : X509CertificateLoader.LoadCertificate(bytes);
        }
        catch (CryptographicException e)
        {
            throw new TokenFormatException("not a PEM or DER X.509 certificate", e);
        }
    }

    /// <summary>Compact JWS over the header <c>{"alg":…,"x5c":[…]}</c> and the payload bytes (may be empty).</summary>
    public string Sign(ReadOnlySpan<byte> payload)
    {
        var header = JwsJson.Object(w =>
        {
            w.WriteString("alg", Algorithm);
            w.WriteStartArray("x5c");
            w.WriteStringValue(Jwk.X5cEntry(Certificate));
            w.WriteEndArray();
        });
        var signingInput = CompactJws.Encode(header) + "." + CompactJws.Encode(payload);
        var bytes = Encoding.ASCII.GetBytes(signingInput);
        var signature = _rsa is not null
            ? _rsa.SignData(bytes, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : _ecdsa!.SignData(bytes, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + CompactJws.Encode(signature);
    }

    /// <summary>Disposes the private key (the certificate stays usable).</summary>
    public void Dispose()
    {
        _rsa?.Dispose();
        _ecdsa?.Dispose();
    }
}

/// <summary>Compact JSON writing with relaxed escaping (valid JSON; keeps <c>+</c> and <c>/</c> readable).</summary>
internal static class JwsJson
{
    public static byte[] Object(Action<System.Text.Json.Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(stream, new System.Text.Json.JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }
}
