using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Veritee.Tokens;

/// <summary>How the policy text sits in the <c>AttestationPolicy</c> claim.</summary>
public enum PolicyPayloadFormat
{
    /// <summary>api-version 2020-10-01 and later: base64url (no padding) of the UTF-8 policy text.</summary>
    Ga,

    /// <summary>api-version 2018-09-01-preview: the policy text itself.</summary>
    Preview,
}

/// <summary>
/// A policy JWS as <c>PUT /policies/{type}</c> and <c>POST /policies/{type}:reset</c> take it: unsigned
/// (<c>{"alg":"none"}</c>, empty signature) or signed by the certificate in the header; payload
/// <c>{"AttestationPolicy": …}</c>, or empty for a reset.
/// </summary>
public sealed class PolicyJws
{
    private const string PolicyClaim = "AttestationPolicy";
    private const string UnsignedHeader = "{\"alg\":\"none\"}";

    private PolicyJws(CompactJws jws, string algorithm, IReadOnlyList<X509Certificate2> chain, string? policyText, PolicyPayloadFormat format)
    {
        Jws = jws;
        Algorithm = algorithm;
        SignerChain = chain;
        PolicyText = policyText;
        Format = format;
    }

    /// <summary>The parsed JWS.</summary>
    public CompactJws Jws { get; }

    /// <summary>The header <c>alg</c> as sent (<c>none</c>, <c>RS256</c>, <c>RSA256</c>, <c>ES256</c> or <c>ECDH256</c>).</summary>
    public string Algorithm { get; }

    /// <summary>True when the JWS claims a signature (any <c>alg</c> but <c>none</c>).</summary>
    public bool IsSigned => SignerChain.Count > 0;

    /// <summary>The header's certificates (<c>x5c</c> or <c>jwk.x5c</c>), leaf first; empty when unsigned.</summary>
    public IReadOnlyList<X509Certificate2> SignerChain { get; }

    /// <summary>The signer certificate (<c>x5c[0]</c>), or null when unsigned.</summary>
    public X509Certificate2? SignerCertificate => IsSigned ? SignerChain[0] : null;

    /// <summary>The policy text, or null for a reset (empty payload).</summary>
    public string? PolicyText { get; }

    /// <summary>True for a reset request (empty payload).</summary>
    public bool IsReset => PolicyText is null;

    /// <summary>The payload format the text was read with.</summary>
    public PolicyPayloadFormat Format { get; }

    /// <summary><c>x-ms-policy-token-hash</c>: base64url SHA-256 of the JWS text exactly as parsed.</summary>
    public string TokenHash => CompactJws.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(Jws.Text)));

    /// <summary>Verifies the signature with the header certificate's key (not whether that signer is trusted).</summary>
    public JwsSignatureStatus VerifySignature() => JwsSignature.Verify(Jws, SignerCertificate);

    /// <summary>Parses a policy JWS and extracts the policy text.</summary>
    /// <exception cref="TokenFormatException">Not a JWS, an unsupported alg, a signed JWS without certificate, a payload without
    /// <c>AttestationPolicy</c>, or (GA) a value that is not base64url of UTF-8 text.</exception>
    public static PolicyJws Parse(string text, PolicyPayloadFormat format = PolicyPayloadFormat.Ga)
    {
        var jws = CompactJws.Parse(text);
        var (alg, chain) = JwsSignature.ReadHeader(jws);
        string? policy = null;
        if (jws.Payload.Length > 0)
        {
            var payload = jws.PayloadJson();
            var value = Jwk.OptionalString(payload, PolicyClaim) ?? throw new TokenFormatException($"policy JWS payload has no '{PolicyClaim}' string");
            policy = format == PolicyPayloadFormat.Ga ? DecodeGa(value) : value;
        }

        return new PolicyJws(jws, alg, chain, policy, format);
    }

    /// <summary>An unsigned policy JWS (<c>eyJhbGciOiJub25lIn0.…</c>); a null text makes the reset body <c>eyJhbGciOiJub25lIn0..</c>.</summary>
    public static string CreateUnsigned(string? policyText, PolicyPayloadFormat format = PolicyPayloadFormat.Ga) =>
        CompactJws.Encode(Encoding.UTF8.GetBytes(UnsignedHeader)) + "." + CompactJws.Encode(Payload(policyText, format)) + ".";

    /// <summary>A policy JWS signed with the key, its certificate in the header; a null text makes a signed reset body.</summary>
    public static string CreateSigned(string? policyText, JwsSigningKey signer, PolicyPayloadFormat format = PolicyPayloadFormat.Ga)
    {
        ArgumentNullException.ThrowIfNull(signer);
        return signer.Sign(Payload(policyText, format));
    }

    /// <summary><c>x-ms-policy-hash</c> of a policy text: base64url(SHA-256(ASCII(base64url(UTF-8 text)))).</summary>
    public static string PolicyHash(string policyText)
    {
        ArgumentNullException.ThrowIfNull(policyText);
        return CompactJws.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(CompactJws.Encode(Encoding.UTF8.GetBytes(policyText)))));
    }

    private static byte[] Payload(string? policyText, PolicyPayloadFormat format)
    {
        if (policyText is null)
        {
            return [];
        }

        var value = format == PolicyPayloadFormat.Ga ? CompactJws.Encode(Encoding.UTF8.GetBytes(policyText)) : policyText;
        return JwsJson.Object(w => w.WriteString(PolicyClaim, value));
    }

    private static string DecodeGa(string value)
    {
        var bytes = CompactJws.DecodeSegment(value, PolicyClaim);
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new TokenFormatException($"'{PolicyClaim}' does not decode to UTF-8 text", e);
        }
    }
}

/// <summary>
/// The JWS that <c>POST /certificates:add</c> and <c>:remove</c> take: payload <c>{"policyCertificate": JWK}</c>
/// (preview: <c>maa-policyCertificate</c>; <c>x-ms-policyCertificate</c> and <c>aas-policyCertificate</c> are also read) where the JWK's <c>x5c[0]</c>
/// is the certificate to add or remove, signed by a certificate already in the instance's set.
/// </summary>
public sealed class PolicyCertificateJws
{
    /// <summary>The GA claim name.</summary>
    public const string GaClaim = "policyCertificate";

    /// <summary>The preview (2018) claim name.</summary>
    public const string PreviewClaim = "maa-policyCertificate";

    private const string LegacyClaim = "x-ms-policyCertificate";

    // The 2025-06-01 spec's example payload still uses this older name.
    private const string AasClaim = "aas-policyCertificate";

    private PolicyCertificateJws(CompactJws jws, string algorithm, IReadOnlyList<X509Certificate2> chain, string claimName, X509Certificate2 certificate)
    {
        Jws = jws;
        Algorithm = algorithm;
        SignerChain = chain;
        ClaimName = claimName;
        Certificate = certificate;
    }

    /// <summary>The parsed JWS.</summary>
    public CompactJws Jws { get; }

    /// <summary>The header <c>alg</c> as sent.</summary>
    public string Algorithm { get; }

    /// <summary>The header's certificates, leaf first; empty when unsigned.</summary>
    public IReadOnlyList<X509Certificate2> SignerChain { get; }

    /// <summary>The signer certificate, or null when unsigned.</summary>
    public X509Certificate2? SignerCertificate => SignerChain.Count > 0 ? SignerChain[0] : null;

    /// <summary>The claim the certificate came from (<c>policyCertificate</c>, <c>maa-policyCertificate</c>, <c>x-ms-policyCertificate</c> or <c>aas-policyCertificate</c>).</summary>
    public string ClaimName { get; }

    /// <summary>The certificate to add or remove.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary><c>x-ms-certificate-thumbprint</c>: uppercase hex SHA-1 of the certificate's DER.</summary>
    public string Thumbprint => Convert.ToHexString(SHA1.HashData(Certificate.RawData));

    /// <summary>Verifies the signature with the header certificate's key (not whether that signer is trusted).</summary>
    public JwsSignatureStatus VerifySignature() => JwsSignature.Verify(Jws, SignerCertificate);

    /// <summary>Parses the JWS (also in its JSON-string form, as sent in request bodies).</summary>
    /// <exception cref="TokenFormatException">Not a JWS, an unsupported alg, no or several certificate claims, or a JWK without <c>x5c</c>.</exception>
    public static PolicyCertificateJws Parse(string text)
    {
        var jws = CompactJws.Parse(text);
        var (alg, chain) = JwsSignature.ReadHeader(jws);
        var payload = jws.PayloadJson();
        var names = new[] { GaClaim, PreviewClaim, LegacyClaim, AasClaim }.Where(n => payload.TryGetProperty(n, out _)).ToArray();
        if (names.Length != 1)
        {
            throw new TokenFormatException(names.Length == 0
                ? $"Could not find \"{GaClaim}\" (or \"{PreviewClaim}\") claim in policy token"
                : "the payload has more than one policy certificate claim");
        }

        var jwk = payload.GetProperty(names[0]);
        if (jwk.ValueKind != JsonValueKind.Object)
        {
            throw new TokenFormatException($"'{names[0]}' is not a JWK object");
        }

        var certs = Jwk.ReadX5c(jwk, names[0]);
        if (certs.Count == 0)
        {
            throw new TokenFormatException($"'{names[0]}' has no x5c certificate");
        }

        var kty = Jwk.OptionalString(jwk, "kty");
        var isRsa = certs[0].GetKeyAlgorithm() == "1.2.840.113549.1.1.1";
        if (kty is not null && !string.Equals(kty, isRsa ? "RSA" : "EC", StringComparison.Ordinal))
        {
            throw new TokenFormatException($"'{names[0]}' kty '{kty}' does not match its certificate");
        }

        return new PolicyCertificateJws(jws, alg, chain, names[0], certs[0]);
    }

    /// <summary>The JWS adding or removing <paramref name="certificate"/>, signed by <paramref name="signer"/>.</summary>
    public static string Create(X509Certificate2 certificate, JwsSigningKey signer, bool preview = false)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(signer);
        var payload = JwsJson.Object(w =>
        {
            w.WritePropertyName(preview ? PreviewClaim : GaClaim);
            WriteJwk(w, certificate);
        });
        return signer.Sign(payload);
    }

    /// <summary>The JWK MAA uses for a signer certificate (<c>x-ms-policy-signer</c>, <c>x-ms-policy-certificates</c>):
    /// <c>{"alg","kty","use":"sig","x5c":[…]}</c>.</summary>
    public static string SignerJwk(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteJwk(writer, certificate);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteJwk(Utf8JsonWriter w, X509Certificate2 certificate)
    {
        var isRsa = certificate.GetKeyAlgorithm() == "1.2.840.113549.1.1.1";
        w.WriteStartObject();
        w.WriteString("alg", isRsa ? "RS256" : "ES256");
        w.WriteString("kty", isRsa ? "RSA" : "EC");
        w.WriteString("use", "sig");
        w.WriteStartArray("x5c");
        w.WriteStringValue(Jwk.X5cEntry(certificate));
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
