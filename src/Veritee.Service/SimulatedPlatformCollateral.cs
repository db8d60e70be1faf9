using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Enclave;
using Veritee.Sgx;

namespace Veritee.Service;

/// <summary>
/// Collateral for the simulated platform, issued by the service itself (TCB UpToDate) and re-issued before it
/// expires, so simulation works with the real clock and no files to manage. SGX and TDX quotes of the platform share
/// its FMSPC; each TEE gets its own bundle (TCB Info id SGX with QE Identity, or id TDX with TD_QE Identity).
/// </summary>
public sealed class SimulatedPlatformCollateral : IDisposable
{
    private static readonly TimeSpan Validity = TimeSpan.FromDays(30);
    private readonly SimulatedPlatform _platform;
    private readonly Lock _lock = new();
    private (DateTimeOffset IssuedAt, QuoteCollateral Collateral)? _sgx;
    private (DateTimeOffset IssuedAt, QuoteCollateral Collateral)? _tdx;

    /// <summary>Loads the platform in <paramref name="folder"/>, creating it when the folder is empty.</summary>
    public SimulatedPlatformCollateral(string folder, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        _platform = SimulatedPlatform.LoadOrCreate(folder, clock.GetUtcNow(), out _);
        Anchor = _platform.TrustAnchor;
        Fmspc = _platform.Profile.Fmspc;
    }

    /// <summary>The simulated root's key.</summary>
    public TrustAnchor Anchor { get; }

    /// <summary>The simulated platform's FMSPC.</summary>
    public byte[] Fmspc { get; }

    /// <summary>
    /// Current collateral for quotes of <paramref name="tee"/> (SGX or TDX) when <paramref name="fmspc"/> is the
    /// simulated platform's, else null (also for any other TEE type).
    /// </summary>
    public (QuoteCollateral Collateral, TrustAnchor Anchor)? For(ReadOnlySpan<byte> fmspc, TeeType tee, DateTimeOffset now)
    {
        if (!fmspc.SequenceEqual(Fmspc) || tee is not (TeeType.Sgx or TeeType.Tdx))
        {
            return null;
        }

        lock (_lock)
        {
            ref var current = ref tee == TeeType.Tdx ? ref _tdx : ref _sgx;

            // Re-issue at half-life, and whenever the clock is before the issue time (tests move clocks).
            if (current is not { } cached || now < cached.IssuedAt || now > cached.IssuedAt + (Validity / 2))
            {
                var issuedAt = now.AddMinutes(-5);
                var issued = CollateralAuthority.Issue(_platform, new CollateralOptions { IssuedAt = issuedAt, Validity = Validity }, tee);
                current = (issuedAt, issued.ToQuoteCollateral());
            }

            return (current.Value.Collateral, Anchor);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _platform.Dispose();
}
