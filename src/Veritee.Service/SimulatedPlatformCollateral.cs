using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Enclave;

namespace Veritee.Service;

/// <summary>
/// Collateral for the simulated platform, issued by the service itself (TCB UpToDate) and re-issued before it
/// expires, so simulation works with the real clock and no files to manage.
/// </summary>
public sealed class SimulatedPlatformCollateral : IDisposable
{
    private static readonly TimeSpan Validity = TimeSpan.FromDays(30);
    private readonly SimulatedPlatform _platform;
    private readonly Lock _lock = new();
    private (DateTimeOffset IssuedAt, QuoteCollateral Collateral)? _current;

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

    /// <summary>Current collateral when <paramref name="fmspc"/> is the simulated platform's, else null.</summary>
    public (QuoteCollateral Collateral, TrustAnchor Anchor)? For(ReadOnlySpan<byte> fmspc, DateTimeOffset now)
    {
        if (!fmspc.SequenceEqual(Fmspc))
        {
            return null;
        }

        lock (_lock)
        {
            // Re-issue at half-life, and whenever the clock is before the issue time (tests move clocks).
            if (_current is not { } current || now < current.IssuedAt || now > current.IssuedAt + (Validity / 2))
            {
                var issuedAt = now.AddMinutes(-5);
                var issued = CollateralAuthority.Issue(_platform, new CollateralOptions { IssuedAt = issuedAt, Validity = Validity });
                _current = (issuedAt, issued.ToQuoteCollateral());
            }

            return (_current.Value.Collateral, Anchor);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _platform.Dispose();
}
