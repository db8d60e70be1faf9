using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Veritee.Policy;

namespace Veritee.Tokens.Tests;

public class PolicyJwsTests
{
    private static string DocsSigned => File.ReadAllText(Path.Combine(MaaVectors.Docs, "policy-examples.signed-policy-jwt.jws")).Trim();

    private static string DocsUnsigned => File.ReadAllText(Path.Combine(MaaVectors.Docs, "policy-examples.unsigned-policy-jwt.jwt")).Trim();

    private static string SignedReset => File.ReadAllText(Path.Combine(MaaVectors.Isolated, "policy-reset.request.signed-isolated.jws")).Trim();

    [Fact]
    public void Docs_signed_policy_with_alg_RSA256_verifies_and_its_text_parses()
    {
        var policy = PolicyJws.Parse(DocsSigned);
        Assert.Equal("RSA256", policy.Algorithm);
        Assert.True(policy.IsSigned);
        Assert.Equal("CN=AttestationCertificate0", policy.SignerCertificate!.Subject);
        Assert.Equal(JwsSignatureStatus.Valid, policy.VerifySignature());
        Assert.StartsWith("version=1.0;authorizationrules {c:[type==\"$is-debuggable\"]", policy.PolicyText, StringComparison.Ordinal);
        Assert.NotNull(PolicyParser.Parse(policy.PolicyText!).Document);
    }

    [Fact]
    public void Docs_unsigned_policy_parses_as_unsigned_and_its_text_parses()
    {
        var policy = PolicyJws.Parse(DocsUnsigned);
        Assert.False(policy.IsSigned);
        Assert.Equal("none", policy.Algorithm);
        Assert.Equal(JwsSignatureStatus.Unsigned, policy.VerifySignature());
        Assert.StartsWith("version= 1.0;authorizationrules{", policy.PolicyText, StringComparison.Ordinal);
        Assert.NotNull(PolicyParser.Parse(policy.PolicyText!).Document);
    }

    [Fact]
    public void Real_isolated_signed_reset_with_RSA256_and_escaped_plus_verifies()
    {
        Assert.Contains("\\u002B", MaaVectors.HeaderJson(SignedReset), StringComparison.Ordinal);
        var reset = PolicyJws.Parse(SignedReset);
        Assert.True(reset.IsReset);
        Assert.Null(reset.PolicyText);
        Assert.Equal("RSA256", reset.Algorithm);
        Assert.Equal(JwsSignatureStatus.Valid, reset.VerifySignature());
        using var expected = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(MaaVectors.Isolated, "isolated-management-cert.larryoattestationiso.pem")));
        Assert.Equal(expected.RawData, reset.SignerCertificate!.RawData);
    }

    public static TheoryData<string> StoredPolicyTokens() => new(StoredPolicyFiles());

    private static List<string> StoredPolicyFiles() =>
        MaaVectors.Manifest().GetProperty("tokens").EnumerateArray()
            .Where(t => t.TryGetProperty("x-ms-policy.policy_text", out _))
            .Select(t => Path.GetFileName(t.GetProperty("file").GetString()!))
            .ToList();

    [Theory]
    [MemberData(nameof(StoredPolicyTokens))]
    public void Policies_returned_by_real_MAA_parse_verify_and_hash_as_the_manifest_says(string file)
    {
        var entry = MaaVectors.Manifest().GetProperty("tokens").EnumerateArray().Single(t => t.GetProperty("file").GetString()!.EndsWith(file, StringComparison.Ordinal));
        var stored = MaaVectors.Claims(MaaVectors.Token(file)).GetProperty("x-ms-policy").GetString()!;
        var policy = PolicyJws.Parse(stored);
        Assert.Equal(entry.GetProperty("x-ms-policy.sha256_b64url").GetString(), policy.TokenHash);
        var expectedText = entry.GetProperty("x-ms-policy.policy_text");
        Assert.Equal(expectedText.ValueKind == JsonValueKind.Null ? null : expectedText.GetString(), policy.PolicyText);
        Assert.Equal(policy.IsSigned ? JwsSignatureStatus.Valid : JwsSignatureStatus.Unsigned, policy.VerifySignature());
    }

    [Fact]
    public void At_least_one_stored_real_policy_is_signed()
    {
        var signed = StoredPolicyFiles().Count(f => PolicyJws.Parse(MaaVectors.Claims(MaaVectors.Token(f)).GetProperty("x-ms-policy").GetString()!).IsSigned);
        Assert.True(signed > 0);
        Assert.True(StoredPolicyFiles().Count > signed);
    }

    [Fact]
    public void Policy_hash_matches_the_real_service_default()
    {
        var text = File.ReadAllText(Path.Combine(MaaVectors.Root, "policies", "service-defaults", "sgx-openenclave-default.2022-05-31.wus.txt"));
        Assert.Equal("bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw", PolicyJws.PolicyHash(text));
    }

    [Fact]
    public void Every_signature_byte_flip_and_a_changed_payload_are_invalid()
    {
        var parts = MaaVectors.Parts(DocsSigned);
        var signature = MaaVectors.Unb64(parts[2]);
        for (var i = 0; i < signature.Length; i += 13)
        {
            var copy = (byte[])signature.Clone();
            copy[i] ^= 0x80;
            Assert.Equal(JwsSignatureStatus.Invalid, PolicyJws.Parse(parts[0] + "." + parts[1] + "." + MaaVectors.B64(copy)).VerifySignature());
        }

        var payload = "{\"AttestationPolicy\":\"" + MaaVectors.B64("version=1.0;authorizationrules{=> permit();};") + "\"}";
        Assert.Equal(JwsSignatureStatus.Invalid, PolicyJws.Parse(parts[0] + "." + MaaVectors.B64(payload) + "." + parts[2]).VerifySignature());
        Assert.Equal(JwsSignatureStatus.Invalid, PolicyJws.Parse(parts[0] + ".." + parts[2]).VerifySignature());
    }

    [Fact]
    public void Another_certificate_in_the_header_does_not_verify()
    {
        using var key = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(key);
        var parts = MaaVectors.Parts(DocsSigned);
        var header = $$"""{"alg":"RSA256","x5c":["{{Convert.ToBase64String(cert.RawData)}}"]}""";
        Assert.Equal(JwsSignatureStatus.Invalid, PolicyJws.Parse(MaaVectors.B64(header) + "." + parts[1] + "." + parts[2]).VerifySignature());
    }

    [Theory]
    [InlineData("""{"alg":"HS256","x5c":["CERT"]}""")]
    [InlineData("""{"alg":"PS256","x5c":["CERT"]}""")]
    [InlineData("""{"alg":"ES256","x5c":["CERT"]}""")]
    [InlineData("""{"alg":"ECDH256","x5c":["CERT"]}""")]
    [InlineData("""{"alg":"RS256"}""")]
    [InlineData("""{"alg":"RS256","x5c":[]}""")]
    [InlineData("""{"alg":"RS256","x5c":["not base64!"]}""")]
    [InlineData("""{"x5c":["CERT"]}""")]
    [InlineData("""{"alg":"none"}""")]
    [InlineData("""{"alg":"RS256","alg":"RS256","x5c":["CERT"]}""")]
    public void Unusable_headers_are_format_errors(string headerTemplate)
    {
        var cert = PolicyJws.Parse(DocsSigned).SignerCertificate!;
        var header = headerTemplate.Replace("CERT", Convert.ToBase64String(cert.RawData), StringComparison.Ordinal);
        var parts = MaaVectors.Parts(DocsSigned);

        // alg none must come with an empty signature; the others lack a usable certificate or use a refused alg.
        Assert.Throws<TokenFormatException>(() => PolicyJws.Parse(MaaVectors.B64(header) + "." + parts[1] + "." + parts[2]));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"AttestationPolicy\":5}")]
    [InlineData("{\"AttestationPolicy\":\"not base64url!\"}")]
    [InlineData("{\"AttestationPolicy\":\"dmVyc2lvbj0xLjA7=\"}")]
    [InlineData("{\"AttestationPolicy\":\"_w\"}")]
    [InlineData("[]")]
    public void Bad_ga_payloads_are_format_errors(string payload)
    {
        Assert.Throws<TokenFormatException>(() => PolicyJws.Parse("eyJhbGciOiJub25lIn0." + MaaVectors.B64(payload) + "."));
    }

    [Fact]
    public void Preview_form_carries_the_raw_text()
    {
        const string Text = "version= 1.0;authorizationrules{c:[type==\"$is-debuggable\"] => permit();};";
        var jws = PolicyJws.CreateUnsigned(Text, PolicyPayloadFormat.Preview);
        Assert.Contains("\"AttestationPolicy\":\"version= 1.0;", Encoding.UTF8.GetString(MaaVectors.Unb64(MaaVectors.Parts(jws)[1])), StringComparison.Ordinal);
        Assert.Equal(Text, PolicyJws.Parse(jws, PolicyPayloadFormat.Preview).PolicyText);

        // Read as GA, raw text is not base64url: refused rather than misread.
        Assert.Throws<TokenFormatException>(() => PolicyJws.Parse(jws));
    }

    [Fact]
    public void Unsigned_bodies_are_the_ones_the_sdks_hard_code()
    {
        Assert.Equal("eyJhbGciOiJub25lIn0..", PolicyJws.CreateUnsigned(null));
        Assert.StartsWith("eyJhbGciOiJub25lIn0.", PolicyJws.CreateUnsigned("version=1.0;authorizationrules{=> permit();};"), StringComparison.Ordinal);
        Assert.True(PolicyJws.Parse("eyJhbGciOiJub25lIn0..").IsReset);
    }

    public static TheoryData<string> PolicyFiles() =>
    [
        Path.Combine("sdk-tests", "cpp.minimal-policy.txt"),
        Path.Combine("service-defaults", "sgx-openenclave-default.2022-05-31.wus.txt"),
        Path.Combine("docs", "tpm-samples.v1.2-known-pcrs.txt"),
        Path.Combine("docs", "claim-sets.mrsigner-during-rotation.txt"),
    ];

    [Theory]
    [MemberData(nameof(PolicyFiles))]
    public void Rsa_signed_round_trip_keeps_the_exact_text_in_both_formats(string file)
    {
        var text = File.ReadAllText(Path.Combine(MaaVectors.Root, "policies", file));
        using var rsa = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(rsa);
        using var signer = JwsSigningKey.Create(rsa, cert);
        foreach (var format in new[] { PolicyPayloadFormat.Ga, PolicyPayloadFormat.Preview })
        {
            var jws = PolicyJws.CreateSigned(text, signer, format);
            var parsed = PolicyJws.Parse(jws, format);
            Assert.Equal("RS256", parsed.Algorithm);
            Assert.Equal(JwsSignatureStatus.Valid, parsed.VerifySignature());
            Assert.Equal(text, parsed.PolicyText);
            Assert.Equal(cert.RawData, parsed.SignerCertificate!.RawData);
            Assert.NotNull(PolicyParser.Parse(parsed.PolicyText!).Document);
        }
    }

    [Fact]
    public void Ec_signed_round_trip_verifies_and_der_signatures_are_accepted_too()
    {
        const string Text = "version=1.2;\r\nauthorizationrules{ => permit(); };\r\n// naïve ✓\n";
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = MaaVectors.SelfSigned(ec);
        using var signer = JwsSigningKey.Create(ec, cert);
        var jws = PolicyJws.CreateSigned(Text, signer);
        var parsed = PolicyJws.Parse(jws);
        Assert.Equal("ES256", parsed.Algorithm);
        Assert.Equal(Text, parsed.PolicyText);
        Assert.Equal(JwsSignatureStatus.Valid, parsed.VerifySignature());

        // The .NET SDK spells it ECDH256; Python's cryptography signs in DER.
        var payload = MaaVectors.Parts(jws)[1];
        var header = MaaVectors.B64($$$"""{"alg":"ECDH256","jwk":{"x5c":["{{{Convert.ToBase64String(cert.RawData)}}}"]}}""");
        var der = ec.SignData(Encoding.ASCII.GetBytes(header + "." + payload), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        var python = PolicyJws.Parse(header + "." + payload + "." + MaaVectors.B64(der));
        Assert.Equal(JwsSignatureStatus.Valid, python.VerifySignature());
        der[^1] ^= 1;
        Assert.Equal(JwsSignatureStatus.Invalid, PolicyJws.Parse(header + "." + payload + "." + MaaVectors.B64(der)).VerifySignature());
    }

    [Fact]
    public void Signed_reset_round_trip()
    {
        using var rsa = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(rsa);
        using var signer = JwsSigningKey.Create(rsa, cert);
        var jws = PolicyJws.CreateSigned(null, signer);
        Assert.Contains("..", jws, StringComparison.Ordinal);
        var parsed = PolicyJws.Parse(jws);
        Assert.True(parsed.IsReset);
        Assert.Equal(JwsSignatureStatus.Valid, parsed.VerifySignature());
    }

    [Fact]
    public void A_key_that_is_not_the_certificates_is_refused()
    {
        using var rsa = RSA.Create(2048);
        using var other = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(rsa);
        Assert.Throws<ArgumentException>(() => JwsSigningKey.Create(other, cert));
        Assert.Throws<TokenFormatException>(() => JwsSigningKey.Load(other.ExportPkcs8PrivateKeyPem(), Encoding.ASCII.GetBytes(cert.ExportCertificatePem()), null));
    }

    [Fact]
    public void Pem_keys_load_plain_encrypted_and_pkcs1_and_wrong_passwords_fail()
    {
        using var rsa = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(rsa);
        var pem = Encoding.ASCII.GetBytes(cert.ExportCertificatePem());
        var encrypted = rsa.ExportEncryptedPkcs8PrivateKeyPem("s3cret", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000));
        using (var a = JwsSigningKey.Load(rsa.ExportPkcs8PrivateKeyPem(), pem, null))
        using (var b = JwsSigningKey.Load(rsa.ExportRSAPrivateKeyPem(), cert.RawData, null))
        using (var c = JwsSigningKey.Load(encrypted, pem, "s3cret"))
        {
            Assert.Equal(JwsSignatureStatus.Valid, PolicyJws.Parse(PolicyJws.CreateSigned("x", c, PolicyPayloadFormat.Preview), PolicyPayloadFormat.Preview).VerifySignature());
            Assert.Equal("RS256", a.Algorithm);
            Assert.Equal("RS256", b.Algorithm);
        }

        var wrong = Assert.Throws<TokenFormatException>(() => JwsSigningKey.Load(encrypted, pem, "wrong"));
        Assert.DoesNotContain("wrong", wrong.Message.Replace("(wrong password?)", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Throws<TokenFormatException>(() => JwsSigningKey.Load(encrypted, pem, null));
    }
}

public class PolicyCertificateJwsTests
{
    private static string RealAdd => File.ReadAllText(Path.Combine(MaaVectors.Isolated, "certificates-add.request.jwt")).Trim();

    private static X509Certificate2 Pem(string name) => X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(MaaVectors.Isolated, name)));

    [Fact]
    public void Real_certificates_add_request_verifies_and_names_the_added_certificate()
    {
        var jws = PolicyCertificateJws.Parse(RealAdd);
        Assert.Equal("RSA256", jws.Algorithm);
        Assert.Equal(PolicyCertificateJws.GaClaim, jws.ClaimName);
        Assert.Equal(JwsSignatureStatus.Valid, jws.VerifySignature());
        using var added = Pem("certificates-add.added-cert.AttestationCertificate2.pem");
        using var management = Pem("isolated-management-cert.attestisosdktests.pem");
        Assert.Equal(added.RawData, jws.Certificate.RawData);
        Assert.Equal(management.RawData, jws.SignerCertificate!.RawData);

        // The service's answer to this request named the same thumbprint.
        var response = MaaVectors.Claims(File.ReadAllText(Path.Combine(MaaVectors.Isolated, "certificates-add.response.jwt")).Trim());
        Assert.Equal(response.GetProperty("x-ms-certificate-thumbprint").GetString(), jws.Thumbprint);
        Assert.Equal("374664A1E7A90041C74284EDD704F5C1DA8899AF", jws.Thumbprint);
    }

    [Fact]
    public void The_json_string_body_form_is_accepted()
    {
        var quoted = JsonSerializer.Serialize(RealAdd);
        Assert.StartsWith("\"eyJ", quoted, StringComparison.Ordinal);
        Assert.Equal(JwsSignatureStatus.Valid, PolicyCertificateJws.Parse(quoted).VerifySignature());
    }

    [Fact]
    public void Tampering_is_detected()
    {
        var parts = MaaVectors.Parts(RealAdd);
        var sig = MaaVectors.Unb64(parts[2]);
        sig[100] ^= 4;
        Assert.Equal(JwsSignatureStatus.Invalid, PolicyCertificateJws.Parse(parts[0] + "." + parts[1] + "." + MaaVectors.B64(sig)).VerifySignature());

        using var other = Pem("isolated-management-cert.larryoattestationiso.pem");
        var swapped = "{\"policyCertificate\":{\"kty\":\"RSA\",\"x5c\":[\"" + Convert.ToBase64String(other.RawData) + "\"]}}";
        Assert.Equal(JwsSignatureStatus.Invalid, PolicyCertificateJws.Parse(parts[0] + "." + MaaVectors.B64(swapped) + "." + parts[2]).VerifySignature());
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"policyCertificate\":\"x\"}")]
    [InlineData("{\"policyCertificate\":{\"kty\":\"RSA\"}}")]
    [InlineData("{\"policyCertificate\":{\"kty\":\"EC\",\"x5c\":[\"CERT\"]}}")]
    [InlineData("{\"policyCertificate\":{\"x5c\":[\"CERT\"]},\"maa-policyCertificate\":{\"x5c\":[\"CERT\"]}}")]
    public void Bad_payloads_are_format_errors(string payload)
    {
        using var cert = Pem("certificates-add.added-cert.AttestationCertificate2.pem");
        var body = payload.Replace("CERT", Convert.ToBase64String(cert.RawData), StringComparison.Ordinal);
        Assert.Throws<TokenFormatException>(() => PolicyCertificateJws.Parse("eyJhbGciOiJub25lIn0." + MaaVectors.B64(body) + "."));
    }

    [Theory]
    [InlineData(false, "policyCertificate")]
    [InlineData(true, "maa-policyCertificate")]
    public void Round_trip_in_both_claim_spellings(bool preview, string claim)
    {
        using var rsa = RSA.Create(2048);
        using var signerCert = MaaVectors.SelfSigned(rsa);
        using var signer = JwsSigningKey.Create(rsa, signerCert);
        using var target = Pem("certificates-add.added-cert.AttestationCertificate2.pem");
        var text = PolicyCertificateJws.Create(target, signer, preview);
        var jws = PolicyCertificateJws.Parse(text);
        Assert.Equal(claim, jws.ClaimName);
        Assert.Equal(JwsSignatureStatus.Valid, jws.VerifySignature());
        Assert.Equal(target.RawData, jws.Certificate.RawData);
        Assert.Equal("374664A1E7A90041C74284EDD704F5C1DA8899AF", jws.Thumbprint);
        var jwk = MaaVectors.Claims(text).GetProperty(claim);
        Assert.Equal("RSA", jwk.GetProperty("kty").GetString());
        Assert.Equal("sig", jwk.GetProperty("use").GetString());
    }

    [Fact]
    public void Signer_jwk_has_the_x_ms_policy_signer_shape()
    {
        using var target = Pem("certificates-add.added-cert.AttestationCertificate2.pem");
        using var doc = JsonDocument.Parse(PolicyCertificateJws.SignerJwk(target));
        Assert.Equal(["alg", "kty", "use", "x5c"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Convert.ToBase64String(target.RawData), doc.RootElement.GetProperty("x5c")[0].GetString());
    }
}
