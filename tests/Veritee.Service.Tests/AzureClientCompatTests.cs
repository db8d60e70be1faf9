using System.Diagnostics;
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
        "getPolicyManagementCertificates", "attest tampered quote is refused",
    ];

    private static readonly Lazy<string> Folder = new(() =>
    {
        var folder = Path.Combine(Vectors.RepositoryRoot, "tests", "compat", "azure-attestation");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "@azure", "attestation")))
        {
            Run("npm", "ci --no-audit --no-fund", folder);
        }

        return folder;
    });

    [Fact]
    public void The_official_client_completes_every_step()
    {
        var caFile = Path.Combine(Path.GetTempPath(), $"veritee-compat-ca-{Guid.NewGuid():N}.pem");
        File.WriteAllText(caFile, service.TlsCertificatePem);
        var output = Run("node", $"drive.mjs --endpoint {service.BaseUrl} --admin-token {ServiceFixture.AdminToken} --evidence \"{Path.GetDirectoryName(ServiceFixture.Evidence("x"))}\" --no-time-checks", Folder.Value, caFile);
        File.Delete(caFile);
        using var doc = JsonDocument.Parse(output);
        var steps = doc.RootElement.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s);
        foreach (var name in Steps())
        {
            Assert.True(steps.TryGetValue(name!.ToString()!, out var step), $"step {name} did not run");
            Assert.True(step.GetProperty("ok").GetBoolean(), $"step {name}: {step.GetProperty("detail")}");
        }
    }

    private static string Run(string file, string args, string folder, string? extraCa = null)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        if (extraCa is not null)
        {
            // Node trusts exactly the service's self-signed certificate; TLS verification stays on.
            psi.Environment["NODE_EXTRA_CA_CERTS"] = extraCa;
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {args} did not finish in 5 minutes");
        }

        return process.ExitCode == 0 ? stdout.Result : throw new InvalidOperationException($"{file} {args} exited {process.ExitCode}: {stderr.Result}");
    }
}
