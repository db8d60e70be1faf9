using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>
/// The simulated quoting enclave: signs an application enclave's report into an ECDSA quote (v3, or v4 with the
/// type-6 QE Report Certification Data wrapper), with a QE report bound to the attestation key and QE auth data
/// and signed by the PCK key, and certification data type 5 (the PEM PCK chain).
/// </summary>
internal static class QuotingEnclave
{
    /// <summary>Intel's QE MRSIGNER, so QE Identity values look like Intel's.</summary>
    public static readonly byte[] MrSigner = Convert.FromHexString("8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF");

    /// <summary>ISVPRODID of the QE (Intel's QE uses 1).</summary>
    public const ushort ProductId = 1;

    /// <summary>QE attribute flags: INIT | MODE64BIT | PROVISIONKEY (Intel's QE Identity expects 0x11 under mask 0xFB).</summary>
    public const ulong AttributeFlags = 0x15;

    /// <summary>QE XFRM (masked out by Intel's QE Identity).</summary>
    public const ulong Xfrm = 0xE7;

    /// <summary>The simulated QE's MRENCLAVE (not part of QE Identity checks).</summary>
    public static readonly byte[] MrEnclave = SHA256.HashData(Encoding.UTF8.GetBytes("veritee-simulated-quoting-enclave"));

    /// <summary>Intel QE auth data: 32 bytes 00 01 … 1F.</summary>
    public static byte[] AuthData => [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    public static byte[] Quote(SimulatedPlatform platform, byte[] appReport, int version)
    {
        if (version is not (3 or 4))
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, "the simulated quoting enclave makes SGX quotes of version 3 or 4");
        }

        var profile = platform.Profile;
        var q = platform.AttestationKey.ExportParameters(false).Q;
        var attestationKey = new byte[64];
        q.X!.CopyTo(attestationKey, 0);
        q.Y!.CopyTo(attestationKey, 32);
        var auth = AuthData;

        var binding = new byte[64];
        using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            sha.AppendData(attestationKey);
            sha.AppendData(auth);
            sha.GetHashAndReset(binding.AsSpan(0, 32));
        }

        var qeReport = SimulatedEnclave.ReportBody(profile.CpuSvn, 0, AttributeFlags, Xfrm, MrEnclave, MrSigner, ProductId, profile.QeSvn, binding);
        var qeReportSignature = platform.Pck.Key.SignData(qeReport, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var chain = platform.PckChainPem;

        // QE report certification data: report ‖ signature ‖ auth size ‖ auth ‖ type 5 ‖ size ‖ PEM chain.
        using var qeBlock = new MemoryStream();
        qeBlock.Write(qeReport);
        qeBlock.Write(qeReportSignature);
        WriteU16(qeBlock, (ushort)auth.Length);
        qeBlock.Write(auth);
        WriteU16(qeBlock, (ushort)CertificationDataType.PckCertificateChain);
        WriteU32(qeBlock, (uint)chain.Length);
        qeBlock.Write(chain);

        var header = new byte[QuoteHeader.Size];
        BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)version);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), QuoteHeader.EcdsaP256);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), (uint)TeeType.Sgx);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), profile.QeSvn);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(10), profile.PceSvn);
        QuoteHeader.IntelQeVendorId.CopyTo(header.AsSpan(12));
        profile.QeId.CopyTo(header.AsSpan(28));

        var signed = new byte[header.Length + appReport.Length];
        header.CopyTo(signed, 0);
        appReport.CopyTo(signed, header.Length);
        var signature = platform.AttestationKey.SignData(signed, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        using var signatureData = new MemoryStream();
        signatureData.Write(signature);
        signatureData.Write(attestationKey);
        if (version == 3)
        {
            qeBlock.WriteTo(signatureData);
        }
        else
        {
            WriteU16(signatureData, (ushort)CertificationDataType.QeReportCertificationData);
            WriteU32(signatureData, (uint)qeBlock.Length);
            qeBlock.WriteTo(signatureData);
        }

        using var quote = new MemoryStream();
        quote.Write(signed);
        WriteU32(quote, (uint)signatureData.Length);
        signatureData.WriteTo(quote);
        return quote.ToArray();
    }

    private static void WriteU16(Stream stream, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        stream.Write(b);
    }

    private static void WriteU32(Stream stream, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        stream.Write(b);
    }
}
