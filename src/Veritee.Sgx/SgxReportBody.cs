using System.Buffers.Binary;

namespace Veritee.Sgx;

/// <summary>
/// The 384-byte SGX enclave report body (<c>sgx_report_body_t</c>): the application enclave in SGX quotes and
/// the Quoting Enclave's own report inside the signature data. A view over the quote's bytes; nothing is copied.
/// </summary>
public readonly struct SgxReportBody
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 384;

    /// <summary>Attributes flag bit 1: the enclave runs in debug mode.</summary>
    public const ulong DebugFlag = 0x2;

    /// <summary>Wraps exactly <see cref="Size"/> bytes.</summary>
    public SgxReportBody(ReadOnlyMemory<byte> raw)
    {
        if (raw.Length != Size)
        {
            throw new SgxFormatException("sgx_report_body", 0, $"must be {Size} bytes, got {raw.Length}");
        }

        Raw = raw;
    }

    /// <summary>The 384 raw bytes.</summary>
    public ReadOnlyMemory<byte> Raw { get; }

    /// <summary>CPUSVN (16 bytes) of the platform as reported by the CPU.</summary>
    public ReadOnlyMemory<byte> CpuSvn => Raw[..16];

    /// <summary>MISCSELECT as the 4 raw bytes in quote order.</summary>
    public ReadOnlyMemory<byte> MiscSelectBytes => Raw.Slice(16, 4);

    /// <summary>MISCSELECT (u32, little-endian).</summary>
    public uint MiscSelect => BinaryPrimitives.ReadUInt32LittleEndian(Raw.Span.Slice(16, 4));

    /// <summary>ISV extended product id (16 bytes, KSS).</summary>
    public ReadOnlyMemory<byte> IsvExtProdId => Raw.Slice(32, 16);

    /// <summary>ATTRIBUTES: flags (u64) followed by XFRM (u64), 16 raw bytes.</summary>
    public ReadOnlyMemory<byte> Attributes => Raw.Slice(48, 16);

    /// <summary>The attributes flags word.</summary>
    public ulong Flags => BinaryPrimitives.ReadUInt64LittleEndian(Raw.Span.Slice(48, 8));

    /// <summary>The XFRM word.</summary>
    public ulong Xfrm => BinaryPrimitives.ReadUInt64LittleEndian(Raw.Span.Slice(56, 8));

    /// <summary>True when the DEBUG attribute is set.</summary>
    public bool IsDebuggable => (Flags & DebugFlag) != 0;

    /// <summary>MRENCLAVE (32 bytes).</summary>
    public ReadOnlyMemory<byte> MrEnclave => Raw.Slice(64, 32);

    /// <summary>MRSIGNER (32 bytes).</summary>
    public ReadOnlyMemory<byte> MrSigner => Raw.Slice(128, 32);

    /// <summary>CONFIGID (64 bytes).</summary>
    public ReadOnlyMemory<byte> ConfigId => Raw.Slice(192, 64);

    /// <summary>ISVPRODID.</summary>
    public ushort IsvProdId => BinaryPrimitives.ReadUInt16LittleEndian(Raw.Span.Slice(256, 2));

    /// <summary>ISVSVN.</summary>
    public ushort IsvSvn => BinaryPrimitives.ReadUInt16LittleEndian(Raw.Span.Slice(258, 2));

    /// <summary>CONFIGSVN.</summary>
    public ushort ConfigSvn => BinaryPrimitives.ReadUInt16LittleEndian(Raw.Span.Slice(260, 2));

    /// <summary>ISV family id (16 bytes, KSS).</summary>
    public ReadOnlyMemory<byte> IsvFamilyId => Raw.Slice(304, 16);

    /// <summary>REPORTDATA (64 bytes) chosen by the enclave.</summary>
    public ReadOnlyMemory<byte> ReportData => Raw.Slice(320, 64);
}
