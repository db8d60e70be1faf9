using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Veritee.Service;
using Veritee.TestSupport;

namespace Veritee.Client.Tests;


/// <summary>The same service over https with a fresh self-signed certificate for 127.0.0.1.</summary>
public sealed class TlsServiceFixture : ServiceFixture
{
    protected override bool UseTls => true;
}

/// <summary>
/// An instance serving the 2025-05 collateral of the Intel SDK sample's platform (case sgx-v3-outofdate-2025-05, PCK
/// issued 2023-02-27), at that case's verification time.
/// </summary>
public sealed class IntelSampleServiceFixture : ServiceFixture
{
    public IntelSampleServiceFixture()
        : base("sgx-v3-outofdate-2025-05", DateTimeOffset.FromUnixTimeSeconds(1749669497))
    {
    }
}

/// <summary>A second, independent instance (its own data folder, so its own signing key).</summary>
public sealed class OtherServiceFixture : ServiceFixture;

/// <summary>A real Veritee service on a loopback port with SQLite in a temporary folder (after the service tests' fixture).</summary>
public class ServiceFixture : IAsyncLifetime
{
    public const string AdminToken = "client-test-admin-token";

    /// <summary>Inside the collateral window of the 2022 Azure-sample platform (case sgx-v3-oe-envelope-legacy-root-2022-05).</summary>
    public static readonly DateTimeOffset PinnedTime = DateTimeOffset.FromUnixTimeSeconds(1652310227);

    private readonly string _collateralCase;

    public ServiceFixture()
        : this("sgx-v3-oe-envelope-legacy-root-2022-05", PinnedTime)
    {
    }

    protected ServiceFixture(string collateralCase, DateTimeOffset time)
    {
        _collateralCase = collateralCase;
        Clock = new FixedClock(time);
    }

    private readonly string _data = Path.Combine(Path.GetTempPath(), "veritee-client-tests-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _app;

    public FixedClock Clock { get; }

    public string BaseUrl { get; private set; } = string.Empty;

    public Uri Endpoint => new(BaseUrl);

    /// <summary>The TLS certificate (https fixtures only).</summary>
    public X509Certificate2? TlsCertificate { get; private set; }

    protected virtual bool UseTls => false;

    /// <summary>When set before start, the instance URL the service puts in its tokens (an impostor of another instance).</summary>
    public string? ClaimedInstanceUrl { get; init; }

    /// <summary>The trust model (AAD unless set before start).</summary>
    public TrustModel TrustModel { get; init; } = TrustModel.Aad;

    /// <summary>Isolated model: the signers registered on first start.</summary>
    public IReadOnlyList<X509Certificate2> InitialSigners { get; init; } = [];

    public static string Evidence(string name) => Path.Combine(Vectors.Directory, "maa", "sdk-cpp-2022", "evidence", name);

    public static string SampleFile(string sdk, string variant) => Path.Combine(Vectors.Directory, "maa", "azure-samples-quotes", sdk, $"enclave.info.{variant}.json");

    /// <summary>Client options pinned to the service's clock.</summary>
    public AttestationClientOptions Options(AttestationClientOptions? options = null) =>
        (options ?? new AttestationClientOptions()) with { TimeProvider = Clock };

    public AttestationClient Client(AttestationClientOptions? options = null) => new(Endpoint, Options(options));

    public AttestationAdministrationClient Admin(string token = AdminToken, AttestationClientOptions? options = null) =>
        new(Endpoint, AttestationCredential.FromToken(token), Options(options));

    public async Task InitializeAsync()
    {
        var port = Loopback.FreePort();
        BaseUrl = $"{(UseTls ? "https" : "http")}://127.0.0.1:{port}";
        if (UseTls)
        {
            TlsCertificate = Loopback.SelfSignedCertificate();
        }

        var options = new ServiceOptions
        {
            TlsCertificate = TlsCertificate,
            InstanceUrl = ClaimedInstanceUrl ?? BaseUrl,
            DataDirectory = _data,
            AdminToken = AdminToken,
            TrustModel = TrustModel,
            InitialSigners = InitialSigners,
            CollateralDirectory = Vectors.DcapCase(_collateralCase),
        };
        _app = await VeriteeServer.BuildAsync(options, BaseUrl, Clock);
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_data, recursive: true);
        TlsCertificate?.Dispose();
    }


}
