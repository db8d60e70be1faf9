using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>The same service over https (the Azure admin client refuses bearer tokens over plain http).</summary>
public sealed class TlsServiceFixture : ServiceFixture
{
    protected override bool UseTls => true;
}


/// <summary>A real service on a loopback port with SQLite in a temporary folder.</summary>
public class ServiceFixture : IAsyncLifetime
{
    public const string AdminToken = "test-admin-token";

    /// <summary>Inside the collateral window of the 2022 Azure-sample platform (case sgx-v3-oe-envelope-legacy-root-2022-05).</summary>
    public static readonly DateTimeOffset PinnedTime = DateTimeOffset.FromUnixTimeSeconds(1652310227);

    private readonly string _data = Path.Combine(Path.GetTempPath(), "veritee-service-tests-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _app;

    public FixedClock Clock { get; } = new(PinnedTime);

    public string BaseUrl { get; private set; } = string.Empty;

    public HttpClient Http { get; private set; } = new();

    /// <summary>This node's own data folder (another node may be pointed at it to share its SQLite store).</summary>
    public string DataDirectory => _data;

    /// <summary>Adjusts the options before the service starts (trust model, signers…).</summary>
    protected virtual ServiceOptions Configure(ServiceOptions options) => options;

    /// <summary>When true the service listens on https with a fresh self-signed certificate for 127.0.0.1.</summary>
    protected virtual bool UseTls => false;

    /// <summary>PEM of the TLS certificate (for clients that must trust it).</summary>
    public string? TlsCertificatePem { get; private set; }

    public static string Evidence(string name) => Path.Combine(Vectors.Directory, "maa", "sdk-cpp-2022", "evidence", name);

    public async Task InitializeAsync()
    {
        var port = Loopback.FreePort();
        BaseUrl = $"{(UseTls ? "https" : "http")}://127.0.0.1:{port}";
        System.Security.Cryptography.X509Certificates.X509Certificate2? tls = null;
        if (UseTls)
        {
            tls = Loopback.SelfSignedCertificate();
            TlsCertificatePem = tls.ExportCertificatePem();
            var trusted = tls.RawData;
            Http.Dispose();
            Http = new HttpClient(new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && cert.RawData.AsSpan().SequenceEqual(trusted),
            });
        }

        var options = new ServiceOptions
        {
            TlsCertificate = tls,
            InstanceUrl = BaseUrl,
            DataDirectory = _data,
            AdminToken = AdminToken,
            CollateralDirectory = Vectors.DcapCase("sgx-v3-oe-envelope-legacy-root-2022-05"),
        };
        _app = await VeriteeServer.BuildAsync(Configure(options), BaseUrl, Clock);
        await _app.StartAsync();
    }

    /// <summary>Stops the service and keeps its data folder (a restart test starts another node on it).</summary>
    public async Task StopKeepingDataAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }

    public async Task<(HttpStatusCode Status, JsonObject Body)> Send(HttpMethod method, string path, string? body = null, string? contentType = "application/json", bool admin = false)
    {
        using var request = new HttpRequestMessage(method, BaseUrl + path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType ?? "application/json");
        }

        // A client that waits for 100-continue gets a clean 413 instead of a reset while still sending a huge body.
        request.Headers.ExpectContinue = body is { Length: > 65536 };
        if (admin)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminToken);
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, (JsonObject)JsonNode.Parse(text)!);
    }


}
