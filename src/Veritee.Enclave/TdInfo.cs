using System.Security.Cryptography;
using System.Text.Json;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>
/// The TD evidence file (<c>td.info.json</c>), Veritee's counterpart of the samples' <c>enclave.info.*.json</c> for an
/// Intel TDX guest: <c>Type</c> 129 (the quote header's TEE type 0x81), the measurements a relying party compares
/// with the token (<c>MrTdHex</c>, <c>Rtmr0Hex</c>…<c>Rtmr3Hex</c>, <c>MrConfigIdHex</c>, <c>MrOwnerHex</c>,
/// <c>MrOwnerConfigHex</c>, <c>TdAttributesHex</c>, <c>XfamHex</c>), the TDX module it ran on (<c>MrSeamHex</c>,
/// <c>TeeTcbSvnHex</c>), the quote (<c>QuoteHex</c>) and the runtime data bound into its report data
/// (<c>RuntimeDataHex</c>, <c>RuntimeDataType</c> <c>Binary</c> or <c>JSON</c>). Hex is upper case, written in that
/// field order with two-space indentation, as the SGX file. The report data is SHA-256(runtime data) followed by 32
/// zero bytes (docs/tdx.md).
/// </summary>
public sealed record TdInfo
{
    /// <summary><c>Type</c> of a TD evidence file: the quote header's TEE type for TDX.</summary>
    public const int TdxType = 0x81;

    /// <summary>The file name <c>veritee genquote --tdx</c> writes by default.</summary>
    public const string DefaultFileName = "td.info.json";

    private const int MeasurementSize = 48;

    /// <summary>Always <see cref="TdxType"/>.</summary>
    public int Type { get; init; } = TdxType;

    /// <summary>MRTD: the measurement of the TD's initial contents (firmware), 48 bytes.</summary>
    public required string MrTdHex { get; init; }

    /// <summary>RTMR0 (firmware configuration), 48 bytes.</summary>
    public required string Rtmr0Hex { get; init; }

    /// <summary>RTMR1 (OS loader and kernel), 48 bytes.</summary>
    public required string Rtmr1Hex { get; init; }

    /// <summary>RTMR2 (OS and application), 48 bytes.</summary>
    public required string Rtmr2Hex { get; init; }

    /// <summary>RTMR3, 48 bytes.</summary>
    public required string Rtmr3Hex { get; init; }

    /// <summary>MRCONFIGID, set by the host when the TD was created, 48 bytes.</summary>
    public required string MrConfigIdHex { get; init; }

    /// <summary>MROWNER, 48 bytes.</summary>
    public required string MrOwnerHex { get; init; }

    /// <summary>MROWNERCONFIG, 48 bytes.</summary>
    public required string MrOwnerConfigHex { get; init; }

    /// <summary>TD attributes, the 8 bytes in quote order (bit 0 of the first byte is DEBUG).</summary>
    public required string TdAttributesHex { get; init; }

    /// <summary>XFAM, the 8 bytes in quote order.</summary>
    public required string XfamHex { get; init; }

    /// <summary>MRSEAM: the TDX module's measurement, 48 bytes.</summary>
    public required string MrSeamHex { get; init; }

    /// <summary>TEE TCB SVN, 16 bytes.</summary>
    public required string TeeTcbSvnHex { get; init; }

    /// <summary>The TD quote (v4 or v5), upper-case hex.</summary>
    public required string QuoteHex { get; init; }

    /// <summary>The runtime data bound into the report data, upper-case hex (may be empty).</summary>
    public required string RuntimeDataHex { get; init; }

    /// <summary><c>Binary</c> or <c>JSON</c>: how the runtime data is sent to the service (<c>JSON</c> yields <c>x-ms-runtime</c>).</summary>
    public string RuntimeDataType { get; init; } = "Binary";

    /// <summary>The quote bytes.</summary>
    public byte[] Quote => Convert.FromHexString(QuoteHex);

    /// <summary>The runtime data bytes.</summary>
    public byte[] RuntimeData => Convert.FromHexString(RuntimeDataHex);

    /// <summary>True when <see cref="RuntimeDataType"/> is <c>JSON</c>.</summary>
    public bool RuntimeDataIsJson => RuntimeDataType == "JSON";

    /// <summary>True when the TD attributes' DEBUG bit is set: the host can read the TD's memory and CPU state.</summary>
    public bool IsDebuggable => (Convert.FromHexString(TdAttributesHex)[0] & 1) != 0;

    /// <summary>RTMR <paramref name="index"/> (0–3) as stated in the file.</summary>
    public string Rtmr(int index) => index switch
    {
        0 => Rtmr0Hex,
        1 => Rtmr1Hex,
        2 => Rtmr2Hex,
        3 => Rtmr3Hex,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "RTMR index is 0..3"),
    };

    /// <summary>SHA-256(<paramref name="runtimeData"/>) followed by 32 zero bytes: the report data a TD binds its runtime data with.</summary>
    public static byte[] ReportDataFor(ReadOnlySpan<byte> runtimeData)
    {
        var reportData = new byte[64];
        SHA256.HashData(runtimeData, reportData);
        return reportData;
    }

    /// <summary>
    /// Describes a TD quote and the runtime data it binds; every measurement is read from the quote itself.
    /// Throws <see cref="EnclaveInfoFormatException"/> when the quote does not parse or is not a TD quote.
    /// </summary>
    public static TdInfo FromQuote(ReadOnlySpan<byte> quote, ReadOnlySpan<byte> runtimeData, bool runtimeDataIsJson)
    {
        var bytes = quote.ToArray();
        Quote parsed;
        try
        {
            parsed = Veritee.Sgx.Quote.Parse(bytes);
        }
        catch (SgxFormatException e)
        {
            throw new EnclaveInfoFormatException("the quote does not parse: " + e.Message, e);
        }

        if (parsed.BodyType == QuoteBodyType.SgxReport)
        {
            throw new EnclaveInfoFormatException("the quote is an SGX enclave quote, not a TD quote (use the enclave.info file for SGX)");
        }

        var td = parsed.TdReport;
        return new TdInfo
        {
            MrTdHex = Hex.Upper(td.MrTd.Span),
            Rtmr0Hex = Hex.Upper(td.RtMr(0).Span),
            Rtmr1Hex = Hex.Upper(td.RtMr(1).Span),
            Rtmr2Hex = Hex.Upper(td.RtMr(2).Span),
            Rtmr3Hex = Hex.Upper(td.RtMr(3).Span),
            MrConfigIdHex = Hex.Upper(td.MrConfigId.Span),
            MrOwnerHex = Hex.Upper(td.MrOwner.Span),
            MrOwnerConfigHex = Hex.Upper(td.MrOwnerConfig.Span),
            TdAttributesHex = Hex.Upper(td.TdAttributes.Span),
            XfamHex = Hex.Upper(td.Xfam.Span),
            MrSeamHex = Hex.Upper(td.MrSeam.Span),
            TeeTcbSvnHex = Hex.Upper(td.TeeTcbSvn.Span),
            QuoteHex = Hex.Upper(bytes),
            RuntimeDataHex = Hex.Upper(runtimeData),
            RuntimeDataType = runtimeDataIsJson ? "JSON" : "Binary",
        };
    }

    /// <summary>
    /// Makes a TD evidence file on a TD: binds <paramref name="runtimeData"/> as <see cref="ReportDataFor"/> (SHA-256
    /// followed by 32 zero bytes, the configfs-tsm <c>inblob</c>), asks <paramref name="source"/> (e.g.
    /// <see cref="QuoteSources.SelectTd"/>) for the quote and reads every measurement from it.
    /// </summary>
    /// <exception cref="QuoteSourceException">The source failed or did not return a TD quote.</exception>
    public static TdInfo FromSource(IQuoteSource source, ReadOnlySpan<byte> runtimeData, bool runtimeDataIsJson)
    {
        ArgumentNullException.ThrowIfNull(source);
        var evidence = source.GetQuote(ReportDataFor(runtimeData));
        if (evidence.TeeType != TeeType.Tdx)
        {
            throw new QuoteSourceException($"{source.Name} ({source.Location}) returned a {evidence.TeeType} quote, not a TD quote");
        }

        return FromQuote(evidence.Quote, runtimeData, runtimeDataIsJson);
    }

    /// <summary>True when <paramref name="json"/> is a JSON object whose <c>Type</c> is <see cref="TdxType"/> (false for anything else, including malformed JSON).</summary>
    public static bool IsTdInfo(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            return doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("Type", out var type) && type.ValueKind == JsonValueKind.Number &&
                type.TryGetInt32(out var value) && value == TdxType;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Reads a file; throws <see cref="EnclaveInfoFormatException"/> naming the file and the field at fault.</summary>
    public static TdInfo Load(string path) => Parse(File.ReadAllBytes(path), path);

    /// <summary>Parses the file's JSON; throws <see cref="EnclaveInfoFormatException"/> naming the field at fault.</summary>
    public static TdInfo Parse(ReadOnlySpan<byte> json, string source = "TD info")
    {
        using var doc = EvidenceFields.ParseObject(json, source);
        var root = doc.RootElement;
        var type = EvidenceFields.Field(root, "Type", source);
        if (type.ValueKind != JsonValueKind.Number || !type.TryGetInt32(out var typeValue) || typeValue != TdxType)
        {
            throw new EnclaveInfoFormatException($"{source}: \"Type\" must be {TdxType} (a TD evidence file)");
        }

        var runtimeType = EvidenceFields.Field(root, "RuntimeDataType", source);
        var runtimeTypeText = runtimeType.ValueKind == JsonValueKind.String ? runtimeType.GetString() : null;
        if (runtimeTypeText is not ("Binary" or "JSON"))
        {
            throw new EnclaveInfoFormatException($"{source}: \"RuntimeDataType\" must be \"Binary\" or \"JSON\"");
        }

        return new TdInfo
        {
            MrTdHex = EvidenceFields.HexText(root, "MrTdHex", [MeasurementSize], source),
            Rtmr0Hex = EvidenceFields.HexText(root, "Rtmr0Hex", [MeasurementSize], source),
            Rtmr1Hex = EvidenceFields.HexText(root, "Rtmr1Hex", [MeasurementSize], source),
            Rtmr2Hex = EvidenceFields.HexText(root, "Rtmr2Hex", [MeasurementSize], source),
            Rtmr3Hex = EvidenceFields.HexText(root, "Rtmr3Hex", [MeasurementSize], source),
            MrConfigIdHex = EvidenceFields.HexText(root, "MrConfigIdHex", [MeasurementSize], source),
            MrOwnerHex = EvidenceFields.HexText(root, "MrOwnerHex", [MeasurementSize], source),
            MrOwnerConfigHex = EvidenceFields.HexText(root, "MrOwnerConfigHex", [MeasurementSize], source),
            TdAttributesHex = EvidenceFields.HexText(root, "TdAttributesHex", [8], source),
            XfamHex = EvidenceFields.HexText(root, "XfamHex", [8], source),
            MrSeamHex = EvidenceFields.HexText(root, "MrSeamHex", [MeasurementSize], source),
            TeeTcbSvnHex = EvidenceFields.HexText(root, "TeeTcbSvnHex", [16], source),
            QuoteHex = EvidenceFields.HexText(root, "QuoteHex", null, source),
            RuntimeDataHex = EvidenceFields.HexText(root, "RuntimeDataHex", null, source, allowEmpty: true),
            RuntimeDataType = runtimeTypeText,
        };
    }

    /// <summary>The file's JSON text (two-space indentation, trailing newline).</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("Type", Type);
            w.WriteString("MrTdHex", MrTdHex);
            w.WriteString("Rtmr0Hex", Rtmr0Hex);
            w.WriteString("Rtmr1Hex", Rtmr1Hex);
            w.WriteString("Rtmr2Hex", Rtmr2Hex);
            w.WriteString("Rtmr3Hex", Rtmr3Hex);
            w.WriteString("MrConfigIdHex", MrConfigIdHex);
            w.WriteString("MrOwnerHex", MrOwnerHex);
            w.WriteString("MrOwnerConfigHex", MrOwnerConfigHex);
            w.WriteString("TdAttributesHex", TdAttributesHex);
            w.WriteString("XfamHex", XfamHex);
            w.WriteString("MrSeamHex", MrSeamHex);
            w.WriteString("TeeTcbSvnHex", TeeTcbSvnHex);
            w.WriteString("QuoteHex", QuoteHex);
            w.WriteString("RuntimeDataHex", RuntimeDataHex);
            w.WriteString("RuntimeDataType", RuntimeDataType);
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllText(path, ToJson());

    /// <summary>
    /// The ways the file disagrees with its quote (every measurement field, and report data = SHA-256(runtime data)
    /// followed by 32 zero bytes); empty when consistent. A quote that does not parse, or is not a TD quote, is one finding.
    /// </summary>
    public IReadOnlyList<string> Inconsistencies()
    {
        Quote quote;
        try
        {
            quote = Veritee.Sgx.Quote.Parse(Quote);
        }
        catch (SgxFormatException e)
        {
            return ["QuoteHex does not parse: " + e.Message];
        }

        if (quote.BodyType == QuoteBodyType.SgxReport)
        {
            return ["QuoteHex is an SGX enclave quote, not a TD quote"];
        }

        var td = quote.TdReport;
        var findings = new List<string>();
        Compare(findings, "MrTdHex", MrTdHex, td.MrTd.Span);
        for (var i = 0; i < 4; i++)
        {
            Compare(findings, $"Rtmr{i}Hex", Rtmr(i), td.RtMr(i).Span);
        }

        Compare(findings, "MrConfigIdHex", MrConfigIdHex, td.MrConfigId.Span);
        Compare(findings, "MrOwnerHex", MrOwnerHex, td.MrOwner.Span);
        Compare(findings, "MrOwnerConfigHex", MrOwnerConfigHex, td.MrOwnerConfig.Span);
        Compare(findings, "TdAttributesHex", TdAttributesHex, td.TdAttributes.Span);
        Compare(findings, "XfamHex", XfamHex, td.Xfam.Span);
        Compare(findings, "MrSeamHex", MrSeamHex, td.MrSeam.Span);
        Compare(findings, "TeeTcbSvnHex", TeeTcbSvnHex, td.TeeTcbSvn.Span);
        if (!td.ReportData.Span.SequenceEqual(ReportDataFor(RuntimeData)))
        {
            findings.Add("the quote's report data is not SHA-256(RuntimeData) followed by 32 zero bytes");
        }

        return findings;
    }

    private static void Compare(List<string> findings, string field, string stated, ReadOnlySpan<byte> actual)
    {
        var actualHex = Hex.Upper(actual);
        if (!string.Equals(stated, actualHex, StringComparison.OrdinalIgnoreCase))
        {
            findings.Add($"{field} {stated} differs from the quote's {actualHex}");
        }
    }
}

/// <summary>Field readers shared by the evidence files (<see cref="EnclaveInfo"/>, <see cref="TdInfo"/>): errors name the file and the field.</summary>
internal static class EvidenceFields
{
    /// <summary>Parses <paramref name="json"/>, which must be a JSON object; the caller disposes the document.</summary>
    public static JsonDocument ParseObject(ReadOnlySpan<byte> json, string source)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            throw new EnclaveInfoFormatException($"{source}: not valid JSON: {e.Message}", e);
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new EnclaveInfoFormatException($"{source}: must be a JSON object");
        }

        return doc;
    }

    public static JsonElement Field(JsonElement root, string name, string source) =>
        root.TryGetProperty(name, out var value) ? value : throw new EnclaveInfoFormatException($"{source}: \"{name}\" is missing");

    /// <summary>A hex string field of one of <paramref name="lengths"/> bytes (any length when null).</summary>
    public static string HexText(JsonElement root, string name, int[]? lengths, string source, bool allowEmpty = false)
    {
        var value = Field(root, name, source);
        if (value.ValueKind != JsonValueKind.String)
        {
            throw new EnclaveInfoFormatException($"{source}: \"{name}\" must be a hex string");
        }

        var text = value.GetString()!;
        if (!Hex.TryDecode(text, out var bytes))
        {
            throw new EnclaveInfoFormatException($"{source}: \"{name}\" is not hex of even length");
        }

        if (lengths is not null && !lengths.Contains(bytes.Length))
        {
            throw new EnclaveInfoFormatException($"{source}: \"{name}\" is {bytes.Length} bytes, expected {string.Join(" or ", lengths)}");
        }

        if (!allowEmpty && bytes.Length == 0)
        {
            throw new EnclaveInfoFormatException($"{source}: \"{name}\" is empty");
        }

        return text;
    }
}
