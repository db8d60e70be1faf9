using Veritee.Dcap;
using Veritee.Dcap.Verification;
using Veritee.Enclave;
using Veritee.Sgx;

namespace Veritee.Service.Tests;

/// <summary>The service's own collateral for the simulated platform: one bundle per TEE type, same FMSPC.</summary>
public sealed class SimulatedPlatformCollateralTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "veritee-simcoll-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public void Sgx_and_td_quotes_of_the_platform_get_their_own_bundle()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        using var authority = new SimulatedPlatformCollateral(_folder, TimeProvider.System);
        using var platform = SimulatedPlatform.Load(_folder);
        var reportData = SampleEnclave.ReportDataFor("runtime"u8);
        var enclave = new SimulatedEnclave { MrEnclave = SimulatedEnclave.MeasureName("e"), MrSigner = SimulatedEnclave.MrSignerOf(platform.EnclaveSignerKey) };
        var sgxQuote = platform.Quote(enclave, reportData);
        var tdQuote = platform.TdQuote(SimulatedTd.CreateDefault(), reportData, 5, td15: true);

        var sgx = authority.For(platform.Profile.Fmspc, TeeType.Sgx, now)!.Value;
        var tdx = authority.For(platform.Profile.Fmspc, TeeType.Tdx, now)!.Value;
        Assert.Equal(QvlStatus.STATUS_OK, QuoteVerifier.VerifyCold(sgxQuote, sgx.Collateral, sgx.Anchor, now).Status);
        Assert.Equal(QvlStatus.STATUS_OK, QuoteVerifier.VerifyCold(tdQuote, tdx.Collateral, tdx.Anchor, now).Status);
        Assert.Equal(QvlStatus.STATUS_TCB_INFO_MISMATCH, QuoteVerifier.VerifyCold(tdQuote, sgx.Collateral, sgx.Anchor, now).Status);
        Assert.Equal(QvlStatus.STATUS_TCB_INFO_MISMATCH, QuoteVerifier.VerifyCold(sgxQuote, tdx.Collateral, tdx.Anchor, now).Status);

        // Cached per TEE until half-life: the same bundle again, for each.
        Assert.Same(tdx.Collateral, authority.For(platform.Profile.Fmspc, TeeType.Tdx, now.AddDays(1))!.Value.Collateral);
        Assert.Same(sgx.Collateral, authority.For(platform.Profile.Fmspc, TeeType.Sgx, now.AddDays(1))!.Value.Collateral);
        var renewed = authority.For(platform.Profile.Fmspc, TeeType.Tdx, now.AddDays(20))!.Value;
        Assert.NotSame(tdx.Collateral, renewed.Collateral);
        Assert.Equal(QvlStatus.STATUS_OK, QuoteVerifier.VerifyCold(tdQuote, renewed.Collateral, renewed.Anchor, now.AddDays(20)).Status);

        Assert.Null(authority.For(new byte[6], TeeType.Tdx, now));
        Assert.Null(authority.For(platform.Profile.Fmspc, (TeeType)0x42, now));
    }
}
