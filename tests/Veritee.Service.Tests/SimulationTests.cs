using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Veritee.Enclave;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>A service trusting a simulated platform (in a temporary folder), with the real clock.</summary>
public abstract class SimulatedServiceTests : IAsyncLifetime
{
    private WebApplication? _app;

    protected string Folder { get; } = Path.Combine(Path.GetTempPath(), "veritee-sim-" + Guid.NewGuid().ToString("N"));

    protected string Url { get; private set; } = string.Empty;

    protected string PlatformFolder => Path.Combine(Folder, "platform");

    public async Task InitializeAsync()
    {
        Url = Loopback.HttpUrl();
        _app = await VeriteeServer.BuildAsync(new ServiceOptions
        {
            InstanceUrl = Url,
            DataDirectory = Path.Combine(Folder, "data"),
            SimulationPlatformDirectory = PlatformFolder,
        }, Url);
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app!.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Folder, recursive: true);
    }

    protected async Task<(HttpStatusCode, System.Text.Json.Nodes.JsonObject)> PostAttest(string body)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync(Url + "/attest/SgxEnclave?api-version=2022-08-01", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        return (response.StatusCode, (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }
}

public sealed class SimulationTests : SimulatedServiceTests
{
    private Task<(HttpStatusCode, System.Text.Json.Nodes.JsonObject)> Attest(byte[] quote, byte[] ehd) =>
        PostAttest("{\"quote\":\"" + System.Buffers.Text.Base64Url.EncodeToString(quote) + "\",\"runtimeData\":{\"data\":\"" +
            System.Buffers.Text.Base64Url.EncodeToString(ehd) + "\",\"dataType\":\"Binary\"}}");

    [Fact]
    public async Task A_quote_from_the_simulated_platform_gets_a_token_marked_simulated()
    {
        using var platform = SimulatedPlatform.Load(PlatformFolder);
        var enclave = new SimulatedEnclave
        {
            MrEnclave = SimulatedEnclave.MeasureName("service-test"),
            MrSigner = SimulatedEnclave.MrSignerOf(platform.EnclaveSignerKey),
            ProductId = 7,
            SecurityVersion = 3,
            Debug = false,
        };
        var ehd = "enclave-held data"u8.ToArray();
        var quote = platform.Quote(enclave, [.. SHA256.HashData(ehd), .. new byte[32]]);
        var (status, body) = await Attest(quote, ehd);
        Assert.Equal(HttpStatusCode.OK, status);
        var claims = Jwt.Claims(body["token"]!.GetValue<string>());
        Assert.True(claims["veritee-simulated"]!.GetValue<bool>());
        Assert.Equal(7, claims["x-ms-sgx-product-id"]!.GetValue<int>());
        Assert.Equal(3, claims["svn"]!.GetValue<int>());
        Assert.False(claims["is-debuggable"]!.GetValue<bool>());
        Assert.Equal(Convert.ToHexStringLower(enclave.MrEnclave), claims["sgx-mrenclave"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_real_intel_quote_is_refused_when_only_simulation_is_configured()
    {
        var quote = File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"));
        var (status, body) = await Attest(quote, File.ReadAllBytes(ServiceFixture.Evidence("runtime-data.bin")));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("no collateral", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}

/// <summary>initTimeData binds to CONFIGID; JSON init-time data becomes x-ms-inittime.</summary>
public sealed class InitTimeDataTests : SimulatedServiceTests
{
    private async Task<(HttpStatusCode, System.Text.Json.Nodes.JsonObject)> Attest(byte[] initTime)
    {
        using var platform = SimulatedPlatform.Load(PlatformFolder);
        var json = "{\"tenant\":\"blue\",\"replicas\":3}"u8.ToArray();
        var enclave = new SimulatedEnclave
        {
            MrEnclave = SimulatedEnclave.MeasureName("init-time"),
            MrSigner = SimulatedEnclave.MrSignerOf(platform.EnclaveSignerKey),
            ConfigId = [.. SHA256.HashData(json), .. new byte[32]],
        };
        var quote = platform.Quote(enclave, new byte[64]);
        return await PostAttest("{\"quote\":\"" + System.Buffers.Text.Base64Url.EncodeToString(quote) + "\",\"initTimeData\":{\"data\":\"" +
            System.Buffers.Text.Base64Url.EncodeToString(initTime) + "\",\"dataType\":\"JSON\"}}");
    }

    [Fact]
    public async Task Init_time_data_matching_CONFIGID_is_issued_as_x_ms_inittime()
    {
        var (status, body) = await Attest("{\"tenant\":\"blue\",\"replicas\":3}"u8.ToArray());
        Assert.Equal(HttpStatusCode.OK, status);
        var claims = Jwt.Claims(body["token"]!.GetValue<string>());
        Assert.Equal("blue", claims["x-ms-inittime"]!["tenant"]!.GetValue<string>());
        Assert.StartsWith(Convert.ToHexStringLower(SHA256.HashData("{\"tenant\":\"blue\",\"replicas\":3}"u8.ToArray())), claims["x-ms-sgx-config-id"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_time_data_that_does_not_match_CONFIGID_is_refused()
    {
        var (status, body) = await Attest("{\"tenant\":\"red\"}"u8.ToArray());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("InitTimeData", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
