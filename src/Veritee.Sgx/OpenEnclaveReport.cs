using System.Buffers.Binary;

namespace Veritee.Sgx;

/// <summary>
/// The 16-byte Open Enclave report header (<c>oe_report_header_t</c>: u32 version = 1, u32 report_type,
/// u64 report_size) that Open Enclave puts around an SGX quote; <c>/attest/OpenEnclave</c> evidence carries it.
/// </summary>
public static class OpenEnclaveReport
{
    /// <summary>Header size in bytes.</summary>
    public const int HeaderSize = 16;

    /// <summary><c>report_type</c> of a remote (quote-based) SGX report.</summary>
    public const uint RemoteReportType = 2;

    /// <summary>True when <paramref name="evidence"/> starts with an OE header for a remote SGX report (version 1, type 2).</summary>
    public static bool HasHeader(ReadOnlySpan<byte> evidence) =>
        evidence.Length >= HeaderSize &&
        BinaryPrimitives.ReadUInt32LittleEndian(evidence) == 1 &&
        BinaryPrimitives.ReadUInt32LittleEndian(evidence[4..]) == RemoteReportType;

    /// <summary>Returns the quote inside an OE report; throws <see cref="SgxFormatException"/> when the header is malformed.</summary>
    public static ReadOnlyMemory<byte> Unwrap(ReadOnlyMemory<byte> evidence)
    {
        var cursor = new ByteCursor(evidence);
        var version = cursor.U32("oe_report_header.version");
        if (version != 1)
        {
            throw new SgxFormatException("oe_report_header.version", 0, $"unsupported version {version} (1 expected)");
        }

        var type = cursor.U32("oe_report_header.report_type");
        if (type != RemoteReportType)
        {
            throw new SgxFormatException("oe_report_header.report_type", 4, $"report type {type} is not a remote SGX report (2)");
        }

        var size = cursor.U64("oe_report_header.report_size");
        if (size > (ulong)cursor.Remaining)
        {
            throw new SgxFormatException("oe_report_header.report_size", 8, $"declares {size} bytes but only {cursor.Remaining} follow");
        }

        return cursor.Take("oe_report.report", (int)size);
    }

    /// <summary>Returns <paramref name="evidence"/> without its OE header when it has one, else unchanged.</summary>
    public static ReadOnlyMemory<byte> UnwrapIfPresent(ReadOnlyMemory<byte> evidence) =>
        HasHeader(evidence.Span) ? Unwrap(evidence) : evidence;

    /// <summary>Wraps a quote in an OE remote-report header.</summary>
    public static byte[] Wrap(ReadOnlySpan<byte> quote)
    {
        var result = new byte[HeaderSize + quote.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(result, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(4), RemoteReportType);
        BinaryPrimitives.WriteUInt64LittleEndian(result.AsSpan(8), (ulong)quote.Length);
        quote.CopyTo(result.AsSpan(HeaderSize));
        return result;
    }
}
