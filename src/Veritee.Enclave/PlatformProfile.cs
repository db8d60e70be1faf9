using System.Security.Cryptography;

namespace Veritee.Enclave;

/// <summary>
/// What the simulated platform's PCK certificate certifies and what its quoting enclave reports: FMSPC, PCE-ID,
/// PCESVN, the 16 SGX TCB component SVNs and CPUSVN, the PPID, the QE-ID placed in quote headers, and the QE's ISVSVN.
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
        if (PceSvn == ushort.MaxValue)
        {
            throw new ArgumentException($"{nameof(PceSvn)} must be below {ushort.MaxValue} (a higher TCB level must exist)");
        }

        if (QeSvn == 0)
        {
            throw new ArgumentException($"{nameof(QeSvn)} must be at least 1 (an older, OutOfDate QE level must exist)");
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
