namespace Veritee.Client.Tests;

public sealed class TlsTests(TlsServiceFixture service) : IClassFixture<TlsServiceFixture>
{
    private static byte[] Quote => File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"));

    [Fact]
    public async Task A_self_signed_service_certificate_is_trusted_only_when_given()
    {
        using var untrusting = service.Client();
        await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote }));

        using var trusting = service.Client(new AttestationClientOptions { TrustedServerCertificates = [service.TlsCertificate!] });
        var response = await trusting.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote });
        Assert.True(response.Token.IsSigned);
        Assert.StartsWith("https://", response.Value.Issuer, StringComparison.Ordinal);

        using var admin = service.Admin(options: new AttestationClientOptions { TrustedServerCertificates = [service.TlsCertificate!] });
        Assert.Contains("authorizationrules", (await admin.GetPolicyAsync(AttestationType.SgxEnclave)).Value.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_certificate_does_not_make_the_service_trusted()
    {
        var other = new TlsServiceFixture();
        await other.InitializeAsync();
        try
        {
            using var client = service.Client(new AttestationClientOptions { TrustedServerCertificates = [other.TlsCertificate!] });
            await Assert.ThrowsAsync<HttpRequestException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote }));
        }
        finally
        {
            await other.DisposeAsync();
        }
    }
}
