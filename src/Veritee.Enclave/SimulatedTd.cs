using System.Security.Cryptography;
using System.Text;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>
/// A simulated trust domain (TDX guest): what the TD's own report states. The TDX module fields of the report
/// (TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, SEAM attributes, TEE_TCB_SVN2) come from the platform's <see cref="PlatformProfile"/>.
/// </summary>
public sealed record SimulatedTd
{
    /// <summary>Default TD attributes: SEPT_VE_DISABLE (bit 28) set, not debug.</summary>
    public static readonly IReadOnlyList<byte> DefaultAttributes = [0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00];

    /// <summary>Default XFAM, the value Azure TDX guests report.</summary>
    public static readonly IReadOnlyList<byte> DefaultXfam = [0xE7, 0x18, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00];

    /// <summary>MRTD (48 bytes): the measurement of the TD's initial image.</summary>
    public required byte[] MrTd { get; init; }

    /// <summary>RTMR0 (48 bytes): firmware configuration.</summary>
    public byte[] RtMr0 { get; init; } = new byte[48];

    /// <summary>RTMR1 (48 bytes): OS loader and kernel.</summary>
    public byte[] RtMr1 { get; init; } = new byte[48];

    /// <summary>RTMR2 (48 bytes): OS command line and initrd.</summary>
    public byte[] RtMr2 { get; init; } = new byte[48];

    /// <summary>RTMR3 (48 bytes): guest-defined.</summary>
    public byte[] RtMr3 { get; init; } = new byte[48];

    /// <summary>MRCONFIGID (48 bytes).</summary>
    public byte[] MrConfigId { get; init; } = new byte[48];

    /// <summary>MROWNER (48 bytes).</summary>
    public byte[] MrOwner { get; init; } = new byte[48];

    /// <summary>MROWNERCONFIG (48 bytes).</summary>
    public byte[] MrOwnerConfig { get; init; } = new byte[48];

    /// <summary>TD attributes (8 bytes, as in the report): byte 0 bit 0 DEBUG, bit 28 SEPT_VE_DISABLE, bit 29 MIGRATABLE.</summary>
    public byte[] Attributes { get; init; } = [.. DefaultAttributes];

    /// <summary>XFAM (8 bytes).</summary>
    public byte[] Xfam { get; init; } = [.. DefaultXfam];

    /// <summary>MRSERVICETD (48 bytes), reported by TD 1.5 bodies only.</summary>
    public byte[] MrServiceTd { get; init; } = new byte[48];

    /// <summary>True when the DEBUG attribute (bit 0) is set: the host can read and change the TD's memory.</summary>
    public bool Debug => (Attributes[0] & 0x01) != 0;

    /// <summary>A TD named <paramref name="name"/>: MRTD and RTMR0..2 are SHA-384 of the name and the register, so the same name gives the same TD.</summary>
    public static SimulatedTd CreateDefault(string name = "veritee-simulated-td", bool debug = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        var td = new SimulatedTd
        {
            MrTd = Measure(name, "mrtd"),
            RtMr0 = Measure(name, "rtmr0"),
            RtMr1 = Measure(name, "rtmr1"),
            RtMr2 = Measure(name, "rtmr2"),
        };
        return debug ? td.WithDebug() : td;
    }

    /// <summary>A copy with the DEBUG attribute set to <paramref name="debug"/>.</summary>
    public SimulatedTd WithDebug(bool debug = true)
    {
        byte[] attributes = [.. Attributes];
        attributes[0] = (byte)(debug ? attributes[0] | 0x01 : attributes[0] & ~0x01);
        return this with { Attributes = attributes };
    }

    /// <summary>RTMR <paramref name="index"/> (0..3).</summary>
    public byte[] RtMr(int index) => index switch
    {
        0 => RtMr0,
        1 => RtMr1,
        2 => RtMr2,
        3 => RtMr3,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "RTMR index is 0..3"),
    };

    /// <summary>A copy with RTMR <paramref name="index"/> (0..3) replaced by <paramref name="value"/>.</summary>
    public SimulatedTd WithRtMr(int index, byte[] value) => index switch
    {
        0 => this with { RtMr0 = value },
        1 => this with { RtMr1 = value },
        2 => this with { RtMr2 = value },
        3 => this with { RtMr3 = value },
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "RTMR index is 0..3"),
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field with a wrong length.</summary>
    public void Validate()
    {
        Check(MrTd, 48, nameof(MrTd));
        Check(RtMr0, 48, nameof(RtMr0));
        Check(RtMr1, 48, nameof(RtMr1));
        Check(RtMr2, 48, nameof(RtMr2));
        Check(RtMr3, 48, nameof(RtMr3));
        Check(MrConfigId, 48, nameof(MrConfigId));
        Check(MrOwner, 48, nameof(MrOwner));
        Check(MrOwnerConfig, 48, nameof(MrOwnerConfig));
        Check(Attributes, 8, nameof(Attributes));
        Check(Xfam, 8, nameof(Xfam));
        Check(MrServiceTd, 48, nameof(MrServiceTd));

        static void Check(byte[]? value, int length, string name)
        {
            if (value is null || value.Length != length)
            {
                throw new ArgumentException($"{name} must be {length} bytes, got {value?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
            }
        }
    }

    /// <summary>The TD report body (584 bytes for TD 1.0, 648 for TD 1.5; docs/verification.md §1.4) on a platform with <paramref name="profile"/>.</summary>
    internal byte[] Report(PlatformProfile profile, ReadOnlySpan<byte> reportData, bool td15)
    {
        Validate();
        var body = new byte[td15 ? TdReportBody.Size15 : TdReportBody.Size10];
        var span = body.AsSpan();
        profile.TeeTcbSvn.CopyTo(span[..16]);
        profile.MrSeam.CopyTo(span[16..64]);
        profile.MrSignerSeam.CopyTo(span[64..112]);
        profile.SeamAttributes.CopyTo(span[112..120]);
        Attributes.CopyTo(span[120..128]);
        Xfam.CopyTo(span[128..136]);
        MrTd.CopyTo(span[136..184]);
        MrConfigId.CopyTo(span[184..232]);
        MrOwner.CopyTo(span[232..280]);
        MrOwnerConfig.CopyTo(span[280..328]);
        RtMr0.CopyTo(span[328..376]);
        RtMr1.CopyTo(span[376..424]);
        RtMr2.CopyTo(span[424..472]);
        RtMr3.CopyTo(span[472..520]);
        reportData.CopyTo(span[520..584]);
        if (td15)
        {
            profile.TeeTcbSvn2.CopyTo(span[584..600]);
            MrServiceTd.CopyTo(span[600..648]);
        }

        return body;
    }

    private static byte[] Measure(string name, string register) => SHA384.HashData(Encoding.UTF8.GetBytes($"veritee-simulated-td:{register}:{name}"));
}
