using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Veritee.Tokens.Tests;

/// <summary>The maximum token size (one limit for the service and the validator) and the bounds on policy-signer keys.</summary>
public class TokenBoundsTests
{
    private const string Header = """{"alg":"RS256","jku":"https://veritee.test/certs","kid":"k1","typ":"JWT"}""";

    private static (MaaTokenValidationResult Result, int Length) ValidateWithPadding(int targetLength)
    {
        using var key = RSA.Create(2048);
        using var cert = MaaVectors.SelfSigned(key);
        var keys = MaaSigningKeys.Parse(MaaVectors.JwksFor(cert, "k1"));
        string Token(int pad) => MaaVectors.SignRs256(key, Header, "{\"iss\":\"https://veritee.test\",\"exp\":2000000000,\"pad\":\"" + new string('a', pad) + "\"}");

        // The token grows by 4 characters per 3 of padding: pick the padding whose token is as close as possible to the target.
        var pad = ((targetLength - Token(0).Length) * 3) / 4;
        while (Token(pad + 1).Length <= targetLength)
        {
            pad++;
        }

        var token = Token(pad);
        var options = new MaaTokenValidationOptions { Issuer = "https://veritee.test", TimeProvider = FixedClock.At(1_900_000_000) };
        return (new MaaTokenValidator(keys, options).Validate(token), token.Length);
    }

    [Fact]
    public void A_token_of_the_maximum_size_validates()
    {
        // Before: Microsoft.IdentityModel's default refused anything over 256,000 bytes (IDX10209).
        var (result, length) = ValidateWithPadding(MaaTokenValidator.MaxTokenLength);
        Assert.InRange(length, MaaTokenValidator.MaxTokenLength - 3, MaaTokenValidator.MaxTokenLength);
        Assert.True(result.IsValid, result.Message);
    }

    [Fact]
    public void A_token_over_the_maximum_is_malformed_and_says_why()
    {
        var (result, length) = ValidateWithPadding(MaaTokenValidator.MaxTokenLength + 100);
        Assert.True(length > MaaTokenValidator.MaxTokenLength);
        Assert.Equal(MaaTokenFailure.Malformed, result.Failure);
        Assert.Contains($"more than the maximum token size of {MaaTokenValidator.MaxTokenLength} bytes", result.Message, StringComparison.Ordinal);
    }

    private static X509Certificate2 SelfSigned(AsymmetricAlgorithm key) => key switch
    {
        RSA rsa => new CertificateRequest("CN=signer", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)),
        ECDsa ec => new CertificateRequest("CN=signer", ec, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)),
        _ => throw new ArgumentException("unsupported key"),
    };

    private static string Sign(AsymmetricAlgorithm key)
    {
        using var cert = SelfSigned(key);
        var loaded = X509CertificateLoader.LoadCertificate(cert.RawData);
        using var signer = key is RSA rsa ? JwsSigningKey.Create(rsa, loaded) : JwsSigningKey.Create((ECDsa)key, loaded);
        return PolicyJws.CreateSigned("version=1.0; authorizationrules { => permit(); };", signer);
    }

    [Fact]
    public void Rsa_2048_and_EC_P256_P384_signers_are_accepted()
    {
        using var rsa = RSA.Create(2048);
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        foreach (var key in new AsymmetricAlgorithm[] { rsa, p256, p384 })
        {
            Assert.Equal(JwsSignatureStatus.Valid, PolicyJws.Parse(Sign(key)).VerifySignature());
        }
    }

    [Fact]
    public void Small_rsa_and_other_curves_are_refused_when_parsed()
    {
        using var rsa = RSA.Create(1024);
        var small = Assert.Throws<TokenFormatException>(() => PolicyJws.Parse(Sign(rsa)));
        Assert.Contains("RSA key has 1024 bits", small.Message, StringComparison.Ordinal);
        using var p521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        var curve = Assert.Throws<TokenFormatException>(() => PolicyJws.Parse(Sign(p521)));
        Assert.Contains("curve 1.3.132.0.35", curve.Message, StringComparison.Ordinal);
    }
}
