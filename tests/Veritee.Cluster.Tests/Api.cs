using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Veritee.Enclave;

namespace Veritee.Cluster.Tests;

/// <summary>One attestation request: a fresh quote over its own runtime data, and a nonce that names the request.</summary>
public sealed record AttestSample(byte[] Quote, byte[] RuntimeData)
{
    public static AttestSample Create(SimulatedPlatform platform, SimulatedEnclave enclave)
    {
        var runtime = RandomNumberGenerator.GetBytes(48);
        return new AttestSample(platform.Quote(enclave, [.. SHA256.HashData(runtime), .. new byte[32]]), runtime);
    }

    public string Body(string nonce) =>
        "{\"quote\":\"" + System.Buffers.Text.Base64Url.EncodeToString(Quote) + "\",\"runtimeData\":{\"data\":\"" +
        System.Buffers.Text.Base64Url.EncodeToString(RuntimeData) + "\",\"dataType\":\"Binary\"},\"nonce\":\"" + nonce + "\"}";
}

/// <summary>HTTP helpers, and token checks written independently of the product's validator.</summary>
public static class Api
{
    public const string AttestPath = "/attest/SgxEnclave?api-version=2022-08-01";
    public const string PolicyPath = "/policies/SgxEnclave?api-version=2022-08-01";

    public static async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpClient http, HttpMethod method, string url, string? body = null, bool admin = false, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, admin ? "text/plain" : "application/json");
        }

        if (admin)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ClusterFixture.AdminToken);
        }

        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        JsonObject? json = null;
        try
        {
            json = JsonNode.Parse(text) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            // Left null: the caller reports the status.
        }

        return (response.StatusCode, json);
    }

    /// <summary>The unsigned policy JWS of the AAD model (<c>null</c>: the empty payload of a reset).</summary>
    public static string UnsignedPolicyJws(string? policy) => "eyJhbGciOiJub25lIn0." + (policy is null
        ? string.Empty
        : B64(Encoding.UTF8.GetBytes("{\"AttestationPolicy\":\"" + B64(Encoding.UTF8.GetBytes(policy)) + "\"}"))) + ".";

    /// <summary>Sets the SgxEnclave policy through the node or load balancer at <paramref name="baseUrl"/>.</summary>
    public static async Task SetPolicyAsync(HttpClient http, string baseUrl, string policy)
    {
        var (status, body) = await SendAsync(http, HttpMethod.Put, baseUrl + PolicyPath, UnsignedPolicyJws(policy), admin: true);
        Assert.True(status == HttpStatusCode.OK, $"set policy through {baseUrl}: {(int)status} {body}");
    }

    /// <summary>The policy JWS a node returns for SgxEnclave (claim x-ms-policy of its signed answer).</summary>
    public static async Task<string> GetPolicyJwsAsync(HttpClient http, string baseUrl)
    {
        var (status, body) = await SendAsync(http, HttpMethod.Get, baseUrl + PolicyPath, admin: true);
        Assert.True(status == HttpStatusCode.OK, $"get policy through {baseUrl}: {(int)status} {body}");
        return Claims(body!["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>();
    }

    public static string B64(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    public static JsonObject Header(string jwt) => (JsonObject)JsonNode.Parse(Decode(jwt.Split('.')[0]))!;

    public static JsonObject Claims(string jwt) => (JsonObject)JsonNode.Parse(Decode(jwt.Split('.')[1]))!;

    public static byte[] Decode(string part) => System.Buffers.Text.Base64Url.DecodeFromChars(part);

    /// <summary>
    /// Null when <paramref name="token"/> is an RS256 JWT signed by the JWKS key its kid names, issued by
    /// <paramref name="issuer"/> (jku = issuer/certs), unexpired; otherwise why not.
    /// </summary>
    public static string? SignatureProblem(string token, JsonObject jwks, string issuer)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return "not a compact JWS";
        }

        var header = Header(token);
        if (header["alg"]?.GetValue<string>() != "RS256")
        {
            return "alg " + header["alg"];
        }

        if (header["jku"]?.GetValue<string>() != issuer + "/certs")
        {
            return "jku " + header["jku"];
        }

        var kid = header["kid"]?.GetValue<string>();
        var jwk = jwks["keys"]!.AsArray().SingleOrDefault(k => k!["kid"]!.GetValue<string>() == kid);
        if (jwk is null)
        {
            return "unknown kid " + kid;
        }

        using var cert = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(jwk["x5c"]![0]!.GetValue<string>()));
        using var rsa = cert.GetRSAPublicKey()!;
        if (!rsa.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Decode(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
        {
            return "signature does not verify";
        }

        var claims = Claims(token);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return claims["iss"]?.GetValue<string>() != issuer ? "iss " + claims["iss"]
            : claims["exp"]!.GetValue<long>() <= now ? "expired"
            : claims["nbf"]!.GetValue<long>() > now + 60 ? "not yet valid"
            : null;
    }

    /// <summary>
    /// Null when an attestation token is right for the request that got it: signature as in <see cref="SignatureProblem"/>,
    /// the request's nonce, its runtime data as x-ms-sgx-ehd, the quote's report data, and the enclave's identity.
    /// </summary>
    public static string? AttestationProblem(string token, JsonObject jwks, string issuer, AttestSample sample, string nonce, SimulatedEnclave enclave)
    {
        if (SignatureProblem(token, jwks, issuer) is { } problem)
        {
            return problem;
        }

        var c = Claims(token);
        string? S(string name) => c[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        long? N(string name) => c[name] is JsonValue v && v.TryGetValue<long>(out var n) ? n : null;
        return S("nonce") != nonce ? $"nonce {S("nonce")} for request {nonce}"
            : S("x-ms-sgx-ehd") != B64(sample.RuntimeData) ? "x-ms-sgx-ehd is not the request's runtime data"
            : S("x-ms-sgx-report-data") != Convert.ToHexStringLower([.. SHA256.HashData(sample.RuntimeData), .. new byte[32]]) ? "x-ms-sgx-report-data"
            : S("x-ms-sgx-mrenclave") != Convert.ToHexStringLower(enclave.MrEnclave) ? "x-ms-sgx-mrenclave"
            : S("x-ms-sgx-mrsigner") != Convert.ToHexStringLower(enclave.MrSigner) ? "x-ms-sgx-mrsigner"
            : N("x-ms-sgx-product-id") != enclave.ProductId ? "x-ms-sgx-product-id"
            : N("x-ms-sgx-svn") != enclave.SecurityVersion ? "x-ms-sgx-svn"
            : c["x-ms-sgx-is-debuggable"]?.GetValue<bool>() != false ? "x-ms-sgx-is-debuggable"
            : c["veritee-simulated"]?.GetValue<bool>() != true ? "veritee-simulated"
            : null;
    }
}
