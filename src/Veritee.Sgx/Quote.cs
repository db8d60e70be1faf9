namespace Veritee.Sgx;

/// <summary>
/// A parsed Intel ECDSA quote, version 3, 4 or 5, SGX or TDX. Parsing checks structure only (lengths, versions,
/// body types, certification data nesting); signatures and collateral are judged by the verifier.
/// All fields are views over <see cref="Raw"/>; parsing copies nothing.
/// </summary>
public sealed class Quote
{
    /// <summary>Smallest possible quote (header, SGX body, signature data with empty auth and certification data).</summary>
    public const int MinimumSize = 1020;

    private const int SignatureSize = 64;
    private const int KeySize = 64;

    private Quote(ReadOnlyMemory<byte> raw, QuoteHeader header, QuoteBodyType bodyType, ReadOnlyMemory<byte> body, int signedLength, QuoteSignatureData signatureData, int end)
    {
        Raw = raw;
        Header = header;
        BodyType = bodyType;
        Body = body;
        SignedLength = signedLength;
        SignatureData = signatureData;
        Length = end;
    }

    /// <summary>The bytes the quote was parsed from (may include trailing padding).</summary>
    public ReadOnlyMemory<byte> Raw { get; }

    /// <summary>The header.</summary>
    public QuoteHeader Header { get; }

    /// <summary>The TEE (from the header; v3 is always SGX).</summary>
    public TeeType TeeType => Header.Version == 3 ? TeeType.Sgx : Header.TeeType;

    /// <summary>What the body is.</summary>
    public QuoteBodyType BodyType { get; }

    /// <summary>The raw body bytes.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The SGX enclave report; only for <see cref="QuoteBodyType.SgxReport"/>.</summary>
    public SgxReportBody SgxReport => BodyType == QuoteBodyType.SgxReport
        ? new SgxReportBody(Body)
        : throw new InvalidOperationException("the quote body is a TD report, not an SGX report");

    /// <summary>The TD report; only for TDX bodies.</summary>
    public TdReportBody TdReport => BodyType != QuoteBodyType.SgxReport
        ? new TdReportBody(Body)
        : throw new InvalidOperationException("the quote body is an SGX report, not a TD report");

    /// <summary>The report data of the body (64 bytes) whatever its type.</summary>
    public ReadOnlyMemory<byte> ReportData => BodyType == QuoteBodyType.SgxReport ? SgxReport.ReportData : TdReport.ReportData;

    /// <summary>Length of the region covered by the quote signature: everything before <c>signature_data_len</c>.</summary>
    public int SignedLength { get; }

    /// <summary>The bytes covered by the quote signature.</summary>
    public ReadOnlyMemory<byte> SignedRegion => Raw[..SignedLength];

    /// <summary>The parsed signature data.</summary>
    public QuoteSignatureData SignatureData { get; }

    /// <summary>Bytes used by the quote; the rest of <see cref="Raw"/> is padding and is ignored.</summary>
    public int Length { get; }

    /// <summary>Parses <paramref name="bytes"/>; throws <see cref="SgxFormatException"/> naming the field and offset.</summary>
    public static Quote Parse(ReadOnlyMemory<byte> bytes)
    {
        var cursor = new ByteCursor(bytes);
        var version = cursor.U16("header.version");
        if (version is not (3 or 4 or 5))
        {
            throw new SgxFormatException("header.version", 0, $"unsupported quote version {version} (3, 4 or 5 expected)");
        }

        var keyType = cursor.U16("header.att_key_type");
        if (keyType != QuoteHeader.EcdsaP256)
        {
            throw new SgxFormatException("header.att_key_type", 2, $"unsupported attestation key type {keyType} (2 = ECDSA P-256 expected)");
        }

        var teeRaw = cursor.U32("header.tee_type");
        if (version == 3 && teeRaw != 0)
        {
            throw new SgxFormatException("header.tee_type", 4, $"must be 0 in a version 3 quote, got 0x{teeRaw:X}");
        }

        if (teeRaw is not ((uint)TeeType.Sgx or (uint)TeeType.Tdx))
        {
            throw new SgxFormatException("header.tee_type", 4, $"unknown TEE type 0x{teeRaw:X} (0 = SGX, 0x81 = TDX)");
        }

        var header = new QuoteHeader(version, keyType, teeRaw, cursor.U16("header.qe_svn"), cursor.U16("header.pce_svn"),
            cursor.Take("header.qe_vendor_id", 16), cursor.Take("header.user_data", 20));

        QuoteBodyType bodyType;
        int bodySize;
        if (version < 5)
        {
            bodyType = teeRaw == (uint)TeeType.Tdx ? QuoteBodyType.TdReport10 : QuoteBodyType.SgxReport;
            bodySize = bodyType == QuoteBodyType.SgxReport ? SgxReportBody.Size : TdReportBody.Size10;
        }
        else
        {
            var typeOffset = cursor.Position;
            var rawType = cursor.U16("body.type");
            bodyType = (QuoteBodyType)rawType;
            var expectedSize = bodyType switch
            {
                QuoteBodyType.SgxReport => SgxReportBody.Size,
                QuoteBodyType.TdReport10 => TdReportBody.Size10,
                QuoteBodyType.TdReport15 => TdReportBody.Size15,
                _ => throw new SgxFormatException("body.type", typeOffset, $"unknown body type {rawType} (1 SGX, 2 TD 1.0, 3 TD 1.5)"),
            };
            if ((bodyType == QuoteBodyType.SgxReport) != (teeRaw == (uint)TeeType.Sgx))
            {
                throw new SgxFormatException("body.type", typeOffset, $"body type {rawType} does not match TEE type 0x{teeRaw:X}");
            }

            var sizeOffset = cursor.Position;
            var declared = cursor.U32("body.size");
            if (declared != expectedSize)
            {
                throw new SgxFormatException("body.size", sizeOffset, $"body type {rawType} must be {expectedSize} bytes, declared {declared}");
            }

            bodySize = expectedSize;
        }

        var body = cursor.Take("body", bodySize);
        var signedLength = cursor.Position;
        var sigLenOffset = cursor.Position;
        var sigLen = cursor.U32("signature_data_len");
        if (sigLen > (uint)cursor.Remaining)
        {
            throw new SgxFormatException("signature_data_len", sigLenOffset, $"declares {sigLen} bytes but only {cursor.Remaining} remain");
        }

        var sigStart = cursor.Position;
        var sigData = cursor.Sub("signature_data", (int)sigLen);
        var signatureData = version == 3 ? ParseV3SignatureData(ref sigData) : ParseV4SignatureData(ref sigData);

        return new Quote(bytes, header, bodyType, body, signedLength, signatureData, sigStart + (int)sigLen);
    }

    private static QuoteSignatureData ParseV3SignatureData(ref ByteCursor c)
    {
        var signature = c.Take("signature_data.quote_signature", SignatureSize);
        var key = c.Take("signature_data.attestation_key", KeySize);
        var qeReport = new SgxReportBody(c.Take("signature_data.qe_report", SgxReportBody.Size));
        var qeSignature = c.Take("signature_data.qe_report_signature", SignatureSize);
        var authSize = c.U16("signature_data.qe_auth_data_size");
        var auth = c.Take("signature_data.qe_auth_data", authSize);
        var cert = ReadCertificationData(ref c, "signature_data.certification_data", out _);
        if (cert.Type is < CertificationDataType.PpidCleartext or > CertificationDataType.PckCertificateChain)
        {
            throw new SgxFormatException("signature_data.certification_data.type", cert.Offset - 6, $"type {(ushort)cert.Type} is not allowed in a version 3 quote (1..5)");
        }

        return new QuoteSignatureData(signature, key, qeReport, qeSignature, auth, cert, null);
    }

    private static QuoteSignatureData ParseV4SignatureData(ref ByteCursor c)
    {
        var signature = c.Take("signature_data.quote_signature", SignatureSize);
        var key = c.Take("signature_data.attestation_key", KeySize);
        var outer = ReadCertificationData(ref c, "signature_data.certification_data", out var inner);
        if (outer.Type != CertificationDataType.QeReportCertificationData)
        {
            throw new SgxFormatException("signature_data.certification_data.type", outer.Offset - 6, $"must be 6 (QE report certification data) in a version 4/5 quote, got {(ushort)outer.Type}");
        }

        // The nested structure must fill the type-6 blob exactly, as Intel's parser requires.
        var qeReport = new SgxReportBody(inner.Take("qe_report_certification_data.qe_report", SgxReportBody.Size));
        var qeSignature = inner.Take("qe_report_certification_data.qe_report_signature", SignatureSize);
        var authSize = inner.U16("qe_report_certification_data.qe_auth_data_size");
        var auth = inner.Take("qe_report_certification_data.qe_auth_data", authSize);
        var cert = ReadCertificationData(ref inner, "qe_report_certification_data.certification_data", out _);
        if (cert.Type is < CertificationDataType.PpidCleartext or > CertificationDataType.PckCertificateChain)
        {
            throw new SgxFormatException("qe_report_certification_data.certification_data.type", cert.Offset - 6, $"nested type {(ushort)cert.Type} is not allowed (1..5)");
        }

        return new QuoteSignatureData(signature, key, qeReport, qeSignature, auth, cert, CertificationDataType.QeReportCertificationData);
    }

    /// <summary>Reads type, size and data; the data must fill the rest of the enclosing structure exactly.</summary>
    private static CertificationData ReadCertificationData(ref ByteCursor c, string field, out ByteCursor data)
    {
        var type = c.U16(field + ".type");
        var sizeOffset = c.Position;
        var size = c.U32(field + ".size");
        if (size != (uint)c.Remaining)
        {
            throw new SgxFormatException(field + ".size", sizeOffset, $"declares {size} bytes but the enclosing structure has {c.Remaining} left");
        }

        var dataOffset = c.Position;
        var bytes = c.Peek((int)size);
        data = c.Sub(field + ".data", (int)size);
        return new CertificationData((CertificationDataType)type, bytes, dataOffset);
    }
}
