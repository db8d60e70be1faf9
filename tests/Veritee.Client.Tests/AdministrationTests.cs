using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Veritee.Service;
using Veritee.Tokens;

namespace Veritee.Client.Tests;

public sealed class AdministrationTests : IAsyncLifetime
{
    private const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"x-ms-sgx-svn\"] => issue(type=\"my-svn\", value=c.value);};";
    private readonly ServiceFixture _service = new();

    private static byte[] Quote => File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"));

    public Task InitializeAsync() => _service.InitializeAsync();

    public Task DisposeAsync() => _service.DisposeAsync();

    private static JwsSigningKey NewSigner(string subject = "CN=Veritee client test signer")
    {
        var rsa = RSA.Create(2048);
        var request = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        return JwsSigningKey.Create(rsa, cert);
    }

    [Fact]
    public async Task Get_returns_the_default_policy()
    {
        using var admin = _service.Admin();
        var response = await admin.GetPolicyAsync(AttestationType.SgxEnclave);
        Assert.Equal(DefaultPolicies.Sgx, response.Value.Text);
        Assert.StartsWith("eyJhbGciOiJub25lIn0.", response.Value.Jws, StringComparison.Ordinal);
        Assert.Null(response.Value.Signer);
        Assert.True(response.Token.IsSigned);
    }

    [Fact]
    public async Task Set_get_attest_and_reset_round_trip()
    {
        using var admin = _service.Admin();
        var set = await admin.SetPolicyAsync(AttestationType.SgxEnclave, Policy);
        Assert.Equal(PolicyModification.Updated, set.Value.Result);
        Assert.Null(set.Value.PolicySigner);
        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(set.Value.SentJws))), set.Value.PolicyTokenHash);

        var got = await admin.GetPolicyAsync(AttestationType.SgxEnclave);
        Assert.Equal(Policy, got.Value.Text);
        Assert.Equal(set.Value.SentJws, got.Value.Jws);

        using var client = _service.Client();
        var attested = await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote });
        Assert.Equal(1, attested.Value.Claims.GetProperty("my-svn").GetInt32());
        Assert.Equal(PolicyJws.PolicyHash(Policy), attested.Value.PolicyHash);

        // The other type keeps its default.
        Assert.Equal(DefaultPolicies.Sgx, (await admin.GetPolicyAsync(AttestationType.OpenEnclave)).Value.Text);

        var reset = await admin.ResetPolicyAsync(AttestationType.SgxEnclave);
        Assert.Equal(PolicyModification.Removed, reset.Value.Result);
        Assert.Equal(DefaultPolicies.Sgx, (await admin.GetPolicyAsync(AttestationType.SgxEnclave)).Value.Text);
    }

    [Fact]
    public async Task A_signed_policy_is_set_and_its_signer_echoed()
    {
        using var signer = NewSigner();
        using var admin = _service.Admin();
        var set = await admin.SetPolicyAsync(AttestationType.OpenEnclave, Policy, signer);
        Assert.Equal(signer.Certificate.Thumbprint, set.Value.PolicySigner!.Thumbprint);

        var got = await admin.GetPolicyAsync(AttestationType.OpenEnclave);
        Assert.Equal(Policy, got.Value.Text);
        Assert.Equal(signer.Certificate.Thumbprint, got.Value.Signer!.Thumbprint);
        Assert.Equal(set.Value.SentJws, got.Value.Jws);
    }

    [Fact]
    public async Task A_policy_that_does_not_parse_is_PolicyParsingError()
    {
        using var admin = _service.Admin();
        var e = await Assert.ThrowsAsync<AttestationException>(() => admin.SetPolicyAsync(AttestationType.SgxEnclave, "version=1.0; authorizationrules{=> permit()};"));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Equal("PolicyParsingError", e.ErrorCode);
    }

    [Fact]
    public async Task A_wrong_bearer_token_is_401_Unauthorized()
    {
        using var admin = _service.Admin(token: "not-the-admin-token");
        var e = await Assert.ThrowsAsync<AttestationException>(() => admin.GetPolicyAsync(AttestationType.SgxEnclave));
        Assert.Equal(HttpStatusCode.Unauthorized, e.Status);
        Assert.Equal("Unauthorized", e.ErrorCode);
    }

    [Fact]
    public async Task The_credential_callback_is_asked_for_every_request()
    {
        var calls = 0;
        using var admin = new AttestationAdministrationClient(_service.Endpoint, AttestationCredential.FromCallback(_ =>
        {
            calls++;
            return ValueTask.FromResult(ServiceFixture.AdminToken);
        }), _service.Options());
        await admin.GetPolicyAsync(AttestationType.SgxEnclave);
        await admin.GetPolicyAsync(AttestationType.OpenEnclave);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Signers_list_is_empty_and_add_remove_are_refused_on_an_AAD_instance()
    {
        using var admin = _service.Admin();
        Assert.Empty((await admin.GetPolicyManagementCertificatesAsync()).Value);

        using var signer = NewSigner();
        using var other = NewSigner("CN=another signer");
        var add = await Assert.ThrowsAsync<AttestationException>(() => admin.AddPolicyManagementCertificateAsync(other.Certificate, signer));
        Assert.Equal(HttpStatusCode.BadRequest, add.Status);
        Assert.Equal("InvalidOperation", add.ErrorCode);
        var remove = await Assert.ThrowsAsync<AttestationException>(() => admin.RemovePolicyManagementCertificateAsync(other.Certificate, signer));
        Assert.Equal("InvalidOperation", remove.ErrorCode);
    }

    [Fact]
    public void A_bearer_token_is_never_sent_over_plain_http_off_loopback()
    {
        var e = Assert.Throws<ArgumentException>(() => new AttestationAdministrationClient(new Uri("http://attest.example.org"), AttestationCredential.FromToken("t")));
        Assert.Contains("plain http", e.Message, StringComparison.Ordinal);
        using var local = new AttestationAdministrationClient(new Uri("http://localhost:1"), AttestationCredential.FromToken("t"));
        using var azure = new AttestationAdministrationClient(new Uri("https://x.wus.attest.azure.net"), AttestationCredential.FromToken("t"));
        Assert.Equal("https://x.wus.attest.azure.net", azure.Endpoint);
    }
}
