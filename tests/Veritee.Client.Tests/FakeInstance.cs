using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Veritee.TestSupport;

namespace Veritee.Client.Tests;

/// <summary>A signing key of a fake instance: RSA-2048 with a self-signed certificate, and the kid it is published under.</summary>
public sealed class FakeKey : IDisposable
{
    public FakeKey(string instance, string kid)
    {
        Kid = kid;
        Rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=" + instance, Rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        Certificate = request.CreateSelfSigned(DateTimeOffset.UnixEpoch.AddYears(40), DateTimeOffset.UnixEpoch.AddYears(80));
    }

    public string Kid { get; }

    public RSA Rsa { get; }

    public X509Certificate2 Certificate { get; }

    public JsonObject Jwk() => new() { ["x5c"] = new JsonArray(Convert.ToBase64String(Certificate.RawData)), ["kid"] = Kid, ["kty"] = "RSA" };

    public void Dispose()
    {
        Rsa.Dispose();
        Certificate.Dispose();
    }
}

/// <summary>
/// An in-memory MAA instance behind an <see cref="HttpMessageHandler"/>: it publishes <see cref="Keys"/> at /certs and
/// answers every other request with <see cref="Answer"/>. Lets tests hand the client any token, validly signed or not.
/// </summary>
public sealed class FakeInstance : HttpMessageHandler
{
    public const string Url = "https://fake.wus.attest.azure.net";

    public static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1700000000);

    public List<FakeKey> Keys { get; } = [];

    public int CertsRequests { get; private set; }

    public List<HttpRequestMessage> Requests { get; } = [];

    public List<string> Bodies { get; } = [];

    public Func<HttpRequestMessage, (HttpStatusCode Status, string Body)> Answer { get; set; } = _ => (HttpStatusCode.OK, "{}");

    public AttestationClient Client(FixedClock? clock = null) =>
        new(new Uri(Url), new AttestationClientOptions { Handler = this, TimeProvider = clock ?? new FixedClock(Now) });

    public static string B64(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    /// <summary>An RS256 token signed by <paramref name="key"/>, MAA header and claims unless overridden.</summary>
    public static string Token(FakeKey key, string? jku = Url + "/certs", string? kid = null, string iss = Url, long? iat = null, long? exp = null, string? extraHeader = null, string? extraClaims = null)
    {
        var t = iat ?? Now.ToUnixTimeSeconds();
        var header = "{\"alg\":\"RS256\"" + (jku is null ? string.Empty : ",\"jku\":\"" + jku + "\"") + ",\"kid\":\"" + (kid ?? key.Kid) + "\",\"typ\":\"JWT\"" + extraHeader + "}";
        var claims = "{\"exp\":" + (exp ?? t + 28800) + ",\"iat\":" + t + ",\"iss\":\"" + iss + "\",\"nbf\":" + t +
            ",\"x-ms-sgx-is-debuggable\":true,\"x-ms-sgx-mrenclave\":\"aa\",\"x-ms-attestation-type\":\"sgx\"" + extraClaims + "}";
        var input = B64(header) + "." + B64(claims);
        var signature = key.Rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + Base64Url.EncodeToString(signature);
    }

    public static (HttpStatusCode, string) TokenBody(string token) => (HttpStatusCode.OK, "{\"token\":\"" + token + "\"}");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Requests.Add(request);
        Bodies.Add(request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken));
        (HttpStatusCode Status, string Body) answer;
        if (request.RequestUri!.AbsolutePath == "/certs")
        {
            CertsRequests++;
            var keys = new JsonArray();
            foreach (var key in Keys)
            {
                keys.Add(key.Jwk());
            }

            answer = (HttpStatusCode.OK, new JsonObject { ["keys"] = keys }.ToJsonString());
        }
        else
        {
            answer = Answer(request);
        }

        return new HttpResponseMessage(answer.Status) { Content = new StringContent(answer.Body, Encoding.UTF8, "application/json"), RequestMessage = request };
    }
}
