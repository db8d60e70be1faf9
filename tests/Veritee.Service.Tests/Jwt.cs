using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Veritee.Service.Tests;

/// <summary>Minimal JWT reading for assertions (the product's validator lives elsewhere).</summary>
internal static class Jwt
{
    public static string HeaderText(string jwt) => Encoding.UTF8.GetString(Decode(jwt.Split('.')[0]));

    public static JsonObject Header(string jwt) => (JsonObject)JsonNode.Parse(HeaderText(jwt))!;

    public static JsonObject Claims(string jwt) => (JsonObject)JsonNode.Parse(Decode(jwt.Split('.')[1]))!;

    public static byte[] Decode(string part) => Convert.FromBase64String(part.Replace('-', '+').Replace('_', '/').PadRight(part.Length + ((4 - (part.Length % 4)) % 4), '='));

    /// <summary>True when the RS256 signature verifies with the key of the JWKS entry whose kid matches.</summary>
    public static bool VerifiesWith(string jwt, JsonObject jwks)
    {
        var kid = Header(jwt)["kid"]!.GetValue<string>();
        var jwk = jwks["keys"]!.AsArray().Single(k => k!["kid"]!.GetValue<string>() == kid)!;
        using var cert = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(jwk["x5c"]![0]!.GetValue<string>()));
        using var rsa = cert.GetRSAPublicKey()!;
        var parts = jwt.Split('.');
        return rsa.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Decode(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }
}
