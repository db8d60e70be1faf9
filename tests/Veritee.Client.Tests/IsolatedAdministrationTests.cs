using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Veritee.Service;
using Veritee.Tokens;

namespace Veritee.Client.Tests;

/// <summary>Signed policies and policy-signer add/remove through the client against an isolated-mode instance.</summary>
public sealed class IsolatedAdministrationTests : IAsyncLifetime, IDisposable
{
    private const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{};";
    private readonly JwsSigningKey _first = NewSigner("CN=Veritee isolated signer 1");
    private readonly JwsSigningKey _second = NewSigner("CN=Veritee isolated signer 2");
    private readonly JwsSigningKey _stranger = NewSigner("CN=Veritee unregistered signer");
    private readonly ServiceFixture _service;

    public IsolatedAdministrationTests() => _service = new ServiceFixture { TrustModel = TrustModel.Isolated, InitialSigners = [_first.Certificate] };

    public Task InitializeAsync() => _service.InitializeAsync();

    public Task DisposeAsync() => _service.DisposeAsync();

    public void Dispose()
    {
        _first.Dispose();
        _second.Dispose();
        _stranger.Dispose();
    }

    private static JwsSigningKey NewSigner(string subject)
    {
        var rsa = RSA.Create(2048);
        var request = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return JwsSigningKey.Create(rsa, request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7)));
    }

    private async Task<string[]> Thumbprints(AttestationAdministrationClient admin) =>
        (await admin.GetPolicyManagementCertificatesAsync()).Value.Select(c => c.Thumbprint).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task Policies_must_be_signed_by_a_registered_signer()
    {
        using var admin = _service.Admin();
        var unsigned = await Assert.ThrowsAsync<AttestationException>(() => admin.SetPolicyAsync(AttestationType.SgxEnclave, Policy));
        Assert.Equal(HttpStatusCode.BadRequest, unsigned.Status);
        Assert.NotNull(unsigned.ErrorCode);

        var stranger = await Assert.ThrowsAsync<AttestationException>(() => admin.SetPolicyAsync(AttestationType.SgxEnclave, Policy, _stranger));
        Assert.Equal(HttpStatusCode.BadRequest, stranger.Status);

        var set = await admin.SetPolicyAsync(AttestationType.SgxEnclave, Policy, _first);
        Assert.Equal(_first.Certificate.Thumbprint, set.Value.PolicySigner!.Thumbprint);
        var got = await admin.GetPolicyAsync(AttestationType.SgxEnclave);
        Assert.Equal(Policy, got.Value.Text);
        Assert.Equal(_first.Certificate.Thumbprint, got.Value.Signer!.Thumbprint);

        await Assert.ThrowsAsync<AttestationException>(() => admin.ResetPolicyAsync(AttestationType.SgxEnclave));
        Assert.Equal(PolicyModification.Removed, (await admin.ResetPolicyAsync(AttestationType.SgxEnclave, _first)).Value.Result);
    }

    [Fact]
    public async Task Signers_are_added_and_removed_with_signed_requests()
    {
        using var admin = _service.Admin();
        Assert.Equal([_first.Certificate.Thumbprint], await Thumbprints(admin));

        var added = await admin.AddPolicyManagementCertificateAsync(_second.Certificate, _first);
        Assert.Equal(PolicyCertificateResolution.IsPresent, added.Value.Resolution);
        Assert.Equal(_second.Certificate.Thumbprint, added.Value.Thumbprint);
        Assert.Equal(new[] { _first.Certificate.Thumbprint, _second.Certificate.Thumbprint }.Order(StringComparer.Ordinal), await Thumbprints(admin));

        // The new signer can now sign policies; a stranger still cannot add itself.
        Assert.Equal(PolicyModification.Updated, (await admin.SetPolicyAsync(AttestationType.OpenEnclave, Policy, _second)).Value.Result);
        await Assert.ThrowsAsync<AttestationException>(() => admin.AddPolicyManagementCertificateAsync(_stranger.Certificate, _stranger));

        var removed = await admin.RemovePolicyManagementCertificateAsync(_second.Certificate, _first);
        Assert.Equal(PolicyCertificateResolution.IsAbsent, removed.Value.Resolution);
        Assert.Equal([_first.Certificate.Thumbprint], await Thumbprints(admin));
    }
}
