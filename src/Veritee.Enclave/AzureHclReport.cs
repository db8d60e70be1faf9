using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Veritee.Enclave;

/// <summary>An Azure HCL (paravisor) attestation report is malformed; the message names the field, its offset and the limit.</summary>
public sealed class AzureHclReportFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public AzureHclReportFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public AzureHclReportFormatException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public AzureHclReportFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The HCL report an Azure confidential VM's paravisor writes to vTPM NV index <c>0x01400001</c>: signature
/// <c>HCLA</c>, a hardware report (for TDX the 1024-byte TDREPORT at offset 32), and the runtime-claims JSON
/// ("variable data") whose hash the paravisor put in the hardware report's report data. The caller posts the quote
/// that IMDS makes from <see cref="TdReport"/> to <c>/attest/TdxVm</c> with <see cref="VariableData"/> as JSON runtime
/// data (docs/tdx.md). Parsing is bounded: at most <see cref="MaxSize"/> bytes are read, every size is checked
/// against the input before it is used, and nothing is allocated from an unchecked size.
/// </summary>
public sealed class AzureHclReport
{
    /// <summary>The largest report accepted (the NV index holds about 2.6 KB; runtime JSON of a few KB fits easily).</summary>
    public const int MaxSize = 64 * 1024;

    /// <summary>Offset of the hardware report (the TDREPORT on TDX).</summary>
    public const int HardwareReportOffset = 32;

    /// <summary>Size of the hardware report area (the largest platform report, SEV-SNP's, is 1184 bytes).</summary>
    public const int HardwareReportSize = 1184;

    /// <summary>Size of a TDX TDREPORT (TDREPORT_STRUCT).</summary>
    public const int TdReportSize = 1024;

    /// <summary>Offset of the runtime-data header (data size, version, report type, hash type, variable data size).</summary>
    public const int RuntimeDataOffset = HardwareReportOffset + HardwareReportSize;

    /// <summary>Offset of the variable data (the runtime-claims JSON).</summary>
    public const int VariableDataOffset = RuntimeDataOffset + 20;

    /// <summary>The report type of a TDX VM.</summary>
    public const uint ReportTypeTdx = 4;

    private const int ReportDataInTdReport = 128;
    private const int TdInfoInTdReport = 512;

    private readonly byte[] _report;

    private AzureHclReport(byte[] report, uint version, uint requestType, uint reportType, uint hashType, int variableDataSize)
    {
        _report = report;
        Version = version;
        RequestType = requestType;
        ReportType = reportType;
        HashType = hashType;
        VariableDataSize = variableDataSize;
    }

    /// <summary>The header version (2 on current Azure VMs).</summary>
    public uint Version { get; }

    /// <summary>The request type of the header.</summary>
    public uint RequestType { get; }

    /// <summary>The platform: 1 VBS, 2 SEV-SNP, 3 Trusted Launch, 4 TDX (only TDX parses).</summary>
    public uint ReportType { get; }

    /// <summary>The hash over <see cref="VariableData"/> in the report data: 1 SHA-256, 2 SHA-384, 3 SHA-512.</summary>
    public uint HashType { get; }

    private int VariableDataSize { get; }

    /// <summary>The 1024-byte TDREPORT: what IMDS <c>/acc/tdquote</c> turns into a quote.</summary>
    public ReadOnlyMemory<byte> TdReport => _report.AsMemory(HardwareReportOffset, TdReportSize);

    /// <summary>The TDREPORT's REPORTDATA (64 bytes).</summary>
    public ReadOnlyMemory<byte> ReportData => TdReport.Slice(ReportDataInTdReport, 64);

    /// <summary>The TDREPORT's MRTD (TDINFO.MRTD, 48 bytes).</summary>
    public ReadOnlyMemory<byte> MrTd => TdReport.Slice(TdInfoInTdReport + 16, 48);

    /// <summary>The TDREPORT's TD attributes (8 bytes, quote order).</summary>
    public ReadOnlyMemory<byte> TdAttributes => TdReport.Slice(TdInfoInTdReport, 8);

    /// <summary>The runtime-claims JSON (keys <c>HCLAkPub</c>/<c>HCLEkPub</c>, <c>vm-configuration</c>, <c>user-data</c>).</summary>
    public ReadOnlyMemory<byte> VariableData => _report.AsMemory(VariableDataOffset, VariableDataSize);

    /// <summary>
    /// The report data the paravisor binds <see cref="VariableData"/> with: its hash (of <see cref="HashType"/>)
    /// followed by zero bytes up to 64.
    /// </summary>
    public byte[] ExpectedReportData()
    {
        var expected = new byte[64];
        var data = VariableData.Span;
        _ = HashType switch
        {
            1 => SHA256.HashData(data, expected),
            2 => SHA384.HashData(data, expected),
            _ => SHA512.HashData(data, expected),
        };
        return expected;
    }

    /// <summary>True when the TDREPORT's report data is <see cref="ExpectedReportData"/>: the runtime JSON is the paravisor's.</summary>
    public bool BindsVariableData => ReportData.Span.SequenceEqual(ExpectedReportData());

    /// <summary>
    /// Parses an HCL report of a TDX VM (the NV index contents; trailing padding after the report is ignored).
    /// Throws <see cref="AzureHclReportFormatException"/> naming the field, offset and limit at fault.
    /// </summary>
    public static AzureHclReport Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxSize)
        {
            throw new AzureHclReportFormatException($"HCL report: {data.Length} bytes exceeds the limit of {MaxSize}");
        }

        if (data.Length < VariableDataOffset)
        {
            throw new AzureHclReportFormatException($"HCL report: {data.Length} bytes is shorter than its fixed part ({VariableDataOffset} bytes: header, hardware report, runtime-data header)");
        }

        if (!data[..4].SequenceEqual("HCLA"u8))
        {
            throw new AzureHclReportFormatException($"HCL report: signature at offset 0 is '{Printable(data[..4])}', not 'HCLA'");
        }

        var version = U32(data, 4);
        var reportSize = U32(data, 8);
        var requestType = U32(data, 12);
        var dataSize = U32(data, RuntimeDataOffset);
        var reportType = U32(data, RuntimeDataOffset + 8);
        var hashType = U32(data, RuntimeDataOffset + 12);
        var variableSize = U32(data, RuntimeDataOffset + 16);

        if (reportType != ReportTypeTdx)
        {
            throw new AzureHclReportFormatException($"HCL report: report_type at offset {RuntimeDataOffset + 8} is {reportType} ({ReportTypeName(reportType)}), not {ReportTypeTdx} (TDX)");
        }

        if (hashType is < 1 or > 3)
        {
            throw new AzureHclReportFormatException($"HCL report: report_data_hash_type at offset {RuntimeDataOffset + 12} is {hashType}; 1 (SHA-256), 2 (SHA-384) or 3 (SHA-512) expected");
        }

        // Sizes are compared as 64-bit values so that a hostile 0xFFFFFFFF cannot wrap.
        if ((ulong)variableSize > (ulong)(data.Length - VariableDataOffset))
        {
            throw new AzureHclReportFormatException($"HCL report: variable_data_size at offset {RuntimeDataOffset + 16} is {variableSize}, but only {data.Length - VariableDataOffset} bytes follow offset {VariableDataOffset}");
        }

        if (reportSize != (ulong)VariableDataOffset + variableSize)
        {
            throw new AzureHclReportFormatException($"HCL report: report_size at offset 8 is {reportSize}, but the header, hardware report and {variableSize} bytes of variable data make {VariableDataOffset + (long)variableSize}");
        }

        if (dataSize != 20UL + variableSize)
        {
            throw new AzureHclReportFormatException($"HCL report: data_size at offset {RuntimeDataOffset} is {dataSize}, not 20 + variable_data_size ({20 + (long)variableSize})");
        }

        // TDREPORT_STRUCT begins with its REPORTTYPE: type 0x81 = TDX.
        if (data[HardwareReportOffset] != 0x81)
        {
            throw new AzureHclReportFormatException($"HCL report: the hardware report's type at offset {HardwareReportOffset} is 0x{data[HardwareReportOffset]:X2}, not 0x81 (a TDX TDREPORT)");
        }

        return new AzureHclReport(data[..(int)reportSize].ToArray(), version, requestType, reportType, hashType, (int)variableSize);
    }

    private static uint U32(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(offset, 4));

    private static string ReportTypeName(uint type) => type switch
    {
        1 => "VBS",
        2 => "SEV-SNP",
        3 => "Trusted Launch",
        _ => "unknown",
    };

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        }

        return text.ToString();
    }
}
