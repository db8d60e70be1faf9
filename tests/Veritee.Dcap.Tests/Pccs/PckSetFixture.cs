using Veritee.Dcap.Pccs;
using Veritee.Enclave;

namespace Veritee.Dcap.Tests.Pccs;

/// <summary>One simulated platform (its root, Processor CA and TCB Signing key) shared by the PCCS tests.</summary>
public sealed class PckSetFixture : IDisposable
{
    /// <summary>A fixed issue time: the tests never depend on the clock.</summary>
    public static readonly DateTimeOffset IssuedAt = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "veritee-pccs-" + Guid.NewGuid().ToString("N"));

    public PckSetFixture()
    {
        Platform = SimulatedPlatform.Create(_folder, IssuedAt);
    }

    public SimulatedPlatform Platform { get; }

    /// <summary>A TCB with the given leading component SVNs (the rest 0) and PCESVN.</summary>
    public static PcsTcb Tcb(ushort pceSvn, params byte[] leading)
    {
        var components = new byte[16];
        leading.CopyTo(components, 0);
        return new PcsTcb(components, pceSvn);
    }

    public PckCertificateSet Issue(IReadOnlyList<PcsTcb> levels, Func<PckCertificateSetOptions, PckCertificateSetOptions>? tweak = null)
    {
        var options = new PckCertificateSetOptions { IssuedAt = IssuedAt, Levels = levels };
        return PckCertificateSet.Issue(Platform, tweak is null ? options : tweak(options));
    }

    public void Dispose()
    {
        Platform.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
