using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>
/// The identity of a simulated enclave, as its SGX report states it: MRENCLAVE, MRSIGNER, ISV product id, ISV SVN
/// and the attributes (INIT | MODE64BIT, plus DEBUG for a debug enclave).
/// </summary>
public sealed record SimulatedEnclave
{
    /// <summary>SGX attribute flag INIT.</summary>
    public const ulong InitFlag = 0x01;

    /// <summary>SGX attribute flag MODE64BIT.</summary>
    public const ulong Mode64BitFlag = 0x04;

    /// <summary>The XFRM the samples' enclaves report (x87, SSE, AVX).</summary>
    public const ulong DefaultXfrm = 0x07;

    /// <summary>The enclave name used when none is given.</summary>
    public const string DefaultName = "veritee-sample-enclave";

    /// <summary>MRENCLAVE (32 bytes).</summary>
    public required byte[] MrEnclave { get; init; }

    /// <summary>MRSIGNER (32 bytes).</summary>
    public required byte[] MrSigner { get; init; }

    /// <summary>ISV product id.</summary>
    public ushort ProductId { get; init; } = 1;

    /// <summary>ISV security version.</summary>
    public ushort SecurityVersion { get; init; } = 1;

    /// <summary>True for a debug enclave (attribute flag DEBUG).</summary>
    public bool Debug { get; init; }

    /// <summary>XFRM.</summary>
    public ulong Xfrm { get; init; } = DefaultXfrm;

    /// <summary>The attribute flags: INIT | MODE64BIT, plus DEBUG (0x02) for a debug enclave.</summary>
    public ulong AttributeFlags => InitFlag | Mode64BitFlag | (Debug ? SgxReportBody.DebugFlag : 0);

    /// <summary>CONFIGID (64 bytes, KSS): e.g. SHA-256 of init-time data followed by zeros; null for none.</summary>
    public byte[]? ConfigId { get; init; }

    /// <summary>
    /// A simulated MRENCLAVE for an enclave known by name: SHA-256 of <c>"veritee-simulated-enclave:" + name</c>
    /// (UTF-8). Real MRENCLAVEs measure the loaded pages; the simulation only needs a stable, distinct value.
    /// </summary>
    public static byte[] MeasureName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return SHA256.HashData(Encoding.UTF8.GetBytes("veritee-simulated-enclave:" + name));
    }

    /// <summary>A simulated MRENCLAVE for an enclave image: SHA-256 of the file's bytes.</summary>
    public static byte[] MeasureImage(string path)
    {
        using var stream = File.OpenRead(path);
        return SHA256.HashData(stream);
    }

    /// <summary>MRSIGNER as SGX computes it: SHA-256 of the signer's RSA modulus in little-endian byte order.</summary>
    public static byte[] MrSignerOf(RSA signerKey)
    {
        ArgumentNullException.ThrowIfNull(signerKey);
        var modulus = signerKey.ExportParameters(false).Modulus!;
        var littleEndian = modulus.Reverse().ToArray();
        return SHA256.HashData(littleEndian);
    }

    /// <summary>The 384-byte SGX report body of this enclave on a platform with <paramref name="cpuSvn"/>.</summary>
    internal byte[] Report(ReadOnlySpan<byte> cpuSvn, ReadOnlySpan<byte> reportData)
    {
        if (MrEnclave.Length != 32 || MrSigner.Length != 32)
        {
            throw new ArgumentException("MRENCLAVE and MRSIGNER must be 32 bytes each");
        }

        return ReportBody(cpuSvn, 0, AttributeFlags, Xfrm, MrEnclave, MrSigner, ProductId, SecurityVersion, reportData, ConfigId);
    }

    /// <summary>Lays out an SGX report body (docs/verification.md §1.3).</summary>
    internal static byte[] ReportBody(ReadOnlySpan<byte> cpuSvn, uint miscSelect, ulong flags, ulong xfrm, ReadOnlySpan<byte> mrEnclave,
        ReadOnlySpan<byte> mrSigner, ushort productId, ushort svn, ReadOnlySpan<byte> reportData, ReadOnlySpan<byte> configId = default)
    {
        if (configId.Length is not (0 or 64))
        {
            throw new ArgumentException("CONFIGID must be 64 bytes", nameof(configId));
        }

        var body = new byte[SgxReportBody.Size];
        var span = body.AsSpan();
        cpuSvn.CopyTo(span[..16]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], miscSelect);
        BinaryPrimitives.WriteUInt64LittleEndian(span[48..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(span[56..], xfrm);
        mrEnclave.CopyTo(span[64..96]);
        mrSigner.CopyTo(span[128..160]);
        configId.CopyTo(span[192..256]);
        BinaryPrimitives.WriteUInt16LittleEndian(span[256..], productId);
        BinaryPrimitives.WriteUInt16LittleEndian(span[258..], svn);
        reportData.CopyTo(span[320..384]);
        return body;
    }
}
