using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Veritee.Service;

/// <summary>A parsed policy JWS as MAA accepts it on <c>PUT /policies</c> and <c>:reset</c>.</summary>
/// <param name="Jws">The compact JWS exactly as received.</param>
/// <param name="PolicyText">The policy text (null for an empty payload, as reset sends).</param>
/// <param name="Signer">The signing certificate when the JWS is signed and its signature verified.</param>
public sealed record PolicyJws(string Jws, string? PolicyText, X509Certificate2? Signer)
{
    /// <summary>The unsigned JWS MAA returns for a default policy: <c>{"alg":"none"}</c> and <c>{"AttestationPolicy": b64url(text)}</c>.</summary>
    public static string Unsigned(string policyText)
    {
        var payload = new JsonObject { ["AttestationPolicy"] = TokenWriter.Base64Url(Encoding.UTF8.GetBytes(policyText)) };
        return "eyJhbGciOiJub25lIn0." + TokenWriter.Base64Url(CanonicalJson.Serialize(payload)) + ".";
    }

    /// <summary>
    /// Parses a policy JWS body (raw compact JWS, or a JSON string holding one). Signed JWS: the key comes from the
    /// header's <c>x5c</c> (or <c>jwk.x5c</c>) certificate and the algorithm from that key, whatever <c>alg</c> says
    /// (<c>RS256</c>, <c>RSA256</c>, <c>ES256</c>, <c>ECDH256</c> are all seen); the signature must verify.
    /// Unsigned JWS must say <c>alg: none</c> and carry no signature.
    /// </summary>
    public static PolicyJws Parse(string body)
    {
        var jws = body.Trim();
        if (jws.StartsWith('"'))
        {
            try
            {
                jws = JsonSerializer.Deserialize<string>(jws) ?? string.Empty;
            }
            catch (JsonException)
            {
                throw Malformed("the body is neither a JWS nor a JSON string holding one");
            }
        }

        var parts = jws.Split('.');
        if (parts.Length != 3)
        {
            throw Malformed("Malformed JWT: a compact JWS has three parts separated by periods");
        }

        var header = DecodeJson(parts[0], "header") as JsonObject ?? throw Malformed("Malformed JWT: the header is not a JSON object");
        string? text = null;
        if (parts[1].Length > 0)
        {
            var payload = DecodeJson(parts[1], "payload") as JsonObject ?? throw Malformed("Malformed JWT: the payload is not a JSON object");
            if (payload["AttestationPolicy"] is not JsonValue value || !value.TryGetValue<string>(out var encoded))
            {
                throw Malformed("the policy token has no \"AttestationPolicy\" claim");
            }

            text = Encoding.UTF8.GetString(DecodeBase64Url(encoded, "AttestationPolicy"));
        }

        var alg = header["alg"] is JsonValue a && a.TryGetValue<string>(out var s) ? s : null;
        if (string.Equals(alg, "none", StringComparison.Ordinal))
        {
            if (parts[2].Length != 0)
            {
                throw Malformed("an unsigned (alg: none) policy token must have an empty signature");
            }

            return new PolicyJws(jws, text, null);
        }

        var certificate = HeaderCertificate(header);
        var signingInput = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
        var signature = DecodeBase64Url(parts[2], "signature");
        if (!VerifySignature(certificate, signingInput, signature))
        {
            certificate.Dispose();
            throw Malformed("the policy token signature does not verify with the certificate in its header");
        }

        return new PolicyJws(jws, text, certificate);
    }

    /// <summary>The signer's JWK as MAA returns it in <c>x-ms-policy-signer</c>.</summary>
    public static JsonObject SignerJwk(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var rsa = certificate.GetRSAPublicKey();
        var isRsa = rsa is not null;
        rsa?.Dispose();
        return new JsonObject
        {
            ["alg"] = isRsa ? "RS256" : "ES256",
            ["kty"] = isRsa ? "RSA" : "EC",
            ["use"] = "sig",
            ["x5c"] = new JsonArray(Convert.ToBase64String(certificate.RawData)),
        };
    }

    private static X509Certificate2 HeaderCertificate(JsonObject header)
    {
        var x5c = header["x5c"] as JsonArray ?? (header["jwk"] as JsonObject)?["x5c"] as JsonArray;
        if (x5c is null || x5c.Count == 0 || x5c[0] is not JsonValue first || !first.TryGetValue<string>(out var b64))
        {
            throw Malformed("a signed policy token must carry its signing certificate in the header (x5c or jwk.x5c)");
        }

        try
        {
            return X509CertificateLoader.LoadCertificate(Convert.FromBase64String(b64));
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            throw Malformed("the certificate in the policy token header is not a valid X.509 certificate");
        }
    }

    private static bool VerifySignature(X509Certificate2 certificate, byte[] data, byte[] signature)
    {
        using var rsa = certificate.GetRSAPublicKey();
        if (rsa is not null)
        {
            return rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }

        using var ec = certificate.GetECDsaPublicKey();
        return ec is not null && (ec.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation) ||
            ec.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
    }

    private static JsonNode? DecodeJson(string part, string what)
    {
        try
        {
            return JsonNode.Parse(DecodeBase64Url(part, what));
        }
        catch (JsonException)
        {
            throw Malformed($"Malformed JWT: the {what} is not JSON");
        }
    }

    /// <summary>Decodes base64url with or without padding (and tolerates standard base64).</summary>
    public static byte[] DecodeBase64Url(string text, string what)
    {
        ArgumentNullException.ThrowIfNull(text);
        var normal = text.Trim().Replace('-', '+').Replace('_', '/');
        normal = normal.PadRight(normal.Length + ((4 - (normal.Length % 4)) % 4), '=');
        try
        {
            return Convert.FromBase64String(normal);
        }
        catch (FormatException)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"{what} is not valid base64url");
        }
    }

    private static MaaException Malformed(string message) => MaaException.BadRequest(MaaErrorCodes.InvalidOperation, message);
}
