using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Veritee.Tokens;

/// <summary>The signature state of a policy or policy-signer JWS.</summary>
public enum JwsSignatureStatus
{
    /// <summary><c>alg: none</c> with an empty signature.</summary>
    Unsigned,

    /// <summary>The signature verifies with the header certificate's key.</summary>
    Valid,

    /// <summary>The signature does not verify.</summary>
    Invalid,
}

/// <summary>
/// Signed-by-certificate JWS as MAA's policy APIs take them: the signer certificate is <c>x5c[0]</c> or
/// <c>jwk.x5c[0]</c> of the header, <c>alg</c> is one of the spellings clients send (<c>RS256</c>/<c>RSA256</c> for RSA,
/// <c>ES256</c>/<c>ECDH256</c> for EC; it must match the certificate's key type), the signature is RSASSA-PKCS1-v1_5
/// SHA-256 or ECDSA SHA-256 (IEEE P1363 or DER encoding).
/// </summary>
internal static class JwsSignature
{
    private static readonly string[] RsaNames = ["RS256", "RSA256"];
    private static readonly string[] EcNames = ["ES256", "ECDH256"];

    /// <summary>Reads the header: (alg, signer chain). Unsigned → empty chain; signed → non-empty chain of the right key type.</summary>
    public static (string Algorithm, IReadOnlyList<X509Certificate2> Chain) ReadHeader(CompactJws jws)
    {
        var alg = jws.Algorithm ?? throw new TokenFormatException("JWS header has no alg");
        if (string.Equals(alg, "none", StringComparison.Ordinal))
        {
            if (jws.Signature.Length != 0)
            {
                throw new TokenFormatException("alg none with a non-empty signature");
            }

            return (alg, []);
        }

        var isRsa = RsaNames.Contains(alg, StringComparer.Ordinal);
        if (!isRsa && !EcNames.Contains(alg, StringComparer.Ordinal))
        {
            throw new TokenFormatException($"JWS alg '{alg}' is not one of none, RS256, RSA256, ES256, ECDH256");
        }

        var chain = Jwk.ReadX5c(jws.Header, "JWS header");
        if (jws.Header.TryGetProperty("jwk", out var jwk))
        {
            if (jwk.ValueKind != JsonValueKind.Object)
            {
                throw new TokenFormatException("JWS header jwk is not an object");
            }

            var fromJwk = Jwk.ReadX5c(jwk, "JWS header jwk");
            if (chain.Count > 0 && fromJwk.Count > 0 && !chain[0].RawData.AsSpan().SequenceEqual(fromJwk[0].RawData))
            {
                throw new TokenFormatException("JWS header x5c and jwk.x5c name different signer certificates");
            }

            if (chain.Count == 0)
            {
                chain = fromJwk;
            }
        }

        if (chain.Count == 0)
        {
            throw new TokenFormatException("signed JWS has no signer certificate (header x5c or jwk.x5c)");
        }

        var leafIsRsa = chain[0].GetKeyAlgorithm() == "1.2.840.113549.1.1.1";
        if (leafIsRsa != isRsa)
        {
            throw new TokenFormatException($"JWS alg '{alg}' does not match the signer certificate's {(leafIsRsa ? "RSA" : "non-RSA")} key");
        }

        CheckSignerKey(chain[0]);

        if (jws.Signature.Length == 0)
        {
            throw new TokenFormatException("signed JWS has an empty signature");
        }

        return (alg, chain);
    }

    /// <summary>
    /// Refuses signer keys outside sane bounds before any signature math, by reading the encoded key only: RSA with a
    /// 2048–4096-bit modulus and an odd public exponent in 3..2^32-1 (a huge exponent makes verification arbitrarily
    /// slow), or EC on P-256 or P-384.
    /// </summary>
    /// <exception cref="TokenFormatException">The key is of another kind or size, or does not decode.</exception>
    public static void CheckSignerKey(X509Certificate2 certificate)
    {
        const string RsaOid = "1.2.840.113549.1.1.1";
        const string EcOid = "1.2.840.10045.2.1";
        var key = certificate.PublicKey;
        var oid = key.Oid.Value ?? string.Empty;
        try
        {
            if (oid == RsaOid)
            {
                var reader = new AsnReader(key.EncodedKeyValue.RawData, AsnEncodingRules.DER);
                var sequence = reader.ReadSequence();
                var modulus = sequence.ReadIntegerBytes().Span;
                var exponent = sequence.ReadIntegerBytes().Span;
                sequence.ThrowIfNotEmpty();
                reader.ThrowIfNotEmpty();
                modulus = modulus.TrimStart((byte)0);
                exponent = exponent.TrimStart((byte)0);
                var bits = modulus.IsEmpty ? 0 : (modulus.Length * 8) - (System.Numerics.BitOperations.LeadingZeroCount((uint)modulus[0]) - 24);
                if (bits < 2048 || bits > 4096)
                {
                    throw new TokenFormatException($"the signer certificate's RSA key has {bits} bits; policy signer keys must have 2048 to 4096 bits");
                }

                ulong e = 0;
                for (var i = 0; i < exponent.Length && exponent.Length <= 4; i++)
                {
                    e = (e << 8) | exponent[i];
                }

                if (exponent.Length > 4 || e < 3 || (e & 1) == 0)
                {
                    throw new TokenFormatException("the signer certificate's RSA public exponent is not an odd number from 3 to 2^32-1 (65537 is usual)");
                }

                return;
            }

            if (oid == EcOid)
            {
                var parameters = key.EncodedParameters?.RawData ?? [];
                var curve = parameters.Length > 0 ? new AsnReader(parameters, AsnEncodingRules.DER).ReadObjectIdentifier() : null;
                if (curve is "1.2.840.10045.3.1.7" or "1.3.132.0.34")
                {
                    return;
                }

                throw new TokenFormatException($"the signer certificate's EC key is on curve {curve ?? "(unnamed)"}; policy signer keys must be on P-256 or P-384");
            }
        }
        catch (AsnContentException e)
        {
            throw new TokenFormatException("the signer certificate's public key does not decode: " + e.Message, e);
        }

        throw new TokenFormatException($"the signer certificate's key algorithm {oid} is not RSA or EC");
    }

    /// <summary>Verifies with the certificate's public key; unsigned → <see cref="JwsSignatureStatus.Unsigned"/>.</summary>
    public static JwsSignatureStatus Verify(CompactJws jws, X509Certificate2? signer)
    {
        if (signer is null)
        {
            return JwsSignatureStatus.Unsigned;
        }

        try
        {
            return VerifyWithKey(jws, signer);
        }
        catch (CryptographicException)
        {
            // A certificate whose public key does not decode (found by fuzzing: an RSA key with a bad length) verifies nothing.
            return JwsSignatureStatus.Invalid;
        }
    }

    private static JwsSignatureStatus VerifyWithKey(CompactJws jws, X509Certificate2 signer)
    {
        var input = jws.SigningInput.Span;
        var signature = jws.Signature.Span;
        using (var rsa = signer.GetRSAPublicKey())
        {
            if (rsa is not null)
            {
                return rsa.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1) ? JwsSignatureStatus.Valid : JwsSignatureStatus.Invalid;
            }
        }

        using var ec = signer.GetECDsaPublicKey();
        if (ec is null)
        {
            return JwsSignatureStatus.Invalid;
        }

        var fieldBytes = (ec.KeySize + 7) / 8;
        var ok = signature.Length == 2 * fieldBytes
            ? ec.VerifyData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            : ec.VerifyData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        return ok ? JwsSignatureStatus.Valid : JwsSignatureStatus.Invalid;
    }
}
