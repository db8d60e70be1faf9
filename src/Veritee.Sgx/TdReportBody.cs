namespace Veritee.Sgx;

/// <summary>
/// A TDX TD report body ("report2"): 584 bytes for TDX 1.0, 648 bytes for TDX 1.5. A view over the quote's bytes.
/// </summary>
public readonly struct TdReportBody
{
    /// <summary>Size of the TDX 1.0 body.</summary>
    public const int Size10 = 584;

    /// <summary>Size of the TDX 1.5 body.</summary>
    public const int Size15 = 648;

    /// <summary>Wraps 584 or 648 bytes.</summary>
    public TdReportBody(ReadOnlyMemory<byte> raw)
    {
        if (raw.Length is not (Size10 or Size15))
        {
            throw new SgxFormatException("td_report_body", 0, $"must be {Size10} or {Size15} bytes, got {raw.Length}");
        }

        Raw = raw;
    }

    /// <summary>The raw bytes.</summary>
    public ReadOnlyMemory<byte> Raw { get; }

    /// <summary>True for a TDX 1.5 body (carries <see cref="TeeTcbSvn2"/> and <see cref="MrServiceTd"/>).</summary>
    public bool IsTdx15 => Raw.Length == Size15;

    /// <summary>TEE_TCB_SVN (16 bytes): [0] module SVN, [1] module major version, [2] late microcode SVN, …</summary>
    public ReadOnlyMemory<byte> TeeTcbSvn => Raw[..16];

    /// <summary>MRSEAM (48 bytes): measurement of the TDX module.</summary>
    public ReadOnlyMemory<byte> MrSeam => Raw.Slice(16, 48);

    /// <summary>MRSIGNERSEAM (48 bytes); zero for Intel's modules.</summary>
    public ReadOnlyMemory<byte> MrSignerSeam => Raw.Slice(64, 48);

    /// <summary>SEAMATTRIBUTES (8 bytes); zero for TDX 1.x.</summary>
    public ReadOnlyMemory<byte> SeamAttributes => Raw.Slice(112, 8);

    /// <summary>TDATTRIBUTES (8 bytes).</summary>
    public ReadOnlyMemory<byte> TdAttributes => Raw.Slice(120, 8);

    /// <summary>True when the TD's debug bit (TUD bit 0) is set.</summary>
    public bool IsDebuggable => (Raw.Span[120] & 0x01) != 0;

    /// <summary>XFAM (8 bytes).</summary>
    public ReadOnlyMemory<byte> Xfam => Raw.Slice(128, 8);

    /// <summary>MRTD (48 bytes): the initial TD measurement.</summary>
    public ReadOnlyMemory<byte> MrTd => Raw.Slice(136, 48);

    /// <summary>MRCONFIGID (48 bytes).</summary>
    public ReadOnlyMemory<byte> MrConfigId => Raw.Slice(184, 48);

    /// <summary>MROWNER (48 bytes).</summary>
    public ReadOnlyMemory<byte> MrOwner => Raw.Slice(232, 48);

    /// <summary>MROWNERCONFIG (48 bytes).</summary>
    public ReadOnlyMemory<byte> MrOwnerConfig => Raw.Slice(280, 48);

    /// <summary>RTMR[<paramref name="index"/>] (48 bytes), index 0..3.</summary>
    public ReadOnlyMemory<byte> RtMr(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, 3);
        return Raw.Slice(328 + (48 * index), 48);
    }

    /// <summary>REPORTDATA (64 bytes).</summary>
    public ReadOnlyMemory<byte> ReportData => Raw.Slice(520, 64);

    /// <summary>TEE_TCB_SVN2 (16 bytes, TDX 1.5 only): the currently loaded module after a TD-preserving update.</summary>
    public ReadOnlyMemory<byte> TeeTcbSvn2 => IsTdx15 ? Raw.Slice(584, 16) : ReadOnlyMemory<byte>.Empty;

    /// <summary>MRSERVICETD (48 bytes, TDX 1.5 only).</summary>
    public ReadOnlyMemory<byte> MrServiceTd => IsTdx15 ? Raw.Slice(600, 48) : ReadOnlyMemory<byte>.Empty;
}
