using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Veritee.Tokens;

/// <summary>One entry of an instance's <c>/certs</c> JWKS: the key id and the RSA public key that signs its tokens.</summary>
public sealed class MaaSigningKey
{
    internal MaaSigningKey(string kid, string keyType, RSAParameters? rsa, X509Certificate2? certificate, IReadOnlyList<X509Certificate2> chain)
    {
        Kid = kid;
        KeyType = keyType;
        RsaPublicKey = rsa;
        Certificate = certificate;
        CertificateChain = chain;
    }

    /// <summary>The JWK <c>kid</c>, compared with the token header's <c>kid</c> by exact (ordinal) string equality.</summary>
    public string Kid { get; }

    /// <summary>The JWK <c>kty</c>. Only <c>RSA</c> keys can verify attestation tokens.</summary>
    public string KeyType { get; }

    /// <summary>The RSA public key (from <c>x5c[0]</c>, or <c>n</c>/<c>e</c>), or null for a key type that cannot sign MAA tokens.</summary>
    public RSAParameters? RsaPublicKey { get; }

    /// <summary>The signing certificate (<c>x5c[0]</c>), when the JWK carries one.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>Every certificate of <c>x5c</c>, leaf first (not chain-validated: trust comes from pinning the JWKS).</summary>
    public IReadOnlyList<X509Certificate2> CertificateChain { get; }
}

/// <summary>
/// A pinned set of token signing keys: the body of an MAA instance's <c>GET /certs</c>
/// (<c>{"keys":[{"x5c":[…],"kid":"…","kty":"RSA"}]}</c>). Keys only ever come from here, never from a token.
/// </summary>
public sealed class MaaSigningKeys
{
    private readonly Dictionary<string, MaaSigningKey> _byKid;

    private MaaSigningKeys(List<MaaSigningKey> keys)
    {
        Keys = keys;
        _byKid = keys.ToDictionary(k => k.Kid, StringComparer.Ordinal);
    }

    /// <summary>The keys in JWKS order.</summary>
    public IReadOnlyList<MaaSigningKey> Keys { get; }

    /// <summary>Finds the key with exactly this <c>kid</c>.</summary>
    public bool TryGet(string kid, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MaaSigningKey? key) => _byKid.TryGetValue(kid, out key);

    /// <summary>Parses a JWKS document.</summary>
    /// <exception cref="TokenFormatException">Not a JWKS, an entry without <c>kid</c>, a duplicate <c>kid</c>, an unreadable certificate,
    /// or an RSA entry whose <c>n</c>/<c>e</c> disagree with its certificate.</exception>
    public static MaaSigningKeys Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new TokenFormatException("JWKS is not valid JSON: " + e.Message, e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
            {
                throw new TokenFormatException("JWKS must be an object with a \"keys\" array");
            }

            var list = new List<MaaSigningKey>();
            var index = 0;
            foreach (var entry in keys.EnumerateArray())
            {
                var key = ParseKey(entry, index++);
                if (list.Any(k => k.Kid == key.Kid))
                {
                    throw new TokenFormatException($"JWKS has two keys with kid '{key.Kid}'");
                }

                list.Add(key);
            }

            return new MaaSigningKeys(list);
        }
    }

    private static MaaSigningKey ParseKey(JsonElement entry, int index)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new TokenFormatException($"JWKS key {index} is not an object");
        }

        var kid = Jwk.OptionalString(entry, "kid") ?? throw new TokenFormatException($"JWKS key {index} has no kid");
        var kty = Jwk.OptionalString(entry, "kty") ?? throw new TokenFormatException($"JWKS key '{kid}' has no kty");
        var chain = Jwk.ReadX5c(entry, $"JWKS key '{kid}'");
        var certificate = chain.Count > 0 ? chain[0] : null;
        if (!string.Equals(kty, "RSA", StringComparison.Ordinal))
        {
            return new MaaSigningKey(kid, kty, null, certificate, chain);
        }

        RSAParameters? fromCertificate = null;
        if (certificate is not null)
        {
            using var rsa = certificate.GetRSAPublicKey() ?? throw new TokenFormatException($"JWKS key '{kid}' has kty RSA but its certificate holds no RSA key");
            fromCertificate = rsa.ExportParameters(false);
        }

        RSAParameters? fromMembers = null;
        var n = Jwk.OptionalString(entry, "n");
        var e = Jwk.OptionalString(entry, "e");
        if (n is not null || e is not null)
        {
            if (n is null || e is null)
            {
                throw new TokenFormatException($"JWKS key '{kid}' has only one of n and e");
            }

            fromMembers = new RSAParameters
            {
                Modulus = TrimLeadingZeros(CompactJws.DecodeSegment(n, $"JWKS key '{kid}' n")),
                Exponent = TrimLeadingZeros(CompactJws.DecodeSegment(e, $"JWKS key '{kid}' e")),
            };
        }

        if (fromCertificate is { } c && fromMembers is { } m &&
            !(TrimLeadingZeros(c.Modulus!).AsSpan().SequenceEqual(m.Modulus) && TrimLeadingZeros(c.Exponent!).AsSpan().SequenceEqual(m.Exponent)))
        {
            throw new TokenFormatException($"JWKS key '{kid}': n/e differ from the x5c certificate's key");
        }

        var parameters = fromCertificate ?? fromMembers ?? throw new TokenFormatException($"JWKS key '{kid}' has neither x5c nor n/e");
        return new MaaSigningKey(kid, kty, parameters, certificate, chain);
    }

    private static byte[] TrimLeadingZeros(byte[] value)
    {
        var i = 0;
        while (i < value.Length - 1 && value[i] == 0)
        {
            i++;
        }

        return value[i..];
    }
}

/// <summary>JWK helpers shared by the JWKS and the JWS headers.</summary>
internal static class Jwk
{
    public static string? OptionalString(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? CompactJws.StringValue(value, "'" + name + "'") : throw new TokenFormatException($"'{name}' is not a string");
    }

    /// <summary>Reads <c>x5c</c> (standard base64 DER, leaf first); absent → empty list.</summary>
    public static List<X509Certificate2> ReadX5c(JsonElement obj, string where)
    {
        var list = new List<X509Certificate2>();
        if (!obj.TryGetProperty("x5c", out var x5c))
        {
            return list;
        }

        if (x5c.ValueKind != JsonValueKind.Array || x5c.GetArrayLength() == 0)
        {
            throw new TokenFormatException($"{where}: x5c must be a non-empty array");
        }

        foreach (var item in x5c.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw new TokenFormatException($"{where}: x5c entries must be strings");
            }

            try
            {
                list.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(CompactJws.StringValue(item, where + ": x5c entry"))));
            }
            catch (Exception e) when (e is FormatException or CryptographicException)
            {
                throw new TokenFormatException($"{where}: x5c entry is not a base64 DER certificate", e);
            }
        }

        return list;
    }

    /// <summary>Standard base64 of the DER certificate, as in <c>x5c</c>.</summary>
    public static string X5cEntry(X509Certificate2 certificate) => Convert.ToBase64String(certificate.RawData);
}
