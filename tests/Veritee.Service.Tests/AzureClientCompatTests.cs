using System.Text.Json;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>
/// The official Azure SDK client <c>@azure/attestation</c> 1.0.0 (npm) against the service on loopback, with the
/// client's own token validation on (signature from /certs, issuer). Time checks are off in the client because the
/// service's clock is pinned inside the 2022 collateral window of the real quote.
/// </summary>
public class AzureClientCompatTests(TlsServiceFixture service) : IClassFixture<TlsServiceFixture>
{
    public static TheoryData<string> Steps() =>
    [
        "openid", "signers", "attestSgxEnclave", "attestOpenEnclave", "attestSgxEnclave runTimeJson", "attestSgxEnclave draft policy",
        "getPolicy default", "setPolicy", "getPolicy after set", "attest under the new policy", "resetPolicy",
        "TdxVm policy set, get and reset", "getPolicyManagementCertificates", "attest tampered quote is refused",
    ];

    private static readonly Lazy<string> Folder = new(() => ProcessRunner.CompatSuite("azure-attestation", Path.Combine("@azure", "attestation")));

    [Fact]
    public void The_official_client_completes_every_step()
    {
        var caFile = Path.Combine(Path.GetTempPath(), $"veritee-compat-ca-{Guid.NewGuid():N}.pem");
        File.WriteAllText(caFile, service.TlsCertificatePem);
        var output = ProcessRunner.Run("node", $"drive.mjs --endpoint {service.BaseUrl} --admin-token {ServiceFixture.AdminToken} --evidence \"{Path.GetDirectoryName(ServiceFixture.Evidence("x"))}\" --no-time-checks", Folder.Value,
            new Dictionary<string, string> { ["NODE_EXTRA_CA_CERTS"] = caFile }); // Node trusts exactly the service's certificate.
        File.Delete(caFile);
        using var doc = JsonDocument.Parse(output);
        var steps = doc.RootElement.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s);
        foreach (var name in Steps())
        {
            Assert.True(steps.TryGetValue(name!.ToString()!, out var step), $"step {name} did not run");
            Assert.True(step.GetProperty("ok").GetBoolean(), $"step {name}: {step.GetProperty("detail")}");
        }
    }
}
