using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Veritee.TestSupport;

namespace Veritee.Client.Tests;

public sealed class AttestTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private static byte[] Quote => File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"));

    private static byte[] OeReport => File.ReadAllBytes(ServiceFixture.Evidence("oe-report.debug.bin"));

    private static byte[] RuntimeData => File.ReadAllBytes(ServiceFixture.Evidence("runtime-data.bin"));

    [Fact]
    public async Task The_real_quote_attests_and_its_token_validates_against_the_pinned_instance()
    {
        using var client = service.Client();
        var response = await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote, RuntimeData = new AttestationData(RuntimeData) });
        var result = response.Value;
        Assert.True(response.Token.IsSigned);
        Assert.Equal(service.BaseUrl, result.Issuer);
        Assert.Equal(service.BaseUrl + "/certs", response.Token.Header.GetProperty("jku").GetString());
        Assert.StartsWith("292a1f4b", result.MrEnclave, StringComparison.Ordinal);
        Assert.StartsWith("4aea5f9a", result.MrSigner, StringComparison.Ordinal);
        Assert.Equal(1UL, result.ProductId);
        Assert.Equal(1UL, result.Svn);
        Assert.True(result.IsDebuggable);
        Assert.Equal("sgx", result.VerifierType);
        Assert.Equal(RuntimeData, result.EnclaveHeldData!.Value.ToArray());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(RuntimeData)), result.ReportData![..64]);
        Assert.Equal(ServiceFixture.PinnedTime, result.IssuedAt);
        Assert.NotNull(response.Token.SigningKey);
        Assert.False(result.IsSimulated);
    }

    [Fact]
    public async Task Signing_keys_are_fetched_once_and_cached()
    {
        using var client = service.Client();
        Assert.Equal(0, client.SigningKeysFetchCount);
        await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote });
        await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote });
        Assert.Equal(1, client.SigningKeysFetchCount);
        var keys = await client.GetSigningCertificatesAsync();
        Assert.Equal("RSA", Assert.Single(keys).KeyType);
        Assert.Equal(1, client.SigningKeysFetchCount);
    }

    [Fact]
    public async Task OpenEnclave_report_attests_at_the_OpenEnclave_endpoint()
    {
        using var client = service.Client();
        var response = await client.AttestOpenEnclaveAsync(new AttestationRequest { Evidence = OeReport, RuntimeData = new AttestationData(RuntimeData) });
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(OeReport)), response.Value.SgxCollateral!.Value.GetProperty("quotehash").GetString());
        Assert.Equal(AttestationType.OpenEnclave, EnclaveInfoComparison.TypeFor(OeReport));
        Assert.Equal(AttestationType.SgxEnclave, EnclaveInfoComparison.TypeFor(Quote));
    }

    [Fact]
    public async Task Json_runtime_data_and_nonce_come_back_as_claims()
    {
        using var client = service.Client();
        var response = await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote, RuntimeData = new AttestationData(RuntimeData, IsJson: true), Nonce = "nonce-42" });
        Assert.Equal(JsonValueKind.Object, response.Value.RuntimeClaims!.Value.GetProperty("jwk").ValueKind);
        Assert.Null(response.Value.EnclaveHeldData);
        Assert.Equal("nonce-42", response.Value.Nonce);
    }

    [Fact]
    public async Task Draft_policy_answer_is_reported_unsigned_and_a_deny_is_PolicyEvaluationError()
    {
        using var client = service.Client();
        var permit = await client.AttestSgxEnclaveAsync(new AttestationRequest
        {
            Evidence = Quote,
            DraftPolicyForAttestation = "version=1.0; authorizationrules{=> permit();}; issuancerules{=> issue(type=\"custom-name\", value=\"x\");};",
        });
        Assert.False(permit.Token.IsSigned);
        Assert.Null(permit.Token.SigningKey);
        Assert.Equal("x", permit.Value.Claims.GetProperty("custom-name").GetString());

        var e = await Assert.ThrowsAsync<AttestationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest
        {
            Evidence = Quote,
            DraftPolicyForAttestation = "version=1.0; authorizationrules{=> deny();}; issuancerules{};",
        }));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Equal("PolicyEvaluationError", e.ErrorCode);
        Assert.Contains("PolicyEvaluationError", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tampered_quote_maps_the_error_envelope_to_AttestationException()
    {
        var quote = Quote;
        quote[100] ^= 1;
        using var client = service.Client();
        var e = await Assert.ThrowsAsync<AttestationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = quote }));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Equal("InvalidParameter", e.ErrorCode);
        Assert.Contains("STATUS_INVALID_QUOTE_SIGNATURE", e.ServiceMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Runtime_data_that_is_not_bound_to_the_quote_is_refused()
    {
        using var client = service.Client();
        var e = await Assert.ThrowsAsync<AttestationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote, RuntimeData = new AttestationData(new byte[] { 1, 2, 3 }) }));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Contains("RuntimeData", e.ServiceMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unsupported_api_version_is_the_services_InvalidParameter()
    {
        using var client = service.Client(new AttestationClientOptions { ApiVersion = "2019-01-01" });
        var e = await Assert.ThrowsAsync<AttestationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote }));
        Assert.Equal("InvalidParameter", e.ErrorCode);
        Assert.Contains("2019-01-01", e.ServiceMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Both_GA_api_versions_work()
    {
        using var client = service.Client(new AttestationClientOptions { ApiVersion = "2020-10-01" });
        var response = await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote });
        Assert.True(response.Token.IsSigned);
        Assert.Equal("2022-08-01", new AttestationClientOptions().ApiVersion);
    }

    [Fact]
    public async Task The_clients_clock_decides_expiry_not_the_services()
    {
        // The service issues at its pinned 2022 time; a client on the real clock sees an 8-hour token long expired.
        using var client = new AttestationClient(service.Endpoint);
        var e = await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote }));
        Assert.Equal("Expired", e.Reason);

        var late = new FixedClock(ServiceFixture.PinnedTime.AddHours(8).AddSeconds(5));
        using var skewed = new AttestationClient(service.Endpoint, new AttestationClientOptions { TimeProvider = late, ClockSkew = TimeSpan.FromSeconds(10) });
        Assert.True((await skewed.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote })).Token.IsSigned);
        using var strict = new AttestationClient(service.Endpoint, new AttestationClientOptions { TimeProvider = late, ClockSkew = TimeSpan.Zero });
        Assert.Equal("Expired", (await Assert.ThrowsAsync<AttestationTokenValidationException>(() => strict.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote }))).Reason);
    }

    [Fact]
    public async Task An_optional_signing_certificate_issuer_is_pinned_too()
    {
        using var pinned = service.Client(new AttestationClientOptions { SigningCertificateIssuer = "CN=" + service.BaseUrl });
        Assert.True((await pinned.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote })).Token.IsSigned);

        using var other = service.Client(new AttestationClientOptions { SigningCertificateIssuer = "CN=https://sharedwus.wus.attest.azure.net" });
        var e = await Assert.ThrowsAsync<AttestationTokenValidationException>(() => other.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote }));
        Assert.Equal("SigningCertificateMismatch", e.Reason);
    }

    [Fact]
    public async Task OpenId_metadata_names_the_instance()
    {
        using var client = service.Client();
        var metadata = await client.GetOpenIdMetadataAsync();
        Assert.Equal(service.BaseUrl, metadata.GetProperty("issuer").GetString());
    }

    [Fact]
    public void Endpoint_is_normalized_and_bad_ones_are_refused()
    {
        using (var client = new AttestationClient(new Uri("https://sharedwus.wus.attest.azure.net/")))
        {
            Assert.Equal("https://sharedwus.wus.attest.azure.net", client.Endpoint);
        }

        Assert.Throws<ArgumentException>(() => new AttestationClient(new Uri("ftp://example.org")));
        Assert.Throws<ArgumentException>(() => new AttestationClient(new Uri("https://example.org/?x=1")));
        Assert.Throws<ArgumentException>(() => new AttestationClient(new Uri("https://example.org"), new AttestationClientOptions { ApiVersion = "a&b" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AttestationClient(new Uri("https://example.org"), new AttestationClientOptions { ClockSkew = TimeSpan.FromHours(1) }));
    }
}
