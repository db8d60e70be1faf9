using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Veritee.Tokens.Tests;

public class MaaTokenValidatorTests
{
    private static readonly string Golden = MaaVectors.GoldenToken;
    private static readonly long GoldenIat = MaaVectors.Claims(Golden).GetProperty("iat").GetInt64();
    private static readonly long GoldenExp = MaaVectors.Claims(Golden).GetProperty("exp").GetInt64();

    private static MaaTokenValidationResult Validate(
        string token,
        long at,
        string issuer = MaaVectors.SharedWus,
        string? instance = MaaVectors.SharedWus,
        MaaSigningKeys? keys = null,
        TimeSpan? skew = null,
        string? certIssuer = null)
    {
        var options = new MaaTokenValidationOptions
        {
            Issuer = issuer,
            Instance = instance,
            ClockSkew = skew ?? TimeSpan.FromSeconds(10),
            SigningCertificateIssuer = certIssuer,
            TimeProvider = FixedClock.At(at),
        };
        return new MaaTokenValidator(keys ?? MaaVectors.Jwks("sharedwus"), options).Validate(token);
    }

    public static TheoryData<string> SignedVectorTokens()
    {
        var data = new TheoryData<string>();
        foreach (var t in MaaVectors.Manifest().GetProperty("tokens").EnumerateArray())
        {
            if (t.GetProperty("signature").GetString() == "verified")
            {
                data.Add(Path.GetFileName(t.GetProperty("file").GetString()!));
            }
        }

        return data;
    }

    public static TheoryData<string> UnsignedVectorTokens()
    {
        var data = new TheoryData<string>();
        foreach (var t in MaaVectors.Manifest().GetProperty("tokens").EnumerateArray())
        {
            if (t.GetProperty("signature").GetString()!.StartsWith("unsigned", StringComparison.Ordinal))
            {
                data.Add(Path.GetFileName(t.GetProperty("file").GetString()!));
            }
        }

        return data;
    }

    [Fact]
    public void The_manifest_lists_54_signed_and_6_unsigned_tokens()
    {
        Assert.Equal(54, SignedVectorTokens().Count);
        Assert.Equal(6, UnsignedVectorTokens().Count);
    }

    [Theory]
    [MemberData(nameof(SignedVectorTokens))]
    public void Every_signed_real_token_validates_against_its_instance_jwks_with_time_pinned(string file)
    {
        var token = MaaVectors.Token(file);
        var claims = MaaVectors.Claims(token);
        var iss = claims.GetProperty("iss").GetString()!;
        var result = Validate(token, claims.GetProperty("iat").GetInt64() + 60, iss, iss, MaaVectors.Jwks(MaaVectors.InstanceName(iss)));
        Assert.True(result.IsValid, result.Failure + ": " + result.Message);
        Assert.Equal(MaaTokenFailure.None, result.Failure);
        Assert.Equal(MaaVectors.EnclaveKid, result.Kid);
        Assert.Equal(iss, result.Claims!.Value.GetProperty("iss").GetString());
        Assert.Equal("CN=" + iss, result.SigningKey!.Certificate!.Subject);
    }

    [Theory]
    [MemberData(nameof(UnsignedVectorTokens))]
    public void Real_draft_policy_tokens_with_alg_none_are_refused(string file)
    {
        var token = MaaVectors.Token(file);
        var claims = MaaVectors.Claims(token);
        var iss = claims.GetProperty("iss").GetString()!;
        var result = Validate(token, claims.GetProperty("iat").GetInt64() + 60, iss, iss, MaaVectors.Jwks(MaaVectors.InstanceName(iss)));
        Assert.Equal(MaaTokenFailure.AlgorithmNotAllowed, result.Failure);
        Assert.Null(result.Claims);
    }

    [Fact]
    public void Golden_token_is_valid_and_exposes_its_claims()
    {
        var result = Validate(Golden, GoldenIat);
        Assert.True(result.IsValid, result.Message);
        var mrenclave = result.Claims!.Value.GetProperty("x-ms-sgx-mrenclave").GetString()!;
        Assert.StartsWith("292a1f4b", mrenclave, StringComparison.Ordinal);
        Assert.EndsWith("850e", mrenclave, StringComparison.Ordinal);
        Assert.True(result.Claims!.Value.GetProperty("x-ms-sgx-is-debuggable").GetBoolean());
    }

    [Fact]
    public void Every_single_signature_byte_flip_is_a_bad_signature()
    {
        var parts = MaaVectors.Parts(Golden);
        var signature = MaaVectors.Unb64(parts[2]);
        for (var i = 0; i < signature.Length; i += 17)
        {
            var copy = (byte[])signature.Clone();
            copy[i] ^= 0x01;
            var result = Validate(parts[0] + "." + parts[1] + "." + MaaVectors.B64(copy), GoldenIat);
            Assert.Equal(MaaTokenFailure.BadSignature, result.Failure);
        }
    }

    [Fact]
    public void A_changed_claim_is_a_bad_signature()
    {
        var parts = MaaVectors.Parts(Golden);
        var payload = Encoding.UTF8.GetString(MaaVectors.Unb64(parts[1])).Replace("\"x-ms-sgx-is-debuggable\":true", "\"x-ms-sgx-is-debuggable\":false", StringComparison.Ordinal);
        Assert.Contains("\"x-ms-sgx-is-debuggable\":false", payload, StringComparison.Ordinal);
        var result = Validate(parts[0] + "." + MaaVectors.B64(payload) + "." + parts[2], GoldenIat);
        Assert.Equal(MaaTokenFailure.BadSignature, result.Failure);
    }

    [Fact]
    public void Header_jku_swapped_to_another_host_is_a_jku_mismatch()
    {
        var header = MaaVectors.HeaderJson(Golden).Replace("https://sharedwus.wus.attest.azure.net/certs", "https://evil.example.net/certs", StringComparison.Ordinal);
        var result = Validate(MaaVectors.WithHeader(Golden, header), GoldenIat);
        Assert.Equal(MaaTokenFailure.JkuMismatch, result.Failure);
        Assert.Contains("evil.example.net", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_jku_of_another_real_instance_is_a_jku_mismatch_when_the_instance_is_pinned()
    {
        // An AAD-instance token checked by a relying party pinned to sharedwus: same keys, different instance.
        var token = MaaVectors.Token("Attestation-AttestationTests.SimpleAttest-SgxEnclave_Aad.1.POST.attest_SgxEnclave.jwt");
        var iat = MaaVectors.Claims(token).GetProperty("iat").GetInt64();
        Assert.Equal(MaaTokenFailure.JkuMismatch, Validate(token, iat).Failure);
    }

    [Fact]
    public void Instances_share_keys_so_without_the_jku_pin_the_issuer_pin_still_refuses_another_instance()
    {
        var token = MaaVectors.Token("Attestation-AttestationTests.SimpleAttest-SgxEnclave_Aad.1.POST.attest_SgxEnclave.jwt");
        var iat = MaaVectors.Claims(token).GetProperty("iat").GetInt64();
        var result = Validate(token, iat, instance: null);
        Assert.Equal(MaaTokenFailure.IssuerMismatch, result.Failure);
        Assert.Contains(MaaVectors.AadWus, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_pinned_issuer_is_an_issuer_mismatch()
    {
        var result = Validate(Golden, GoldenIat, issuer: MaaVectors.AadWus);
        Assert.Equal(MaaTokenFailure.IssuerMismatch, result.Failure);
        Assert.Equal(MaaTokenFailure.IssuerMismatch, Validate(Golden, GoldenIat, issuer: MaaVectors.SharedWus + "/").Failure);
    }

    [Fact]
    public void Without_a_pinned_instance_a_swapped_jku_is_never_followed_and_the_signature_fails()
    {
        var header = MaaVectors.HeaderJson(Golden).Replace("sharedwus.wus.attest.azure.net", "evil.example.net", StringComparison.Ordinal);
        Assert.Equal(MaaTokenFailure.BadSignature, Validate(MaaVectors.WithHeader(Golden, header), GoldenIat, instance: null).Failure);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("None")]
    [InlineData("NONE")]
    [InlineData("HS256")]
    [InlineData("HS512")]
    [InlineData("ES256")]
    [InlineData("PS256")]
    [InlineData("RSA256")]
    [InlineData("rs256")]
    [InlineData("")]
    public void Any_alg_but_RS256_is_not_allowed(string alg)
    {
        var header = MaaVectors.HeaderJson(Golden).Replace("\"alg\":\"RS256\"", $"\"alg\":\"{alg}\"", StringComparison.Ordinal);
        var result = Validate(MaaVectors.WithHeader(Golden, header), GoldenIat);
        Assert.Equal(MaaTokenFailure.AlgorithmNotAllowed, result.Failure);
    }

    [Fact]
    public void Alg_absent_is_not_allowed()
    {
        var header = $$"""{"jku":"{{MaaVectors.SharedWus}}/certs","kid":"{{MaaVectors.EnclaveKid}}","typ":"JWT"}""";
        Assert.Equal(MaaTokenFailure.AlgorithmNotAllowed, Validate(MaaVectors.WithHeader(Golden, header), GoldenIat).Failure);
    }

    [Fact]
    public void Alg_none_with_an_empty_signature_is_not_allowed()
    {
        var header = MaaVectors.HeaderJson(Golden).Replace("\"alg\":\"RS256\"", "\"alg\":\"none\"", StringComparison.Ordinal);
        var parts = MaaVectors.Parts(Golden);
        var result = Validate(MaaVectors.B64(header) + "." + parts[1] + ".", GoldenIat);
        Assert.Equal(MaaTokenFailure.AlgorithmNotAllowed, result.Failure);
        Assert.Null(result.Claims);
    }

    public static TheoryData<string> PublicKeyEncodings() => ["spki-der", "cert-der", "spki-pem", "cert-b64", "modulus"];

    [Theory]
    [MemberData(nameof(PublicKeyEncodings))]
    public void Alg_HS256_keyed_with_the_rsa_public_key_is_not_allowed(string encoding)
    {
        var key = MaaVectors.Jwks("sharedwus").Keys[0];
        using var rsa = RSA.Create(key.RsaPublicKey!.Value);
        var secret = encoding switch
        {
            "spki-der" => rsa.ExportSubjectPublicKeyInfo(),
            "cert-der" => key.Certificate!.RawData,
            "spki-pem" => Encoding.ASCII.GetBytes(rsa.ExportSubjectPublicKeyInfoPem()),
            "cert-b64" => Encoding.ASCII.GetBytes(Convert.ToBase64String(key.Certificate!.RawData)),
            _ => key.RsaPublicKey!.Value.Modulus!,
        };
        var header = MaaVectors.HeaderJson(Golden).Replace("\"alg\":\"RS256\"", "\"alg\":\"HS256\"", StringComparison.Ordinal);
        var input = MaaVectors.B64(header) + "." + MaaVectors.Parts(Golden)[1];
        var forged = input + "." + MaaVectors.B64(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));
        Assert.Equal(MaaTokenFailure.AlgorithmNotAllowed, Validate(forged, GoldenIat).Failure);
    }

    [Fact]
    public void Expired_and_not_yet_valid_are_named_and_the_skew_is_honoured()
    {
        var nbf = MaaVectors.Claims(Golden).GetProperty("nbf").GetInt64();
        Assert.True(Validate(Golden, GoldenExp + 10).IsValid);
        var expired = Validate(Golden, GoldenExp + 11);
        Assert.Equal(MaaTokenFailure.Expired, expired.Failure);
        Assert.Contains("2022-06-01T06:47:56Z", expired.Message, StringComparison.Ordinal);
        Assert.Equal(MaaTokenFailure.Expired, Validate(Golden, GoldenExp + 1, skew: TimeSpan.Zero).Failure);
        Assert.True(Validate(Golden, GoldenExp + 299, skew: TimeSpan.FromMinutes(5)).IsValid);
        Assert.True(Validate(Golden, nbf - 10).IsValid);
        Assert.Equal(MaaTokenFailure.NotYetValid, Validate(Golden, nbf - 11).Failure);
        Assert.Equal(MaaTokenFailure.NotYetValid, Validate(Golden, nbf - 1, skew: TimeSpan.Zero).Failure);
    }

    [Fact]
    public void The_real_clock_finds_the_2022_token_expired()
    {
        var options = new MaaTokenValidationOptions { Issuer = MaaVectors.SharedWus, Instance = MaaVectors.SharedWus };
        Assert.Equal(MaaTokenFailure.Expired, new MaaTokenValidator(MaaVectors.Jwks("sharedwus"), options).Validate(Golden).Failure);
    }

    [Fact]
    public void Unknown_kid_is_named_so_the_caller_can_refresh()
    {
        var header = MaaVectors.HeaderJson(Golden).Replace(MaaVectors.EnclaveKid, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", StringComparison.Ordinal);
        var result = Validate(MaaVectors.WithHeader(Golden, header), GoldenIat);
        Assert.Equal(MaaTokenFailure.UnknownKid, result.Failure);
        Assert.Equal("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", result.Kid);

        // The kid is compared exactly: the base64url spelling of the same bytes is another kid.
        var urlKid = MaaVectors.EnclaveKid.Replace('+', '-').Replace('/', '_').TrimEnd('=');
        Assert.Equal(MaaTokenFailure.UnknownKid, Validate(MaaVectors.WithHeader(Golden, MaaVectors.HeaderJson(Golden).Replace(MaaVectors.EnclaveKid, urlKid, StringComparison.Ordinal)), GoldenIat).Failure);
    }

    [Fact]
    public void A_jwks_without_the_signing_key_gives_unknown_kid_and_refreshing_it_fixes_that()
    {
        using var doc = JsonDocument.Parse(MaaVectors.JwksText("sharedwus"));
        var others = doc.RootElement.GetProperty("keys").EnumerateArray().Where(k => k.GetProperty("kid").GetString() != MaaVectors.EnclaveKid).Select(k => k.GetRawText());
        var stale = MaaSigningKeys.Parse("{\"keys\":[" + string.Join(",", others) + "]}");
        Assert.Equal(2, stale.Keys.Count);
        Assert.Equal(MaaTokenFailure.UnknownKid, Validate(Golden, GoldenIat, keys: stale).Failure);
        Assert.True(Validate(Golden, GoldenIat, keys: MaaVectors.Jwks("sharedwus")).IsValid);
    }

    [Fact]
    public void Missing_kid_is_unknown_kid_and_header_keys_are_never_used()
    {
        using var attacker = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(attacker, "CN=" + MaaVectors.SharedWus);
        var x5c = Convert.ToBase64String(cert.RawData);
        var payload = Encoding.UTF8.GetString(MaaVectors.Unb64(MaaVectors.Parts(Golden)[1])).Replace("\"x-ms-sgx-is-debuggable\":true", "\"x-ms-sgx-is-debuggable\":false", StringComparison.Ordinal);

        // No kid, the attacker's certificate in x5c and jwk: the keys in the header are not candidates.
        var noKid = MaaVectors.SignRs256(attacker, $$$"""{"alg":"RS256","jku":"{{{MaaVectors.SharedWus}}}/certs","typ":"JWT","x5c":["{{{x5c}}}"],"jwk":{"kty":"RSA","x5c":["{{{x5c}}}"]}}""", payload);
        Assert.Equal(MaaTokenFailure.UnknownKid, Validate(noKid, GoldenIat).Failure);

        // The real kid with the attacker's signature and certificate: the pinned key decides.
        var realKid = MaaVectors.SignRs256(attacker, $$"""{"alg":"RS256","jku":"{{MaaVectors.SharedWus}}/certs","kid":"{{MaaVectors.EnclaveKid}}","typ":"JWT","x5c":["{{x5c}}"]}""", payload);
        Assert.Equal(MaaTokenFailure.BadSignature, Validate(realKid, GoldenIat).Failure);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d.e")]
    [InlineData("..")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.e30.===")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9=.e30.AAAA")]
    [InlineData("bm90IGpzb24.e30.AAAA")]
    [InlineData("WzFd.e30.AAAA")]
    public void Malformed_input_is_named_malformed(string token)
    {
        Assert.Equal(MaaTokenFailure.Malformed, Validate(token, GoldenIat).Failure);
    }

    [Fact]
    public void Duplicate_header_members_and_crit_are_malformed()
    {
        var duplicate = MaaVectors.HeaderJson(Golden).Replace("{\"alg\":\"RS256\",", "{\"alg\":\"none\",\"alg\":\"RS256\",", StringComparison.Ordinal);
        Assert.Equal(MaaTokenFailure.Malformed, Validate(MaaVectors.WithHeader(Golden, duplicate), GoldenIat).Failure);
        var crit = MaaVectors.HeaderJson(Golden).Replace("\"typ\":\"JWT\"", "\"typ\":\"JWT\",\"crit\":[\"exp\"]", StringComparison.Ordinal);
        Assert.Equal(MaaTokenFailure.Malformed, Validate(MaaVectors.WithHeader(Golden, crit), GoldenIat).Failure);
    }

    [Fact]
    public void Duplicate_claims_are_malformed_even_when_signed_by_the_pinned_key()
    {
        using var key = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(key);
        var keys = MaaSigningKeys.Parse(MaaVectors.JwksFor(cert, "k1"));
        var token = MaaVectors.SignRs256(key, """{"alg":"RS256","kid":"k1"}""", """{"iss":"https://evil","iss":"https://good","exp":2000000000}""");
        Assert.Equal(MaaTokenFailure.Malformed, Validate(token, 1_900_000_000, issuer: "https://good", instance: null, keys: keys).Failure);
    }

    [Fact]
    public void Lifetime_claims_are_required_and_ordered()
    {
        using var key = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(key);
        var keys = MaaSigningKeys.Parse(MaaVectors.JwksFor(cert, "k1"));
        const string Header = """{"alg":"RS256","jku":"https://veritee.test/certs","kid":"k1","typ":"JWT"}""";
        MaaTokenFailure Check(string payload) =>
            Validate(MaaVectors.SignRs256(key, Header, payload), 1_900_000_000, issuer: "https://veritee.test", instance: "https://veritee.test/", keys: keys).Failure;

        Assert.Equal(MaaTokenFailure.None, Check("""{"iss":"https://veritee.test","iat":1899999000,"nbf":1899999000,"exp":1900028800}"""));
        Assert.Equal(MaaTokenFailure.MissingOrInvalidLifetime, Check("""{"iss":"https://veritee.test","iat":1899999000,"nbf":1899999000}"""));
        Assert.Equal(MaaTokenFailure.MissingOrInvalidLifetime, Check("""{"iss":"https://veritee.test","nbf":1900028801,"exp":1900028800}"""));
        Assert.Equal(MaaTokenFailure.IssuerMismatch, Check("""{"exp":1900028800}"""));
        Assert.Equal(MaaTokenFailure.Expired, Check("""{"iss":"https://veritee.test","exp":1899999989}"""));
    }

    [Fact]
    public void Pinned_signing_certificate_issuer_is_enforced()
    {
        Assert.True(Validate(Golden, GoldenIat, certIssuer: "CN=" + MaaVectors.SharedWus).IsValid);
        var result = Validate(Golden, GoldenIat, certIssuer: "CN=Microsoft Azure Attestation PCA 2019");
        Assert.Equal(MaaTokenFailure.SigningCertificateMismatch, result.Failure);
    }

    [Fact]
    public void A_non_rsa_pinned_key_is_not_usable()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = MaaVectors.SelfSigned(ec);
        var keys = MaaSigningKeys.Parse($$"""{"keys":[{"kid":"ec1","kty":"EC","x5c":["{{Convert.ToBase64String(cert.RawData)}}"]}]}""");
        var header = MaaVectors.HeaderJson(Golden).Replace(MaaVectors.EnclaveKid, "ec1", StringComparison.Ordinal);
        Assert.Equal(MaaTokenFailure.KeyNotUsable, Validate(MaaVectors.WithHeader(Golden, header), GoldenIat, keys: keys).Failure);
    }

    [Fact]
    public void Options_out_of_range_are_refused()
    {
        var keys = MaaVectors.Jwks("sharedwus");
        Assert.Throws<ArgumentOutOfRangeException>(() => new MaaTokenValidator(keys, new MaaTokenValidationOptions { Issuer = "x", ClockSkew = TimeSpan.FromMinutes(6) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MaaTokenValidator(keys, new MaaTokenValidationOptions { Issuer = "x", ClockSkew = TimeSpan.FromSeconds(-1) }));
        Assert.Throws<ArgumentException>(() => new MaaTokenValidator(keys, new MaaTokenValidationOptions { Issuer = string.Empty }));
        Assert.Throws<ArgumentException>(() => new MaaTokenValidator(keys, new MaaTokenValidationOptions { Issuer = "x", Instance = "not a uri" }));
    }
}

public class MaaSigningKeysTests
{
    [Fact]
    public void Real_jwks_parse_with_exact_kids_and_rsa_keys()
    {
        var keys = MaaVectors.Jwks("sharedwus");
        Assert.Equal([MaaVectors.EnclaveKid, "D5DR62_fG0AlpALMbsP-wriTWjU", "5n95sus8qrcBcVLXZu3lPYgdMlM"], keys.Keys.Select(k => k.Kid));
        Assert.All(keys.Keys, k => Assert.NotNull(k.RsaPublicKey));
        Assert.Equal(2048 / 8, keys.Keys[0].RsaPublicKey!.Value.Modulus!.Length);
        Assert.Equal(3, keys.Keys[1].CertificateChain.Count);
        Assert.True(keys.TryGet(MaaVectors.EnclaveKid, out _));
        Assert.False(keys.TryGet(MaaVectors.EnclaveKid.ToLowerInvariant(), out _));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{\"keys\":{}}")]
    [InlineData("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}")]
    [InlineData("{\"keys\":[{\"kid\":\"a\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}")]
    [InlineData("{\"keys\":[{\"kid\":\"a\",\"kty\":\"RSA\"}]}")]
    [InlineData("{\"keys\":[{\"kid\":\"a\",\"kty\":\"RSA\",\"n\":\"AQAB\"}]}")]
    [InlineData("{\"keys\":[{\"kid\":\"a\",\"kty\":\"RSA\",\"x5c\":[\"AAAA\"]}]}")]
    [InlineData("{\"keys\":[{\"kid\":\"a\",\"kty\":\"RSA\",\"x5c\":[]}]}")]
    [InlineData("{\"keys\":[{\"kid\":\"a\",\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"},{\"kid\":\"a\",\"kty\":\"RSA\",\"n\":\"AQAC\",\"e\":\"AQAB\"}]}")]
    [InlineData("{\"keys\":[],\"keys\":[]}")]
    public void Bad_jwks_are_format_errors(string json)
    {
        Assert.Throws<TokenFormatException>(() => MaaSigningKeys.Parse(json));
    }

    [Fact]
    public void N_and_e_must_agree_with_the_certificate()
    {
        using var key = RSA.Create(2048);
        using var other = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(key);
        var p = key.ExportParameters(false);
        var q = other.ExportParameters(false);
        var x5c = Convert.ToBase64String(cert.RawData);
        var good = MaaSigningKeys.Parse($$"""{"keys":[{"kid":"a","kty":"RSA","n":"{{MaaVectors.B64(p.Modulus!)}}","e":"{{MaaVectors.B64(p.Exponent!)}}","x5c":["{{x5c}}"]}]}""");
        Assert.Equal(p.Modulus, good.Keys[0].RsaPublicKey!.Value.Modulus);
        Assert.Throws<TokenFormatException>(() => MaaSigningKeys.Parse($$"""{"keys":[{"kid":"a","kty":"RSA","n":"{{MaaVectors.B64(q.Modulus!)}}","e":"{{MaaVectors.B64(q.Exponent!)}}","x5c":["{{x5c}}"]}]}"""));

        // n/e only (a self-hosted service may publish them): validates a token signed by that key.
        var bare = MaaSigningKeys.Parse($$"""{"keys":[{"kid":"a","kty":"RSA","n":"{{MaaVectors.B64(p.Modulus!)}}","e":"{{MaaVectors.B64(p.Exponent!)}}"}]}""");
        var token = MaaVectors.SignRs256(key, """{"alg":"RS256","kid":"a"}""", """{"iss":"https://i","exp":1900000000}""");
        var options = new MaaTokenValidationOptions { Issuer = "https://i", TimeProvider = FixedClock.At(1_899_999_000) };
        Assert.True(new MaaTokenValidator(bare, options).Validate(token).IsValid);
    }
}
