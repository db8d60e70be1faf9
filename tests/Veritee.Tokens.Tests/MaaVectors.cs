using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Veritee.TestSupport;

namespace Veritee.Tokens.Tests;

/// <summary>Paths and helpers for the MAA vectors under tests/vectors/maa.</summary>
internal static class MaaVectors
{
    public static string Root => Path.Combine(Vectors.Directory, "maa");

    public static string Cpp => Path.Combine(Root, "sdk-cpp-2022");

    public static string Isolated => Path.Combine(Root, "sdk-net-2020-isolated");

    public static string Docs => Path.Combine(Root, "policies", "docs");

    public const string SharedWus = "https://sharedwus.wus.attest.azure.net";

    public const string AadWus = "https://cplarryoattestationaad.wus.attest.azure.net";

    public const string EnclaveKid = "XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=";

    public static string GoldenToken => Token("Attestation-AttestationTests.SimpleAttest-SgxEnclave_Shared.1.POST.attest_SgxEnclave.jwt");

    public static string Token(string name) => File.ReadAllText(Path.Combine(Cpp, "tokens", name)).Trim();

    public static string JwksText(string instanceName) => File.ReadAllText(Path.Combine(Cpp, "certs", instanceName + ".certs.json"));

    public static MaaSigningKeys Jwks(string instanceName) => MaaSigningKeys.Parse(JwksText(instanceName));

    /// <summary>The instance name (first DNS label) of an issuer URI.</summary>
    public static string InstanceName(string issuer) => new Uri(issuer).Host.Split('.')[0];

    public static JsonElement Manifest()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Cpp, "manifest.json")));
        return doc.RootElement.Clone();
    }

    public static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string B64(string text) => B64(Encoding.UTF8.GetBytes(text));

    public static byte[] Unb64(string segment)
    {
        var s = segment.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s + new string('=', (4 - (s.Length % 4)) % 4));
    }

    public static string[] Parts(string token) => token.Split('.');

    public static JsonElement Claims(string token) => JsonDocument.Parse(Unb64(Parts(token)[1])).RootElement.Clone();

    public static string HeaderJson(string token) => Encoding.UTF8.GetString(Unb64(Parts(token)[0]));

    /// <summary>The token with its header replaced (payload and signature unchanged).</summary>
    public static string WithHeader(string token, string headerJson)
    {
        var p = Parts(token);
        return B64(headerJson) + "." + p[1] + "." + p[2];
    }

    /// <summary>An RS256 token signed by our own key: header and payload given as JSON text.</summary>
    public static string SignRs256(RSA key, string headerJson, string payloadJson)
    {
        var input = B64(headerJson) + "." + B64(payloadJson);
        var signature = key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + B64(signature);
    }

    public static X509Certificate2 SelfSigned(RSA key, string subject = "CN=Veritee Test Signer")
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    public static X509Certificate2 SelfSigned(ECDsa key, string subject = "CN=Veritee EC Test Signer")
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    /// <summary>A JWKS with one RSA key given by certificate.</summary>
    public static string JwksFor(X509Certificate2 cert, string kid) =>
        $$"""{"keys":[{"x5c":["{{Convert.ToBase64String(cert.RawData)}}"],"kid":"{{kid}}","kty":"RSA"}]}""";
}

/// <summary>A clock fixed at one instant.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;

    public static FixedClock At(long unixSeconds) => new(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));
}
