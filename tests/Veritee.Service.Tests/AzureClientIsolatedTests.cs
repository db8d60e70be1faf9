using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>An isolated instance over TLS whose first signer's key and certificate are written as PEM for the npm client.</summary>
public sealed class IsolatedTlsServiceFixture : ServiceFixture
{
    public IsolatedTlsServiceFixture()
    {
        Signer = NewPem("CN=Veritee isolated signer");
        Second = NewPem("CN=Veritee second signer");
    }

    public (string Key, string Cert, X509Certificate2 Certificate) Signer { get; }

    public (string Key, string Cert, X509Certificate2 Certificate) Second { get; }

    protected override bool UseTls => true;

    protected override ServiceOptions Configure(ServiceOptions options) =>
        options with { TrustModel = TrustModel.Isolated, InitialSigners = [Signer.Certificate] };

    private static (string, string, X509Certificate2) NewPem(string subject)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return (rsa.ExportPkcs8PrivateKeyPem(), cert.ExportCertificatePem(), X509CertificateLoader.LoadCertificate(cert.RawData));
    }
}

/// <summary>The official @azure/attestation client against an isolated instance: signed policies and signer management.</summary>
public class AzureClientIsolatedTests(IsolatedTlsServiceFixture service) : IClassFixture<IsolatedTlsServiceFixture>
{
    [Fact]
    public void The_official_client_manages_an_isolated_instance()
    {
        var folder = ProcessRunner.CompatSuite("azure-attestation", Path.Combine("@azure", "attestation"));
        var temp = Directory.CreateTempSubdirectory("veritee-iso-").FullName;
        try
        {
            string Write(string name, string text)
            {
                var path = Path.Combine(temp, name);
                File.WriteAllText(path, text);
                return path;
            }

            var args = $"drive-isolated.mjs --endpoint {service.BaseUrl} --admin-token {ServiceFixture.AdminToken} " +
                $"--signer-key {Write("k1.pem", service.Signer.Key)} --signer-cert {Write("c1.pem", service.Signer.Cert)} " +
                $"--new-key {Write("k2.pem", service.Second.Key)} --new-cert {Write("c2.pem", service.Second.Cert)}";
            var output = ProcessRunner.Run("node", args, folder, new Dictionary<string, string> { ["NODE_EXTRA_CA_CERTS"] = Write("ca.pem", service.TlsCertificatePem!) });
            using var doc = JsonDocument.Parse(output);
            var steps = doc.RootElement.GetProperty("steps").EnumerateArray().ToList();
            Assert.Equal(9, steps.Count);
            foreach (var step in steps)
            {
                Assert.True(step.GetProperty("ok").GetBoolean(), $"{step.GetProperty("name")}: {step.GetProperty("detail")}");
            }
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }
}
