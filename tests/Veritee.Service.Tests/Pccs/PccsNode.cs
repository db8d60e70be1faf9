using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Veritee.TestSupport;

namespace Veritee.Service.Tests.Pccs;

/// <summary>A Veritee node serving the PCCS API on loopback, over a fake PCS, on SQLite (a data folder) or PostgreSQL.</summary>
public sealed class PccsNode : IAsyncDisposable
{
    public const string UserToken = "pccs-user-token";
    public const string AdminToken = "pccs-admin-token";
    public const string PcsKey = "test-subscription-key";
    public static readonly byte[] SharedKek = RandomNumberGenerator.GetBytes(32);

    private readonly WebApplication _app;

    private PccsNode(WebApplication app, string baseUrl, string data, FixedClock clock)
    {
        _app = app;
        BaseUrl = baseUrl;
        DataDirectory = data;
        Clock = clock;
    }

    public string BaseUrl { get; }

    public string DataDirectory { get; }

    public FixedClock Clock { get; }

    public HttpClient Http { get; } = new();

    public string V4 => BaseUrl + "/sgx/certification/v4/";

    public static string Hash(string token) => Convert.ToHexStringLower(SHA512.HashData(Encoding.UTF8.GetBytes(token)));

    public static async Task<PccsNode> StartAsync(PccsFillMode mode, PccsFakePcs? pcs, string? data = null, string? postgres = null, Func<ServiceOptions, ServiceOptions>? configure = null, FixedClock? clock = null)
    {
        data ??= Path.Combine(Path.GetTempPath(), "veritee-pccs-" + Guid.NewGuid().ToString("N"));
        var baseUrl = Loopback.HttpUrl();
        var options = new ServiceOptions
        {
            InstanceUrl = "https://pccs.test",
            DataDirectory = data,
            AdminToken = "maa-admin",
            PostgresConnectionString = postgres,
            KeyEncryptionKey = postgres is null ? null : SharedKek,
            PccsMode = mode,
            PccsUserTokenHash = Hash(UserToken),
            PccsAdminTokenHash = Hash(AdminToken).ToUpperInvariant(),
            PccsRefreshInterval = TimeSpan.Zero,
            CollateralServiceUrl = pcs is null ? null : new Uri(pcs.Url),
            RootCaCrlUrl = pcs is null ? null : new Uri(pcs.Url + "/rootcrl.der"),
            CollateralSubscriptionKey = PcsKey,
        };
        clock ??= new FixedClock(DateTimeOffset.FromUnixTimeSeconds(1751624924));
        var app = await VeriteeServer.BuildAsync(configure?.Invoke(options) ?? options, baseUrl, clock);
        await app.StartAsync();
        return new PccsNode(app, baseUrl, data, clock);
    }

    public async Task<HttpResponseMessage> GetAsync(string relative, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, relative.StartsWith("http", StringComparison.Ordinal) ? relative : V4 + relative);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await Http.SendAsync(request);
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string relative, string? json, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, V4 + relative);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await Http.SendAsync(request);
    }

    /// <summary>Stops the node and keeps its data folder (a restart test starts another node on it).</summary>
    public async Task StopAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Http.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (ObjectDisposedException)
        {
            // Already stopped.
        }
    }
}
