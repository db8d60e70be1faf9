using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Veritee.TestSupport;
using Veritee.Tokens;

namespace Veritee.Service.Tests;

/// <summary>An isolated instance whose first signer is a fresh RSA certificate; management also needs the admin bearer token.</summary>
public sealed class IsolatedServiceFixture : ServiceFixture
{
    public IsolatedServiceFixture()
    {
        FirstSigner = NewSigner("CN=Veritee test signer 1");
    }

    public JwsSigningKey FirstSigner { get; }

    public static JwsSigningKey NewSigner(string subject)
    {
        var rsa = RSA.Create(2048);
        var request = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return JwsSigningKey.Create(rsa, X509CertificateLoader.LoadCertificate(cert.RawData));
    }

    protected override ServiceOptions Configure(ServiceOptions options) =>
        options with { TrustModel = TrustModel.Isolated, InitialSigners = [FirstSigner.Certificate] };
}

public class IsolatedModeTests : IAsyncLifetime
{
    private const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"x-ms-sgx-svn\"] => issue(type=\"iso-svn\", value=c.value);};";
    private readonly IsolatedServiceFixture _service = new();

    public Task InitializeAsync() => _service.InitializeAsync();

    public Task DisposeAsync() => _service.DisposeAsync();

    private Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonObject Body)> Put(string jws) =>
        _service.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2022-08-01", jws, "text/plain", admin: true);

    [Fact]
    public async Task A_policy_signed_by_a_registered_signer_is_stored_with_its_signer()
    {
        var (status, body) = await Put(Veritee.Tokens.PolicyJws.CreateSigned(Policy, _service.FirstSigner));
        Assert.Equal(HttpStatusCode.OK, status);
        var claims = Jwt.Claims(body["token"]!.GetValue<string>());
        Assert.Equal("Updated", claims["x-ms-policy-result"]!.GetValue<string>());
        Assert.Equal(Convert.ToBase64String(_service.FirstSigner.Certificate.RawData), claims["x-ms-policy-signer"]!["x5c"]![0]!.GetValue<string>());

        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        var (_, token) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + quote + "\"}");
        var attested = Jwt.Claims(token["token"]!.GetValue<string>());
        Assert.Equal(1, attested["iso-svn"]!.GetValue<int>());
        Assert.NotNull(attested["x-ms-policy-signer"]);
    }

    [Fact]
    public async Task Unsigned_or_foreign_signed_policies_are_refused_and_change_nothing()
    {
        var (unsigned, error) = await Put(Veritee.Tokens.PolicyJws.CreateUnsigned(Policy));
        Assert.Equal(HttpStatusCode.BadRequest, unsigned);
        Assert.Equal("InvalidOperation", error["error"]!["code"]!.GetValue<string>());

        using var stranger = IsolatedServiceFixture.NewSigner("CN=stranger");
        var (foreign, error2) = await Put(Veritee.Tokens.PolicyJws.CreateSigned(Policy, stranger));
        Assert.Equal(HttpStatusCode.BadRequest, foreign);
        Assert.Contains("not a policy management certificate", error2["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var signed = Veritee.Tokens.PolicyJws.CreateSigned(Policy, _service.FirstSigner);
        var tampered = signed[..^4] + (signed[^4] == 'A' ? "B" : "A") + signed[^3..];
        var (bad, _) = await Put(tampered);
        Assert.Equal(HttpStatusCode.BadRequest, bad);

        var (_, got) = await _service.Send(HttpMethod.Get, "/policies/SgxEnclave?api-version=2022-08-01", admin: true);
        Assert.StartsWith("eyJhbGciOiJub25lIn0.", Jwt.Claims(got["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signers_are_added_and_removed_by_signed_requests_and_the_last_cannot_go()
    {
        using var second = IsolatedServiceFixture.NewSigner("CN=Veritee test signer 2");
        var add = PolicyCertificateJws.Create(second.Certificate, _service.FirstSigner);
        var (status, body) = await _service.Send(HttpMethod.Post, "/certificates:add?api-version=2022-08-01", "\"" + add + "\"", admin: true);
        Assert.Equal(HttpStatusCode.OK, status);
        var result = Jwt.Claims(body["token"]!.GetValue<string>());
        Assert.Equal("IsPresent", result["x-ms-policycertificates-result"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexString(SHA1.HashData(second.Certificate.RawData)), result["x-ms-certificate-thumbprint"]!.GetValue<string>());

        var (_, list) = await _service.Send(HttpMethod.Get, "/certificates?api-version=2022-08-01", admin: true);
        Assert.Equal(2, Jwt.Claims(list["token"]!.GetValue<string>())["x-ms-policy-certificates"]!["keys"]!.AsArray().Count);

        // The new signer can now remove the first one, and then cannot remove itself (the last).
        var (removed, _) = await _service.Send(HttpMethod.Post, "/certificates:remove?api-version=2022-08-01", "\"" + PolicyCertificateJws.Create(_service.FirstSigner.Certificate, second) + "\"", admin: true);
        Assert.Equal(HttpStatusCode.OK, removed);
        var (last, error) = await _service.Send(HttpMethod.Post, "/certificates:remove?api-version=2022-08-01", "\"" + PolicyCertificateJws.Create(second.Certificate, second) + "\"", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, last);
        Assert.Equal("InvalidOperation", error["error"]!["code"]!.GetValue<string>());

        // The removed signer's policies are no longer accepted.
        var (refused, _) = await Put(Veritee.Tokens.PolicyJws.CreateSigned(Policy, _service.FirstSigner));
        Assert.Equal(HttpStatusCode.BadRequest, refused);
    }

    [Fact]
    public async Task The_2025_06_01_certificate_bodies_and_the_aas_claim_name_are_accepted()
    {
        // {"policyCertificateToAdd": "<JWS>"} whose payload names the certificate aas-policyCertificate, as the spec's example.
        using var second = IsolatedServiceFixture.NewSigner("CN=Veritee test signer 2");
        var jwk = System.Text.Json.Nodes.JsonNode.Parse(PolicyCertificateJws.SignerJwk(second.Certificate));
        var payload = new System.Text.Json.Nodes.JsonObject { ["aas-policyCertificate"] = jwk }.ToJsonString();
        var aas = _service.FirstSigner.Sign(System.Text.Encoding.UTF8.GetBytes(payload));
        var (added, body) = await _service.Send(HttpMethod.Post, "/certificates:add?api-version=2025-06-01", "{\"policyCertificateToAdd\":\"" + aas + "\"}", admin: true);
        Assert.True(added == HttpStatusCode.OK, body.ToJsonString());
        Assert.Equal("IsPresent", Jwt.Claims(body["token"]!.GetValue<string>())["x-ms-policycertificates-result"]!.GetValue<string>());

        // The other operation's property is not taken for this one.
        var remove = PolicyCertificateJws.Create(second.Certificate, _service.FirstSigner);
        var (wrong, error) = await _service.Send(HttpMethod.Post, "/certificates:remove?api-version=2025-06-01", "{\"policyCertificateToAdd\":\"" + remove + "\"}", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, wrong);
        Assert.Contains("policyCertificateToRemove", error["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var (removed, result) = await _service.Send(HttpMethod.Post, "/certificates:remove?api-version=2025-06-01", "{\"policyCertificateToRemove\":\"" + remove + "\"}", admin: true);
        Assert.Equal(HttpStatusCode.OK, removed);
        Assert.Equal("IsAbsent", Jwt.Claims(result["token"]!.GetValue<string>())["x-ms-policycertificates-result"]!.GetValue<string>());
        var (_, list) = await _service.Send(HttpMethod.Get, "/certificates?api-version=2025-06-01", admin: true);
        Assert.Single(Jwt.Claims(list["token"]!.GetValue<string>())["x-ms-policy-certificates"]!["keys"]!.AsArray());
    }

    [Fact]
    public async Task A_TdxVm_policy_is_set_and_reset_only_with_a_registered_signature()
    {
        const string tdx = "version= 1.0;authorizationrules{=> permit();};issuancerules{c:[type==\"tdx_mrtd\"] => issue(type=\"mrtd\", value=c.value);};";
        var (unsigned, _) = await _service.Send(HttpMethod.Put, "/policies/TdxVm?api-version=2025-06-01", Veritee.Tokens.PolicyJws.CreateUnsigned(tdx), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, unsigned);
        var (set, _) = await _service.Send(HttpMethod.Put, "/policies/TdxVm?api-version=2025-06-01", Veritee.Tokens.PolicyJws.CreateSigned(tdx, _service.FirstSigner), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.OK, set);
        var (_, got) = await _service.Send(HttpMethod.Get, "/policies/TdxVm?api-version=2025-06-01", admin: true);
        var jws = Jwt.Claims(got["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>();
        Assert.Equal(jws, Veritee.Tokens.PolicyJws.CreateSigned(tdx, _service.FirstSigner));

        // The SGX policy is untouched; a reset of TdxVm needs the signature too.
        var (_, sgx) = await _service.Send(HttpMethod.Get, "/policies/SgxEnclave?api-version=2025-06-01", admin: true);
        Assert.StartsWith("eyJhbGciOiJub25lIn0.", Jwt.Claims(sgx["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>(), StringComparison.Ordinal);
        var (unsignedReset, _) = await _service.Send(HttpMethod.Post, "/policies/TdxVm:reset?api-version=2025-06-01", "eyJhbGciOiJub25lIn0..", "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, unsignedReset);
        var (reset, _) = await _service.Send(HttpMethod.Post, "/policies/TdxVm:reset?api-version=2025-06-01", Veritee.Tokens.PolicyJws.CreateSigned(null, _service.FirstSigner), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.OK, reset);
        var (_, after) = await _service.Send(HttpMethod.Get, "/policies/TdxVm?api-version=2025-06-01", admin: true);
        Assert.StartsWith("eyJhbGciOiJub25lIn0.", Jwt.Claims(after["token"]!.GetValue<string>())["x-ms-policy"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_registered_signers_token_without_the_admin_bearer_is_401()
    {
        var signed = Veritee.Tokens.PolicyJws.CreateSigned(Policy, _service.FirstSigner);
        var (status, body) = await _service.Send(HttpMethod.Put, "/policies/SgxEnclave?api-version=2022-08-01", signed, "text/plain");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Unauthorized", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_real_signed_reset_request_from_MAA_is_refused_until_its_signer_is_registered()
    {
        var reset = File.ReadAllText(Path.Combine(Vectors.Directory, "maa", "sdk-net-2020-isolated", "policy-reset.request.signed-isolated.jws")).Trim();
        var (refused, _) = await _service.Send(HttpMethod.Post, "/policies/OpenEnclave:reset?api-version=2020-10-01", reset, "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, refused);

        var realSigner = Veritee.Tokens.PolicyJws.Parse(reset).SignerCertificate!;
        var add = PolicyCertificateJws.Create(realSigner, _service.FirstSigner);
        var (added, _) = await _service.Send(HttpMethod.Post, "/certificates:add?api-version=2022-08-01", "\"" + add + "\"", admin: true);
        Assert.Equal(HttpStatusCode.OK, added);
        var (accepted, body) = await _service.Send(HttpMethod.Post, "/policies/OpenEnclave:reset?api-version=2020-10-01", reset, "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.OK, accepted);
        Assert.Equal("Removed", Jwt.Claims(body["token"]!.GetValue<string>())["x-ms-policy-result"]!.GetValue<string>());
    }
}

/// <summary>The real `certificates:add` request an MAA isolated instance accepted in 2020.</summary>
public sealed class RealCertificatesAddTests : IAsyncLifetime
{
    private static readonly string Request = File.ReadAllText(Path.Combine(Vectors.Directory, "maa", "sdk-net-2020-isolated", "certificates-add.request.jwt")).Trim();
    private readonly RealSignerNode _registered = new(PolicyCertificateJws.Parse(Request).SignerCertificate!);
    private readonly RealSignerNode _stranger = new(IsolatedServiceFixture.NewSigner("CN=someone else").Certificate);

    private sealed class RealSignerNode(X509Certificate2 signer) : ServiceFixture
    {
        protected override ServiceOptions Configure(ServiceOptions options) =>
            options with { TrustModel = TrustModel.Isolated, InitialSigners = [signer] };
    }

    public Task InitializeAsync() => Task.WhenAll(_registered.InitializeAsync(), _stranger.InitializeAsync());

    public async Task DisposeAsync()
    {
        await _registered.DisposeAsync();
        await _stranger.DisposeAsync();
    }

    [Fact]
    public async Task It_is_accepted_when_its_signer_is_registered_and_refused_otherwise()
    {
        var body = Request.StartsWith('"') ? Request : "\"" + Request + "\"";
        var (status, response) = await _registered.Send(HttpMethod.Post, "/certificates:add?api-version=2020-10-01", body, admin: true);
        Assert.Equal(HttpStatusCode.OK, status);
        var claims = Jwt.Claims(response["token"]!.GetValue<string>());
        Assert.Equal("IsPresent", claims["x-ms-policycertificates-result"]!.GetValue<string>());
        Assert.StartsWith("374664A1", claims["x-ms-certificate-thumbprint"]!.GetValue<string>(), StringComparison.Ordinal);

        var (refused, _) = await _stranger.Send(HttpMethod.Post, "/certificates:add?api-version=2020-10-01", body, admin: true);
        Assert.Equal(HttpStatusCode.BadRequest, refused);
    }
}
