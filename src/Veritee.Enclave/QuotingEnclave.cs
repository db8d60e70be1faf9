using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>
/// The simulated quoting enclaves (QE for SGX, TD QE for TDX): sign an enclave's or a TD's report into an ECDSA quote
/// (v3, or v4/v5 with the type-6 QE Report Certification Data wrapper), with a QE report bound to the attestation key and QE auth data
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

    /// <summary>Intel's TD QE MRSIGNER (TD_QE identity), so TD_QE Identity values look like Intel's.</summary>
    public static readonly byte[] TdMrSigner = Convert.FromHexString("DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5");

    /// <summary>ISVPRODID of the TD QE (Intel's TD QE uses 2).</summary>
    public const ushort TdProductId = 2;

    /// <summary>The simulated TD QE's MRENCLAVE.</summary>
    public static readonly byte[] TdMrEnclave = SHA256.HashData(Encoding.UTF8.GetBytes("veritee-simulated-td-quoting-enclave"));

    public static byte[] Quote(SimulatedPlatform platform, byte[] appReport, int version)
    {
        if (version is not (3 or 4))
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, "the simulated quoting enclave makes SGX quotes of version 3 or 4");
        }

        var profile = platform.Profile;
        var header = Header(version, TeeType.Sgx, profile.QeSvn, profile.PceSvn, profile.QeId);
        return Sign(platform, header, appReport, MrEnclave, MrSigner, ProductId, profile.QeSvn, wrapInType6: version >= 4);
    }

    /// <summary>
    /// A TD quote: version 4 (TD 1.0 body) or 5 (body type 2 for TD 1.0, 3 for TD 1.5, preceded by type and size),
    /// tee type 0x81, signed by the TD QE (isvprodid 2). As Intel's TD QE, the header's QE and PCE SVN fields are 0.
    /// </summary>
    public static byte[] TdQuote(SimulatedPlatform platform, byte[] tdReport, int version)
    {
        var profile = platform.Profile;
        var header = Header(version, TeeType.Tdx, 0, 0, profile.QeId);
        byte[] body;
        if (version == 4)
        {
            body = tdReport;
        }
        else
        {
            body = new byte[6 + tdReport.Length];
            var type = tdReport.Length == TdReportBody.Size15 ? QuoteBodyType.TdReport15 : QuoteBodyType.TdReport10;
            BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)type);
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(2), (uint)tdReport.Length);
            tdReport.CopyTo(body, 6);
        }

        return Sign(platform, header, body, TdMrEnclave, TdMrSigner, TdProductId, profile.TdQeSvn, wrapInType6: true);
    }

    private static byte[] Header(int version, TeeType tee, ushort qeSvn, ushort pceSvn, byte[] qeId)
    {
        var header = new byte[QuoteHeader.Size];
        BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)version);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), QuoteHeader.EcdsaP256);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), (uint)tee);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), qeSvn);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(10), pceSvn);
        QuoteHeader.IntelQeVendorId.CopyTo(header.AsSpan(12));
        qeId.CopyTo(header.AsSpan(28));
        return header;
    }

    /// <summary>Header ‖ body, signed with the attestation key, then the signature data with the QE report and PCK chain.</summary>
    private static byte[] Sign(SimulatedPlatform platform, byte[] header, byte[] body, byte[] qeMrEnclave, byte[] qeMrSigner, ushort qeProductId, ushort qeSvn, bool wrapInType6)
    {
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

        var qeReport = SimulatedEnclave.ReportBody(profile.CpuSvn, 0, AttributeFlags, Xfrm, qeMrEnclave, qeMrSigner, qeProductId, qeSvn, binding);
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

        var signed = new byte[header.Length + body.Length];
        header.CopyTo(signed, 0);
        body.CopyTo(signed, header.Length);
        var signature = platform.AttestationKey.SignData(signed, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        using var signatureData = new MemoryStream();
        signatureData.Write(signature);
        signatureData.Write(attestationKey);
        if (!wrapInType6)
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
