using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Veritee.Policy;
using Veritee.TestSupport;
using Veritee.Tokens;

namespace Veritee.Cli.Tests;

public sealed class TokenCliTests : IDisposable
{
    private const string SharedWus = "https://sharedwus.wus.attest.azure.net";
    private const string AadWus = "https://cplarryoattestationaad.wus.attest.azure.net";
    private static readonly string Maa = Path.Combine(Vectors.Directory, "maa");
    private static readonly string Golden = Path.Combine(Maa, "sdk-cpp-2022", "tokens", "Attestation-AttestationTests.SimpleAttest-SgxEnclave_Shared.1.POST.attest_SgxEnclave.jwt");
    private static readonly string Jwks = Path.Combine(Maa, "sdk-cpp-2022", "certs", "sharedwus.certs.json");
    private static readonly string AddedCert = Path.Combine(Maa, "sdk-net-2020-isolated", "certificates-add.added-cert.AttestationCertificate2.pem");
    private static readonly string MinimalPolicy = Path.Combine(Maa, "policies", "sdk-tests", "cpp.minimal-policy.txt");

    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-token-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static void AssertOneLineInputError((int Exit, string Out, string Err) r, string contains)
    {
        Assert.Equal(2, r.Exit);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("veritee: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(contains, lines[0], StringComparison.Ordinal);
    }

    private (string Key, string Cert) CreateSigner(string password = "correct horse")
    {
        var r = Run("cert", "create", "--key", P("signer.key"), "--cert", P("signer.crt"), "--subject", "CN=Veritee CLI Test Signer", "--days", "7", "--password", password);
        Assert.Equal(0, r.Exit);
        return (P("signer.key"), P("signer.crt"));
    }

    [Fact]
    public void Cert_create_makes_an_encrypted_rsa_2048_key_and_a_self_signed_ca_certificate()
    {
        const string Password = "correct horse";
        var r = Run("cert", "create", "--key", P("k.pem"), "--cert", P("c.pem"), "--subject", "CN=Veritee CLI Test Signer, O=Veritee", "--days", "7", "--password", Password);
        Assert.Equal(0, r.Exit);
        Assert.Empty(r.Err);
        Assert.DoesNotContain(Password, r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY-----", r.Out, StringComparison.Ordinal);

        var keyPem = File.ReadAllText(P("k.pem"));
        Assert.StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----", keyPem, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(P("k.pem")));
        }

        using var cert = X509Certificate2.CreateFromPem(File.ReadAllText(P("c.pem")));
        Assert.Equal(cert.Subject, cert.Issuer);
        Assert.Contains("CN=Veritee CLI Test Signer", cert.Subject, StringComparison.Ordinal);
        using var rsa = cert.GetRSAPublicKey();
        Assert.Equal(2048, rsa!.KeySize);
        Assert.True(cert.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.InRange((cert.NotAfter - cert.NotBefore).TotalDays, 7, 7.01);
        Assert.Equal("sha256RSA", cert.SignatureAlgorithm.FriendlyName);

        // The pair loads as a signer only with the password.
        using (JwsSigningKey.Load(keyPem, File.ReadAllBytes(P("c.pem")), Password))
        {
        }

        Assert.Throws<TokenFormatException>(() => JwsSigningKey.Load(keyPem, File.ReadAllBytes(P("c.pem")), "wrong"));
    }

    [Fact]
    public void Cert_create_without_password_writes_plain_pkcs8()
    {
        Assert.Equal(0, Run("cert", "create", "--key", P("k.pem"), "--cert", P("c.pem")).Exit);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(P("k.pem")), StringComparison.Ordinal);
        using var cert = X509Certificate2.CreateFromPem(File.ReadAllText(P("c.pem")));
        Assert.Equal("CN=Veritee Policy Signer", cert.Subject);
    }

    [Fact]
    public void Cert_create_input_errors_are_one_line_and_exit_2()
    {
        File.WriteAllText(P("exists.key"), "keep me");
        AssertOneLineInputError(Run("cert", "create", "--key", P("exists.key"), "--cert", P("c.pem")), "already exists");
        Assert.Equal("keep me", File.ReadAllText(P("exists.key")));
        AssertOneLineInputError(Run("cert", "create", "--key", P("k.pem"), "--cert", P("c.pem"), "--subject", "no equals sign"), "--subject");
        AssertOneLineInputError(Run("cert", "create", "--key", P("k.pem"), "--cert", P("c.pem"), "--days", "0"), "--days");
        AssertOneLineInputError(Run("cert", "create", "--key", P("same"), "--cert", P("same")), "different files");
        Assert.Equal(2, Run("cert", "create", "--cert", P("c.pem")).Exit);
        Assert.Equal(0, Run("cert", "create", "--key", P("exists.key"), "--cert", P("c.pem"), "--force").Exit);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Policy_sign_round_trips_the_exact_text_and_verifies(bool preview)
    {
        var (key, cert) = CreateSigner();
        var args = new List<string> { "policy", "sign", MinimalPolicy, "--key", key, "--cert", cert, "--password", "correct horse", "--out", P("policy.jws") };
        if (preview)
        {
            args.Add("--preview");
        }

        var r = Run([.. args]);
        Assert.Equal(0, r.Exit);
        Assert.DoesNotContain("correct horse", r.Out + r.Err, StringComparison.Ordinal);
        var policy = PolicyJws.Parse(File.ReadAllText(P("policy.jws")), preview ? PolicyPayloadFormat.Preview : PolicyPayloadFormat.Ga);
        Assert.Equal(JwsSignatureStatus.Valid, policy.VerifySignature());
        Assert.Equal("RS256", policy.Algorithm);
        Assert.Equal(File.ReadAllText(MinimalPolicy), policy.PolicyText);
        Assert.NotNull(PolicyParser.Parse(policy.PolicyText!).Document);
        using var signer = X509Certificate2.CreateFromPem(File.ReadAllText(cert));
        Assert.Equal(signer.RawData, policy.SignerCertificate!.RawData);
    }

    [Fact]
    public void Policy_sign_to_stdout_prints_only_the_jws()
    {
        var (key, cert) = CreateSigner();
        var r = Run("policy", "sign", MinimalPolicy, "--key", key, "--cert", cert, "--password", "correct horse");
        Assert.Equal(0, r.Exit);
        Assert.Equal(JwsSignatureStatus.Valid, PolicyJws.Parse(r.Out.Trim()).VerifySignature());
        Assert.Single(r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Policy_sign_refuses_bad_passwords_missing_passwords_mismatched_keys_and_bad_policies()
    {
        var (key, cert) = CreateSigner();
        var wrong = Run("policy", "sign", MinimalPolicy, "--key", key, "--cert", cert, "--password", "hunter2");
        AssertOneLineInputError(wrong, "wrong password");
        Assert.DoesNotContain("hunter2", wrong.Err, StringComparison.Ordinal);
        AssertOneLineInputError(Run("policy", "sign", MinimalPolicy, "--key", key, "--cert", cert), "password is required");
        AssertOneLineInputError(Run("policy", "sign", MinimalPolicy, "--key", key, "--cert", AddedCert, "--password", "correct horse"), "does not match");
        AssertOneLineInputError(Run("policy", "sign", MinimalPolicy, "--key", P("missing.key"), "--cert", cert), "missing.key");

        File.WriteAllText(P("bad.txt"), "version=1.0;authorizationrules{=> permit()};");
        var bad = Run("policy", "sign", P("bad.txt"), "--key", key, "--cert", cert, "--password", "correct horse", "--out", P("bad.jws"));
        Assert.Equal(2, bad.Exit);
        Assert.Contains("PolicyParsingError", bad.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(P("bad.jws")));
    }

    [Theory]
    [InlineData(false, "policyCertificate")]
    [InlineData(true, "maa-policyCertificate")]
    public void Signer_sign_produces_a_verifiable_certificate_jws(bool preview, string claim)
    {
        var (key, cert) = CreateSigner();
        var args = new List<string> { "signer", "sign", AddedCert, "--key", key, "--cert", cert, "--password", "correct horse", "--out", P("signer.jws") };
        if (preview)
        {
            args.Add("--preview");
        }

        var r = Run([.. args]);
        Assert.Equal(0, r.Exit);
        Assert.Contains("374664A1E7A90041C74284EDD704F5C1DA8899AF", r.Out, StringComparison.Ordinal);
        var jws = PolicyCertificateJws.Parse(File.ReadAllText(P("signer.jws")));
        Assert.Equal(claim, jws.ClaimName);
        Assert.Equal(JwsSignatureStatus.Valid, jws.VerifySignature());
        Assert.Equal("374664A1E7A90041C74284EDD704F5C1DA8899AF", jws.Thumbprint);
    }

    [Fact]
    public void Signer_sign_with_a_non_certificate_is_an_input_error()
    {
        var (key, cert) = CreateSigner();
        AssertOneLineInputError(Run("signer", "sign", MinimalPolicy, "--key", key, "--cert", cert, "--password", "correct horse"), "certificate");
    }

    [Fact]
    public void Token_show_prints_header_claims_and_utc_times_from_a_file_a_literal_or_a_response_body()
    {
        var token = File.ReadAllText(Golden).Trim();
        File.WriteAllText(P("body.json"), JsonSerializer.Serialize(new { token }));
        foreach (var input in new[] { Golden, token, P("body.json") })
        {
            var r = Run("token", "show", input);
            Assert.Equal(0, r.Exit);
            Assert.Contains("\"kid\": \"XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=\"", r.Out, StringComparison.Ordinal);
            Assert.Contains("\"x-ms-sgx-mrsigner\"", r.Out, StringComparison.Ordinal);
            Assert.Contains("exp  2022-06-01T06:47:56Z (1654066076)", r.Out, StringComparison.Ordinal);
            Assert.Contains("iat  2022-05-31T22:47:56Z", r.Out, StringComparison.Ordinal);
            Assert.Contains("not verified", r.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Token_show_of_a_non_token_is_an_input_error()
    {
        AssertOneLineInputError(Run("token", "show", P("missing.jwt")), "no such file");
        File.WriteAllText(P("junk.jwt"), "not.a.jwt!");
        AssertOneLineInputError(Run("token", "show", P("junk.jwt")), "JWT");
    }

    [Fact]
    public void Token_verify_valid_exits_0_with_text_and_json()
    {
        var text = Run("token", "verify", Golden, "--jwks", Jwks, "--issuer", SharedWus, "--at", "2022-05-31T23:00:00Z");
        Assert.Equal(0, text.Exit);
        Assert.StartsWith("valid", text.Out, StringComparison.Ordinal);

        var json = Run("token", "verify", Golden, "--jwks", Jwks, "--issuer", SharedWus, "--at", "1654037300", "--json");
        Assert.Equal(0, json.Exit);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.True(doc.RootElement.GetProperty("valid").GetBoolean());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("reason").ValueKind);
        Assert.Equal("2022-05-31T22:48:20Z", doc.RootElement.GetProperty("validatedAt").GetString());
        Assert.Equal(SharedWus, doc.RootElement.GetProperty("claims").GetProperty("iss").GetString());
    }

    private static string Reason((int Exit, string Out, string Err) r)
    {
        Assert.Equal(1, r.Exit);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.False(doc.RootElement.GetProperty("valid").GetBoolean());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("claims").ValueKind);
        return doc.RootElement.GetProperty("reason").GetString()!;
    }

    [Fact]
    public void Token_verify_names_each_failure_and_exits_1()
    {
        var token = File.ReadAllText(Golden).Trim();
        var parts = token.Split('.');
        string Header(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var header = Encoding.UTF8.GetString(Convert.FromBase64String(parts[0].Replace('-', '+').Replace('_', '/') + new string('=', (4 - (parts[0].Length % 4)) % 4)));

        Assert.Equal("Expired", Reason(Run("token", "verify", Golden, "--jwks", Jwks, "--issuer", SharedWus, "--json")));
        Assert.Equal("NotYetValid", Reason(Run("token", "verify", Golden, "--jwks", Jwks, "--issuer", SharedWus, "--at", "2022-05-31T22:00:00Z", "--json")));
        Assert.Equal("JkuMismatch", Reason(Run("token", "verify", Golden, "--jwks", Jwks, "--issuer", AadWus, "--at", "1654037300", "--json")));
        Assert.Equal("IssuerMismatch", Reason(Run("token", "verify", Golden, "--jwks", Jwks, "--issuer", AadWus, "--instance", SharedWus, "--at", "1654037300", "--json")));

        var jku = Header(header.Replace("sharedwus.wus.attest.azure.net/certs", "attacker.example/certs", StringComparison.Ordinal)) + "." + parts[1] + "." + parts[2];
        Assert.Equal("JkuMismatch", Reason(Run("token", "verify", jku, "--jwks", Jwks, "--issuer", SharedWus, "--at", "1654037300", "--json")));
        var none = Header(header.Replace("RS256", "none", StringComparison.Ordinal)) + "." + parts[1] + ".";
        Assert.Equal("AlgorithmNotAllowed", Reason(Run("token", "verify", none, "--jwks", Jwks, "--issuer", SharedWus, "--at", "1654037300", "--json")));
        var kid = Header(header.Replace("XxRc2v", "YyRc2v", StringComparison.Ordinal)) + "." + parts[1] + "." + parts[2];
        Assert.Equal("UnknownKid", Reason(Run("token", "verify", kid, "--jwks", Jwks, "--issuer", SharedWus, "--at", "1654037300", "--json")));
        var flipped = parts[0] + "." + parts[1] + "." + (parts[2][0] == 'A' ? 'B' : 'A') + parts[2][1..];
        Assert.Equal("BadSignature", Reason(Run("token", "verify", flipped, "--jwks", Jwks, "--issuer", SharedWus, "--at", "1654037300", "--json")));
        Assert.Equal("Malformed", Reason(Run("token", "verify", "eyJhbGciOiJSUzI1NiI.e30.AAAA", "--jwks", Jwks, "--issuer", SharedWus, "--at", "1654037300", "--json")));

        var plain = Run("token", "verify", Golden, "--jwks", Jwks, "--issuer", SharedWus);
        Assert.Equal(1, plain.Exit);
        Assert.StartsWith("invalid: Expired: expired at 2022-06-01T06:47:56Z", plain.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Token_verify_input_errors_exit_2()
    {
        File.WriteAllText(P("bad.json"), "{\"keys\":5}");
        AssertOneLineInputError(Run("token", "verify", Golden, "--jwks", P("bad.json"), "--issuer", SharedWus), "keys");
        AssertOneLineInputError(Run("token", "verify", Golden, "--jwks", P("absent.json"), "--issuer", SharedWus), "absent.json");
        AssertOneLineInputError(Run("token", "verify", Golden, "--jwks", Jwks, "--issuer", SharedWus, "--at", "yesterday"), "--at");
        AssertOneLineInputError(Run("token", "verify", Golden, "--jwks", Jwks, "--issuer", SharedWus, "--skew", "301"), "--skew");
        AssertOneLineInputError(Run("token", "verify", P("absent.jwt"), "--jwks", Jwks, "--issuer", SharedWus), "no such file");
        AssertOneLineInputError(Run("token", "verify", "absent.jwt", "--jwks", Jwks, "--issuer", SharedWus), "no such file");
        Assert.Equal(2, Run("token", "verify", Golden, "--jwks", Jwks).Exit);
    }

    [Fact]
    public void Token_verify_help_offers_the_endpoint_variant()
    {
        var r = Run("token", "verify", "--help");
        Assert.Equal(0, r.Exit);
        Assert.Contains("--endpoint", r.Out, StringComparison.Ordinal);
        Assert.Contains("Give either --jwks and --issuer, or --endpoint URL.", r.Out, StringComparison.Ordinal);
    }
}
