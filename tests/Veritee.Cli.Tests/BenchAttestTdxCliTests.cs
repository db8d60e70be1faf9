using System.Text.Json;
using Veritee.Enclave;
using Veritee.Service;
using Veritee.TestSupport;

namespace Veritee.Cli.Tests;

/// <summary><c>bench attest</c> with a TD evidence file: the load goes to /attest/TdxVm of a simulation-mode service.</summary>
public sealed class BenchAttestTdxCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-bench-tdx-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Bench_attest_sends_a_td_file_to_TdxVm_and_reports_the_rs256_floor()
    {
        var url = Loopback.HttpUrl();
        var platformFolder = Path.Combine(_dir, "platform");
        var app = await VeriteeServer.BuildAsync(new ServiceOptions { InstanceUrl = url, DataDirectory = Path.Combine(_dir, "data"), SimulationPlatformDirectory = platformFolder }, url);
        await app.StartAsync();
        try
        {
            var file = Path.Combine(_dir, TdInfo.DefaultFileName);
            var runtime = "{\"bench\":true}"u8.ToArray();
            using (var platform = SimulatedPlatform.Load(platformFolder))
            {
                TdInfo.FromQuote(platform.TdQuote(SimulatedTd.CreateDefault(), TdInfo.ReportDataFor(runtime)), runtime, runtimeDataIsJson: true).Save(file);
            }

            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var exit = VeriteeCommand.Run(["bench", "attest", url, "--quote", file, "--concurrency", "2", "--seconds", "0.3", "--json"], stdout, stderr);

            Assert.True(exit == 0, stdout.ToString() + stderr);
            using var doc = JsonDocument.Parse(stdout.ToString());
            Assert.True(doc.RootElement.GetProperty("requests").GetInt64() > 0);
            Assert.Equal(0, doc.RootElement.GetProperty("errors").GetInt64());
            VerifyCliTests.AssertFloor(doc.RootElement, "rs256-sign", "requestsPerSecond");
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
