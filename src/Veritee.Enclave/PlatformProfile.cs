using System.Security.Cryptography;

namespace Veritee.Enclave;

/// <summary>
/// What the simulated platform's PCK certificate certifies and what its quoting enclave reports: FMSPC, PCE-ID,
/// PCESVN, the 16 SGX TCB component SVNs and CPUSVN, the PPID, the QE-ID placed in quote headers, and the QE's ISVSVN;
/// for TDX, the loaded TDX module (TEE_TCB_SVN, TEE_TCB_SVN2, MRSEAM, MRSIGNERSEAM, SEAM attributes) and the TD QE's ISVSVN.
/// The TDX fields have defaults, so a platform.json written before TDX support loads unchanged.
/// </summary>
public sealed record PlatformProfile
{
    /// <summary>FMSPC of the simulated platform family (6 bytes).</summary>
    public required byte[] Fmspc { get; init; }

    /// <summary>PCE-ID (2 bytes).</summary>
    public required byte[] PceId { get; init; }

    /// <summary>PCESVN certified in the PCK certificate and written in quote headers.</summary>
    public required ushort PceSvn { get; init; }

    /// <summary>The 16 SGX TCB component SVNs certified in the PCK certificate.</summary>
    public required byte[] TcbComponents { get; init; }

    /// <summary>CPUSVN (16 bytes); equals the component SVNs, as on Intel's certificates.</summary>
    public byte[] CpuSvn => TcbComponents;

    /// <summary>PPID (16 bytes).</summary>
    public required byte[] Ppid { get; init; }

    /// <summary>QE-ID (16 bytes): the quoting enclave puts it in the header's user data.</summary>
    public required byte[] QeId { get; init; }

    /// <summary>ISVSVN of the simulated quoting enclave.</summary>
    public required ushort QeSvn { get; init; }

    /// <summary>Default TEE_TCB_SVN: TDX module SVN 5, module major version 1 (so TCB Info names the module identity TDX_01), late microcode SVN 2.</summary>
    public static readonly IReadOnlyList<byte> DefaultTeeTcbSvn = [5, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>
    /// Default TEE_TCB_SVN2 (TD 1.5 reports): the module loaded now, one SVN ahead of the one the TD launched on, as after a
    /// TD-preserving module update; collateral that makes SVN 5 OutOfDate and SVN 6 current then advises a TD relaunch.
    /// </summary>
    public static readonly IReadOnlyList<byte> DefaultTeeTcbSvn2 = [6, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>Default MRSEAM: SHA-384 of a fixed name (a stable stand-in for the module's measurement).</summary>
    public static readonly IReadOnlyList<byte> DefaultMrSeam = SHA384.HashData("veritee-simulated-tdx-module"u8);

    /// <summary>Default TD QE ISVSVN.</summary>
    public const ushort DefaultTdQeSvn = 4;

    /// <summary>TEE_TCB_SVN of TD reports (16 bytes): [0] module SVN, [1] module major version (0 = legacy single identity), [2] late microcode SVN.</summary>
    public byte[] TeeTcbSvn { get; init; } = [.. DefaultTeeTcbSvn];

    /// <summary>TEE_TCB_SVN2 of TD 1.5 reports (16 bytes): the currently loaded module's TEE TCB SVN.</summary>
    public byte[] TeeTcbSvn2 { get; init; } = [.. DefaultTeeTcbSvn2];

    /// <summary>MRSEAM of TD reports (48 bytes).</summary>
    public byte[] MrSeam { get; init; } = [.. DefaultMrSeam];

    /// <summary>MRSIGNERSEAM of TD reports (48 bytes); zero for Intel-signed modules, and TCB Info's <c>tdxModule.mrsigner</c>.</summary>
    public byte[] MrSignerSeam { get; init; } = new byte[48];

    /// <summary>SEAM attributes of TD reports (8 bytes); QVL requires zero.</summary>
    public byte[] SeamAttributes { get; init; } = new byte[8];

    /// <summary>ISVSVN of the simulated TD quoting enclave (TD_QE).</summary>
    public ushort TdQeSvn { get; init; } = DefaultTdQeSvn;

    /// <summary>A new profile with Intel-like values and random PPID and QE-ID.</summary>
    public static PlatformProfile CreateDefault() => new()
    {
        Fmspc = Convert.FromHexString("30606A000000"),
        PceId = [0, 0],
        PceSvn = 13,
        TcbComponents = [14, 14, 2, 4, 1, 128, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        Ppid = RandomNumberGenerator.GetBytes(16),
        QeId = RandomNumberGenerator.GetBytes(16),
        QeSvn = 8,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field with a wrong length or value.</summary>
    public void Validate()
    {
        Check(Fmspc, 6, nameof(Fmspc));
        Check(PceId, 2, nameof(PceId));
        Check(TcbComponents, 16, nameof(TcbComponents));
        Check(Ppid, 16, nameof(Ppid));
        Check(QeId, 16, nameof(QeId));
        Check(TeeTcbSvn, 16, nameof(TeeTcbSvn));
        Check(TeeTcbSvn2, 16, nameof(TeeTcbSvn2));
        Check(MrSeam, 48, nameof(MrSeam));
        Check(MrSignerSeam, 48, nameof(MrSignerSeam));
        Check(SeamAttributes, 8, nameof(SeamAttributes));
        if (PceSvn == ushort.MaxValue)
        {
            throw new ArgumentException($"{nameof(PceSvn)} must be below {ushort.MaxValue} (a higher TCB level must exist)");
        }

        if (QeSvn == 0)
        {
            throw new ArgumentException($"{nameof(QeSvn)} must be at least 1 (an older, OutOfDate QE level must exist)");
        }

        if (TdQeSvn == 0)
        {
            throw new ArgumentException($"{nameof(TdQeSvn)} must be at least 1 (an older, OutOfDate TD QE level must exist)");
        }

        if (TeeTcbSvn[0] == byte.MaxValue || TeeTcbSvn2[0] == byte.MaxValue)
        {
            throw new ArgumentException($"{nameof(TeeTcbSvn)}[0] and {nameof(TeeTcbSvn2)}[0] must be below 255 (a newer module level must exist)");
        }

        static void Check(byte[]? value, int length, string name)
        {
            if (value is null || value.Length != length)
            {
                throw new ArgumentException($"{name} must be {length} bytes, got {value?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
            }
        }
    }
}
