using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>
/// The Azure attestation samples' <c>enclave.info.*.json</c> file: <c>Type</c>, <c>MrEnclaveHex</c>,
/// <c>MrSignerHex</c>, <c>ProductIdHex</c>, <c>SecurityVersion</c>, <c>Attributes</c>, <c>QuoteHex</c>,
/// <c>EnclaveHeldDataHex</c>, written as the samples write it (upper-case hex, two-space indentation, that field
/// order). <c>Attributes</c> follows the sample that made the file: for a quote in an Open Enclave report header
/// it is Open Enclave's report attributes (1 DEBUG | 2 REMOTE, as the OE SDK sample), for a raw quote the SGX
/// attribute flags (as the Intel SDK sample: 7 debug, 5 release).
/// </summary>
public sealed record EnclaveInfo
{
    /// <summary><c>Type</c> of an SGX enclave (Open Enclave's <c>OE_ENCLAVE_TYPE_SGX</c>), what every sample file carries.</summary>
    public const int SgxType = 2;

    /// <summary><c>Type</c> Veritee writes for a TDX quote (the quote header's TEE type); MRTD then goes in <c>MrEnclaveHex</c> and MRSIGNERSEAM in <c>MrSignerHex</c>.</summary>
    public const int TdxType = 0x81;

    /// <summary>Open Enclave report attribute DEBUG.</summary>
    public const ulong OeAttributeDebug = 1;

    /// <summary>Open Enclave report attribute REMOTE.</summary>
    public const ulong OeAttributeRemote = 2;

    private static readonly string[] FieldOrder =
        ["Type", "MrEnclaveHex", "MrSignerHex", "ProductIdHex", "SecurityVersion", "Attributes", "QuoteHex", "EnclaveHeldDataHex"];

    /// <summary>Enclave type (2 = SGX).</summary>
    public required int Type { get; init; }

    /// <summary>MRENCLAVE, upper-case hex.</summary>
    public required string MrEnclaveHex { get; init; }

    /// <summary>MRSIGNER, upper-case hex.</summary>
    public required string MrSignerHex { get; init; }

    /// <summary>ISV product id as 16 bytes of hex (little-endian, zero-padded), as Open Enclave reports it.</summary>
    public required string ProductIdHex { get; init; }

    /// <summary>ISV SVN.</summary>
    public required uint SecurityVersion { get; init; }

    /// <summary>Attributes (see the type's remarks for their meaning).</summary>
    public required ulong Attributes { get; init; }

    /// <summary>The quote (optionally in an Open Enclave report header), upper-case hex.</summary>
    public required string QuoteHex { get; init; }

    /// <summary>The enclave-held data, upper-case hex.</summary>
    public required string EnclaveHeldDataHex { get; init; }

    /// <summary>The quote bytes (as stored: with the OE header when there is one).</summary>
    public byte[] Quote => Convert.FromHexString(QuoteHex);

    /// <summary>The enclave-held data bytes.</summary>
    public byte[] EnclaveHeldData => Convert.FromHexString(EnclaveHeldDataHex);

    /// <summary>The ISV product id encoded in <see cref="ProductIdHex"/>.</summary>
    public ushort ProductId => BinaryPrimitives.ReadUInt16LittleEndian(Convert.FromHexString(ProductIdHex));

    /// <summary>
    /// Describes <paramref name="evidence"/> (a quote, optionally in an OE report header) and
    /// <paramref name="enclaveHeldData"/>; identity fields are read from the quote itself.
    /// Throws <see cref="EnclaveInfoFormatException"/> when the quote does not parse.
    /// </summary>
    public static EnclaveInfo FromQuote(ReadOnlySpan<byte> evidence, ReadOnlySpan<byte> enclaveHeldData)
    {
        var bytes = evidence.ToArray();
        var wrapped = OpenEnclaveReport.HasHeader(bytes);
        Quote quote;
        try
        {
            quote = Veritee.Sgx.Quote.Parse(OpenEnclaveReport.UnwrapIfPresent(bytes));
        }
        catch (SgxFormatException e)
        {
            throw new EnclaveInfoFormatException("the quote does not parse: " + e.Message, e);
        }

        var productId = new byte[16];
        if (quote.BodyType == QuoteBodyType.SgxReport)
        {
            var report = quote.SgxReport;
            BinaryPrimitives.WriteUInt16LittleEndian(productId, report.IsvProdId);
            return new EnclaveInfo
            {
                Type = SgxType,
                MrEnclaveHex = Hex.Upper(report.MrEnclave.Span),
                MrSignerHex = Hex.Upper(report.MrSigner.Span),
                ProductIdHex = Hex.Upper(productId),
                SecurityVersion = report.IsvSvn,
                Attributes = wrapped ? OeAttributeRemote | (report.IsDebuggable ? OeAttributeDebug : 0) : report.Flags,
                QuoteHex = Hex.Upper(bytes),
                EnclaveHeldDataHex = Hex.Upper(enclaveHeldData),
            };
        }

        var td = quote.TdReport;
        return new EnclaveInfo
        {
            Type = TdxType,
            MrEnclaveHex = Hex.Upper(td.MrTd.Span),
            MrSignerHex = Hex.Upper(td.MrSignerSeam.Span),
            ProductIdHex = Hex.Upper(productId),
            SecurityVersion = 0,
            Attributes = BinaryPrimitives.ReadUInt64LittleEndian(td.TdAttributes.Span),
            QuoteHex = Hex.Upper(bytes),
            EnclaveHeldDataHex = Hex.Upper(enclaveHeldData),
        };
    }

    /// <summary>Reads a file; throws <see cref="EnclaveInfoFormatException"/> naming the file and the field at fault.</summary>
    public static EnclaveInfo Load(string path) => Parse(File.ReadAllBytes(path), path);

    /// <summary>Parses the samples' JSON; throws <see cref="EnclaveInfoFormatException"/> naming the field at fault.</summary>
    public static EnclaveInfo Parse(ReadOnlySpan<byte> json, string source = "enclave info")
    {
        using var doc = EvidenceFields.ParseObject(json, source);
        var root = doc.RootElement;
        return new EnclaveInfo
        {
            Type = (int)Integer(root, "Type", int.MaxValue, source),
            MrEnclaveHex = EvidenceFields.HexText(root, "MrEnclaveHex", [32, 48], source),
            MrSignerHex = EvidenceFields.HexText(root, "MrSignerHex", [32, 48], source),
            ProductIdHex = EvidenceFields.HexText(root, "ProductIdHex", [16], source),
            SecurityVersion = (uint)Integer(root, "SecurityVersion", uint.MaxValue, source),
            Attributes = Integer(root, "Attributes", ulong.MaxValue, source),
            QuoteHex = EvidenceFields.HexText(root, "QuoteHex", null, source, allowEmpty: false),
            EnclaveHeldDataHex = EvidenceFields.HexText(root, "EnclaveHeldDataHex", null, source, allowEmpty: true),
        };
    }

    /// <summary>The file's JSON text, as the samples write it (two-space indentation, trailing newline).</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber(FieldOrder[0], Type);
            w.WriteString(FieldOrder[1], MrEnclaveHex);
            w.WriteString(FieldOrder[2], MrSignerHex);
            w.WriteString(FieldOrder[3], ProductIdHex);
            w.WriteNumber(FieldOrder[4], SecurityVersion);
            w.WriteNumber(FieldOrder[5], Attributes);
            w.WriteString(FieldOrder[6], QuoteHex);
            w.WriteString(FieldOrder[7], EnclaveHeldDataHex);
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllText(path, ToJson());

    /// <summary>
    /// The ways the file's fields disagree with its quote (MRENCLAVE, MRSIGNER, product id, SVN, and report data =
    /// SHA-256(EHD) ‖ 32 zero bytes for SGX); empty when consistent. A quote that does not parse is one finding.
    /// </summary>
    public IReadOnlyList<string> Inconsistencies()
    {
        var findings = new List<string>();
        Quote quote;
        try
        {
            quote = Veritee.Sgx.Quote.Parse(OpenEnclaveReport.UnwrapIfPresent(Quote));
        }
        catch (SgxFormatException e)
        {
            return ["QuoteHex does not parse: " + e.Message];
        }

        if (quote.BodyType != QuoteBodyType.SgxReport)
        {
            Compare(findings, "MrEnclaveHex", MrEnclaveHex, Hex.Upper(quote.TdReport.MrTd.Span));
            return findings;
        }

        var report = quote.SgxReport;
        Compare(findings, "MrEnclaveHex", MrEnclaveHex, Hex.Upper(report.MrEnclave.Span));
        Compare(findings, "MrSignerHex", MrSignerHex, Hex.Upper(report.MrSigner.Span));
        Compare(findings, "ProductIdHex", ProductId.ToString(System.Globalization.CultureInfo.InvariantCulture), report.IsvProdId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Compare(findings, "SecurityVersion", SecurityVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), report.IsvSvn.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var expected = SampleEnclave.ReportDataFor(EnclaveHeldData);
        if (!report.ReportData.Span.SequenceEqual(expected))
        {
            findings.Add("report data is not SHA-256(EnclaveHeldData) followed by 32 zero bytes");
        }

        return findings;
    }

    private static void Compare(List<string> findings, string field, string stated, string actual)
    {
        if (!string.Equals(stated, actual, StringComparison.OrdinalIgnoreCase))
        {
            findings.Add($"{field} {stated} differs from the quote's {actual}");
        }
    }

    private static ulong Integer(JsonElement root, string name, ulong max, string source)
    {
        var value = EvidenceFields.Field(root, name, source);
        return value.ValueKind == JsonValueKind.Number && value.TryGetUInt64(out var n) && n <= max
            ? n
            : throw new EnclaveInfoFormatException($"{source}: \"{name}\" must be an integer in 0..{max}");
    }
}

/// <summary>
/// The samples' enclave: it holds an RSA-2048 key, its enclave-held data is the public key (PEM), and its report
/// data is SHA-256(EHD) followed by 32 zero bytes.
/// </summary>
public sealed class SampleEnclave : IDisposable
{
    /// <summary>Creates an enclave with a fresh RSA-2048 key, or with <paramref name="enclaveHeldData"/> as its EHD.</summary>
    public SampleEnclave(byte[]? enclaveHeldData = null)
    {
        Key = RSA.Create(2048);
        EnclaveHeldData = enclaveHeldData ?? System.Text.Encoding.ASCII.GetBytes(Key.ExportSubjectPublicKeyInfoPem() + "\n");
    }

    /// <summary>The enclave's RSA-2048 key.</summary>
    public RSA Key { get; }

    /// <summary>The enclave-held data (by default the public key as PEM text).</summary>
    public byte[] EnclaveHeldData { get; }

    /// <summary>The 64-byte report data binding the EHD.</summary>
    public byte[] ReportData => ReportDataFor(EnclaveHeldData);

    /// <summary>SHA-256(<paramref name="enclaveHeldData"/>) followed by 32 zero bytes.</summary>
    public static byte[] ReportDataFor(ReadOnlySpan<byte> enclaveHeldData)
    {
        var reportData = new byte[64];
        SHA256.HashData(enclaveHeldData, reportData);
        return reportData;
    }

    /// <inheritdoc />
    public void Dispose() => Key.Dispose();
}
