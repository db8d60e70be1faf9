using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Veritee.Enclave;
using Veritee.Policy;
using Veritee.Tokens;

namespace Veritee.Service.Tests;

/// <summary>Worst-case policies from issue 10: n rules that each double a claim set, and a string doubled by AppendString.</summary>
internal static class WorstCasePolicies
{
    public static string Doubling(int n)
    {
        var text = new StringBuilder("version=1.0; authorizationrules { => permit(); }; issuancerules {\n");
        for (var i = 0; i < n; i++)
        {
            text.Append("  c:[type==\"x-ms-sgx-mrsigner\"] => add(type=\"x-ms-sgx-mrsigner\", value=c.value);\n");
        }

        return text.Append("};\n").ToString();
    }

    public static string StringDoubling(int n)
    {
        var text = new StringBuilder("version=1.2; authorizationrules { => permit(); }; issuancerules {\n  => add(type=\"s0\", value=\"0123456789abcdef\");\n");
        for (var i = 0; i < n; i++)
        {
            text.Append($"  c:[type==\"s{i}\"] => add(type=\"s{i + 1}\", value=AppendString(c.value, c.value));\n");
        }

        return text.Append("};\n").ToString();
    }

    public static string DraftBody(string policy) =>
        "{\"quote\":\"" + System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"))) +
        "\",\"draftPolicyForAttestation\":" + System.Text.Json.JsonSerializer.Serialize(policy) + "}";

    public static string Message(System.Text.Json.Nodes.JsonObject body) => body["error"]!["message"]!.GetValue<string>();

    public static string Code(System.Text.Json.Nodes.JsonObject body) => body["error"]!["code"]!.GetValue<string>();
}

/// <summary>Draft policies that would take gigabytes are stopped by the evaluation budget: 400 naming the limit.</summary>
public sealed class DraftPolicyBudgetTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private const string Attest = "/attest/SgxEnclave?api-version=2022-08-01";

    [Fact]
    public async Task The_claim_doubling_draft_gets_400_PolicyEvaluationError_naming_the_limit()
    {
        // The 11th doubling (2,048 claims) crosses the 2,000-claim limit, on line 12.
        var (status, body) = await service.Send(HttpMethod.Post, Attest, WorstCasePolicies.DraftBody(WorstCasePolicies.Doubling(24)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("PolicyEvaluationError", WorstCasePolicies.Code(body));
        Assert.Contains("exceeded the limit MaxClaims = 2000 (claims in the working set) at the rule at line 12", WorstCasePolicies.Message(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_string_doubling_draft_gets_400_PolicyEvaluationError_naming_MaxStringLength()
    {
        var (status, body) = await service.Send(HttpMethod.Post, Attest, WorstCasePolicies.DraftBody(WorstCasePolicies.StringDoubling(40)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("PolicyEvaluationError", WorstCasePolicies.Code(body));
        Assert.Contains("MaxStringLength = 32768", WorstCasePolicies.Message(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Three_doubling_drafts_at_once_all_get_400_and_the_service_still_attests()
    {
        var body = WorstCasePolicies.DraftBody(WorstCasePolicies.Doubling(24));
        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => service.Send(HttpMethod.Post, Attest, body)));
        Assert.All(results, r => Assert.Equal((HttpStatusCode.BadRequest, "PolicyEvaluationError"), (r.Status, WorstCasePolicies.Code(r.Body))));
        var (status, _) = await service.Send(HttpMethod.Post, Attest, WorstCasePolicies.DraftBody("version=1.0; authorizationrules { => permit(); };"));
        Assert.Equal(HttpStatusCode.OK, status);
    }
}

/// <summary>A stored policy is held to the same budget as a draft.</summary>
public sealed class StoredPolicyBudgetTests : IAsyncLifetime
{
    private readonly ServiceFixture _service = new();

    public Task InitializeAsync() => _service.InitializeAsync();

    public Task DisposeAsync() => _service.DisposeAsync();

    [Fact]
    public async Task A_stored_doubling_policy_gets_400_PolicyEvaluationError_naming_the_limit()
    {
        var (set, _) = await _service.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2022-08-01", PolicyJws.CreateUnsigned(WorstCasePolicies.Doubling(24)), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.OK, set);
        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        var (status, body) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + quote + "\"}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("PolicyEvaluationError", WorstCasePolicies.Code(body));
        Assert.Contains("MaxClaims = 2000", WorstCasePolicies.Message(body), StringComparison.Ordinal);
    }
}

/// <summary><c>serve --draft-policy off</c> and configured limits.</summary>
public sealed class DraftPolicyOffTests : IAsyncLifetime
{
    private readonly Node _service = new();

    private sealed class Node : ServiceFixture
    {
        protected override ServiceOptions Configure(ServiceOptions options) =>
            options with { AllowDraftPolicy = false, PolicyLimits = new PolicyEvaluationLimits { MaxSteps = 50 } };
    }

    public Task InitializeAsync() => _service.InitializeAsync();

    public Task DisposeAsync() => _service.DisposeAsync();

    [Fact]
    public async Task A_draft_is_refused_with_a_clear_400_and_the_stored_policy_still_works()
    {
        var (status, body) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", WorstCasePolicies.DraftBody("version=1.0; authorizationrules { => permit(); };"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", WorstCasePolicies.Code(body));
        Assert.Contains("draftPolicyForAttestation is disabled", WorstCasePolicies.Message(body), StringComparison.Ordinal);

        // The default policy's evaluation needs more than 50 steps: the configured limit applies to stored policies.
        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        var (stored, error) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + quote + "\"}");
        Assert.Equal(HttpStatusCode.BadRequest, stored);
        Assert.Contains("MaxSteps = 50", WorstCasePolicies.Message(error), StringComparison.Ordinal);
    }
}

/// <summary>Tokens stay within the one documented maximum, which Veritee's own validator accepts.</summary>
public sealed class TokenSizeTests : SimulatedServiceTests
{
    private async Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonObject Body)> AttestWith(SimulatedPlatform platform, SimulatedEnclave enclave, int size)
    {
        var ehd = new byte[size];
        RandomNumberGenerator.Fill(ehd);
        var quote = platform.Quote(enclave, [.. SHA256.HashData(ehd), .. new byte[32]]);
        return await PostAttest("{\"quote\":\"" + System.Buffers.Text.Base64Url.EncodeToString(quote) + "\",\"runtimeData\":{\"data\":\"" +
            System.Buffers.Text.Base64Url.EncodeToString(ehd) + "\",\"dataType\":\"Binary\"}}");
    }

    [Fact]
    public async Task Too_much_runtime_data_is_400_and_the_largest_token_validates()
    {
        using var platform = SimulatedPlatform.Load(PlatformFolder);
        var enclave = new SimulatedEnclave { MrEnclave = SimulatedEnclave.MeasureName("token-size"), MrSigner = SimulatedEnclave.MrSignerOf(platform.EnclaveSignerKey) };

        // 250 KB of binary runtime data: about 1.3 MB of token, over the maximum.
        var (status, body) = await AttestWith(platform, enclave, 250_000);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", WorstCasePolicies.Code(body));
        Assert.Contains($"maximum token size of {MaaTokenValidator.MaxTokenLength} bytes", WorstCasePolicies.Message(body), StringComparison.Ordinal);

        // The largest runtime data that still gets a token (found by bisection) gives a token at the maximum.
        int low = 100_000, high = 250_000;
        string? largest = null;
        while (high - low > 1)
        {
            var middle = (low + high) / 2;
            var (s, b) = await AttestWith(platform, enclave, middle);
            if (s == HttpStatusCode.OK)
            {
                low = middle;
                largest = b["token"]!.GetValue<string>();
            }
            else
            {
                Assert.Equal(HttpStatusCode.BadRequest, s);
                high = middle;
            }
        }

        Assert.NotNull(largest);
        Assert.InRange(largest.Length, MaaTokenValidator.MaxTokenLength - 10, MaaTokenValidator.MaxTokenLength);
        using var http = new HttpClient();
        var keys = MaaSigningKeys.Parse(await http.GetStringAsync(Url + "/certs"));
        var result = await new MaaTokenValidator(keys, new MaaTokenValidationOptions { Issuer = Url }).ValidateAsync(largest);
        Assert.True(result.IsValid, result.Message);
    }
}

/// <summary>Management authenticates before it parses, and refuses signer keys outside sane bounds before any signature math.</summary>
public sealed class ManagementOrderTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private const string Path = "/policies/SgxEnclave?api-version=2022-08-01";

    /// <summary>A certificate carrying an arbitrary RSA public key (modulus and exponent), issued by a throwaway key.</summary>
    private static X509Certificate2 CertificateWithRsaKey(byte[] modulus, byte[] exponent)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteIntegerUnsigned(modulus);
            writer.WriteIntegerUnsigned(exponent);
        }

        var key = new PublicKey(new Oid("1.2.840.113549.1.1.1"), new AsnEncodedData([0x05, 0x00]), new AsnEncodedData(writer.Encode()));
        using var issuer = RSA.Create(2048);
        var request = new CertificateRequest(new X500DistinguishedName("CN=odd key"), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return request.Create(new X500DistinguishedName("CN=issuer"), X509SignatureGenerator.CreateForRSA(issuer, RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3]);
    }

    private static string SignedLookingJws(X509Certificate2 certificate, int signatureBytes)
    {
        static string B64(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
        var header = "{\"alg\":\"RS256\",\"x5c\":[\"" + Convert.ToBase64String(certificate.RawData) + "\"]}";
        var payload = "{\"AttestationPolicy\":\"" + B64(Encoding.UTF8.GetBytes("version=1.0; authorizationrules { => permit(); };")) + "\"}";
        return B64(Encoding.UTF8.GetBytes(header)) + "." + B64(Encoding.UTF8.GetBytes(payload)) + "." + B64(RandomNumberGenerator.GetBytes(signatureBytes));
    }

    private static byte[] OddNumber(int bits)
    {
        var bytes = RandomNumberGenerator.GetBytes(bits / 8);
        bytes[0] |= 0x80;
        bytes[^1] |= 1;
        return bytes;
    }

    [Theory]
    [InlineData("not a jws at all")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.e30.AAAA")]
    public async Task A_malformed_body_without_a_bearer_is_401_not_400(string body)
    {
        // Before: the JWS was parsed first, so this was 400 InvalidOperation.
        var (status, response) = await service.Send(HttpMethod.Put, Path, body, "text/plain");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Unauthorized", WorstCasePolicies.Code(response));
        var (reset, _) = await service.Send(HttpMethod.Post, "/policies/SgxEnclave:reset?api-version=2022-08-01", body, "text/plain");
        Assert.Equal(HttpStatusCode.Unauthorized, reset);
        var (add, _) = await service.Send(HttpMethod.Post, "/certificates:add?api-version=2022-08-01", body, "text/plain");
        Assert.Equal(HttpStatusCode.Unauthorized, add);
    }

    [Fact]
    public async Task A_huge_exponent_key_gets_401_without_a_bearer_and_is_refused_before_verification_with_one()
    {
        using var cert = CertificateWithRsaKey(OddNumber(3072), OddNumber(3072));
        var jws = SignedLookingJws(cert, 384);
        var (status, _) = await service.Send(HttpMethod.Put, Path, jws, "text/plain");
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        // Authenticated: refused for its exponent (before: "the token signature does not verify", after the RSA work).
        var (refused, body) = await service.Send(HttpMethod.Put, Path, jws, "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Contains("public exponent is not an odd number from 3 to 2^32-1", WorstCasePolicies.Message(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(8192)]
    public async Task Rsa_signer_keys_outside_2048_to_4096_bits_are_refused(int bits)
    {
        using var cert = CertificateWithRsaKey(OddNumber(bits), [0x01, 0x00, 0x01]);
        var (status, body) = await service.Send(HttpMethod.Put, Path, SignedLookingJws(cert, bits / 8), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains($"RSA key has {bits} bits; policy signer keys must have 2048 to 4096 bits", WorstCasePolicies.Message(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ec_signer_keys_off_P256_and_P384_are_refused()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        var request = new CertificateRequest("CN=p521", ec, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var signer = JwsSigningKey.Create(ec, X509CertificateLoader.LoadCertificate(cert.RawData));
        var jws = PolicyJws.CreateSigned("version=1.0; authorizationrules { => permit(); };", signer);
        var (status, body) = await service.Send(HttpMethod.Put, Path, jws, "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("must be on P-256 or P-384", WorstCasePolicies.Message(body), StringComparison.Ordinal);
    }
}

/// <summary>A request timeout cancels a running evaluation (the 503 is written only once the handler has stopped).</summary>
public sealed class PolicyTimeoutTests : IAsyncLifetime
{
    private readonly Node _service = new();

    private sealed class Node : ServiceFixture
    {
        // No step or size limit: only the timeout can stop the evaluation.
        protected override ServiceOptions Configure(ServiceOptions options) => options with
        {
            RequestTimeout = TimeSpan.FromSeconds(1),
            PolicyLimits = new PolicyEvaluationLimits { MaxClaims = int.MaxValue, MaxClaimBytes = long.MaxValue, MaxSteps = long.MaxValue },
        };
    }

    public Task InitializeAsync() => _service.InitializeAsync();

    public Task DisposeAsync() => _service.DisposeAsync();

    [Fact]
    public async Task An_evaluation_that_would_run_for_minutes_is_cancelled_and_answered_503()
    {
        // 2^17 mrsigner claims, then 4,000 rules that each scan them all: about 4.5 ms a rule on an idle 2-core
        // machine, so ~18 s in all — far beyond the 1 s timeout on any machine (2^13 claims and 2,000 rules, the first
        // version, finished in 0.5 s when the machine was idle).
        var text = new StringBuilder("version=1.1; configurationrules {\n");
        for (var i = 0; i < 17; i++)
        {
            text.Append("c:[type==\"x-ms-sgx-mrsigner\"] => add(type=\"x-ms-sgx-mrsigner\", value=c.value);\n");
        }

        text.Append("};\nauthorizationrules {\n");
        for (var i = 0; i < 4000; i++)
        {
            text.Append("c1:[type==\"x-ms-sgx-mrsigner\"] && [type==\"x-ms-sgx-mrsigner\", value!=c1.value] => deny();\n");
        }

        text.Append("=> permit();\n};\n");
        _service.Http.Timeout = TimeSpan.FromMinutes(2);
        var (status, body) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", WorstCasePolicies.DraftBody(text.ToString()));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("RequestTimeout", WorstCasePolicies.Code(body));
    }
}
