using System.Text.Json;
using Veritee.Sgx;

namespace Veritee.Dcap.Pccs;

/// <summary>
/// One platform as PCKIDRetrievalTool reports it and <c>platform_list.json</c> / <c>GET /platforms</c> list it
/// (Intel PCCS's registration body and pcsclient's file): all hex strings, as given (case kept). <see cref="PlatformManifest"/> is empty for a
/// single-package platform, which then has <see cref="CpuSvn"/>, <see cref="PceSvn"/> and <see cref="EncPpid"/>.
/// </summary>
/// <param name="QeId">QE ID (QCNL and the tool send 32 hex; non-enclave mode a longer platform id), 1–260 characters.</param>
/// <param name="PceId">PCE ID, 4 hex (little-endian).</param>
/// <param name="CpuSvn">Raw CPUSVN, 32 hex, or empty.</param>
/// <param name="PceSvn">Raw PCESVN, 4 hex (little-endian), or empty.</param>
/// <param name="EncPpid">Encrypted PPID, 768 hex, or empty.</param>
/// <param name="PlatformManifest">Platform manifest, hex, or empty.</param>
/// <param name="PckIdFileName">The CSV file a <c>collect</c> read it from (<c>pckid_filename</c>), or null.</param>
public sealed record PlatformEntry(string QeId, string PceId, string CpuSvn, string PceSvn, string EncPpid, string PlatformManifest, string? PckIdFileName = null)
{
    /// <summary>Longest accepted QE ID (Intel's schema).</summary>
    public const int MaxQeIdChars = 260;

    /// <summary>Longest accepted platform manifest, in hex characters (a manifest of an 8-socket platform is a few KiB).</summary>
    public const int MaxManifestChars = 256 * 1024;

    /// <summary>Checks Intel's field rules; throws <see cref="DcapFormatException"/> naming <paramref name="what"/> and the field.</summary>
    public void Validate(string what)
    {
        if (QeId.Length is 0 or > MaxQeIdChars)
        {
            throw new DcapFormatException($"{what}.qe_id: must be 1 to {MaxQeIdChars} characters, got {QeId.Length}");
        }

        HexField(PceId, "pce_id", 4, what, required: true);
        HexField(CpuSvn, "cpu_svn", 32, what, required: false);
        HexField(PceSvn, "pce_svn", 4, what, required: false);
        HexField(EncPpid, "enc_ppid", 768, what, required: false);
        if (PlatformManifest.Length > MaxManifestChars || (PlatformManifest.Length > 0 && !IsHex(PlatformManifest)) || PlatformManifest.Length % 2 != 0)
        {
            throw new DcapFormatException($"{what}.platform_manifest: must be hex of at most {MaxManifestChars} characters");
        }

        if (PlatformManifest.Length == 0 && (CpuSvn.Length == 0 || PceSvn.Length == 0 || EncPpid.Length == 0))
        {
            throw new DcapFormatException($"{what}: without platform_manifest, cpu_svn, pce_svn and enc_ppid are required");
        }
    }

    internal static bool IsHex(string text) => text.All(char.IsAsciiHexDigit);

    private static void HexField(string value, string name, int length, string what, bool required)
    {
        if (value.Length == 0 && !required)
        {
            return;
        }

        if (value.Length != length || !IsHex(value))
        {
            throw new DcapFormatException($"{what}.{name}: must be {length} hex digits, got {value.Length} characters");
        }
    }

    internal static PlatformEntry Read(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new DcapFormatException($"{what}: must be an object");
        }

        var entry = new PlatformEntry(
            PccsJson.String(e, "qe_id", what),
            PccsJson.String(e, "pce_id", what),
            PccsJson.OptionalString(e, "cpu_svn", what) ?? "",
            PccsJson.OptionalString(e, "pce_svn", what) ?? "",
            PccsJson.OptionalString(e, "enc_ppid", what) ?? "",
            PccsJson.OptionalString(e, "platform_manifest", what) ?? "",
            PccsJson.OptionalString(e, "pckid_filename", what));
        entry.Validate(what);
        return entry;
    }

    internal void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("enc_ppid", EncPpid);
        w.WriteString("pce_id", PceId);
        w.WriteString("cpu_svn", CpuSvn);
        w.WriteString("pce_svn", PceSvn);
        w.WriteString("qe_id", QeId);
        w.WriteString("platform_manifest", PlatformManifest);
        if (PckIdFileName is not null)
        {
            w.WriteString("pckid_filename", PckIdFileName);
        }

        w.WriteEndObject();
    }
}

/// <summary>
/// <c>platform_list.json</c> (Intel's format): the JSON array of <see cref="PlatformEntry"/> that <c>pccsadmin get</c>,
/// <c>pcsclient collect</c> and <c>veritee pccs collect</c> write and <c>pcsclient fetch</c> reads. Bounded; Intel's own
/// files read.
/// </summary>
public static class PlatformListFile
{
    /// <summary>Largest accepted file: 64 MiB.</summary>
    public const int MaxBytes = 64 * 1024 * 1024;

    /// <summary>Most platforms in one file.</summary>
    public const int MaxPlatforms = 100_000;

    /// <summary>Reads a platform list; throws <see cref="DcapFormatException"/> naming the entry and field.</summary>
    public static IReadOnlyList<PlatformEntry> Read(ReadOnlySpan<byte> json)
    {
        using var doc = PccsJson.Parse(json, MaxBytes, "platform list");
        return ReadArray(doc.RootElement, "platforms");
    }

    /// <summary>Writes a platform list (Intel's key order; indented like pcsclient's output).</summary>
    public static byte[] Write(IEnumerable<PlatformEntry> platforms)
    {
        ArgumentNullException.ThrowIfNull(platforms);
        return PccsJson.Write(w =>
        {
            w.WriteStartArray();
            foreach (var p in platforms)
            {
                p.Write(w);
            }

            w.WriteEndArray();
        });
    }

    internal static List<PlatformEntry> ReadArray(JsonElement array, string what)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw new DcapFormatException($"{what}: must be a JSON array, got {array.ValueKind}");
        }

        if (array.GetArrayLength() > MaxPlatforms)
        {
            throw new DcapFormatException($"{what}: {array.GetArrayLength()} platforms exceed the limit of {MaxPlatforms}");
        }

        var list = new List<PlatformEntry>();
        foreach (var e in array.EnumerateArray())
        {
            list.Add(PlatformEntry.Read(e, $"{what}[{list.Count}]"));
        }

        return list;
    }
}

/// <summary>JSON helpers shared by the PCCS file formats.</summary>
internal static class PccsJson
{
    public static JsonDocument Parse(ReadOnlySpan<byte> json, int maxBytes, string what)
    {
        if (json.Length > maxBytes)
        {
            throw new DcapFormatException($"{what}: {json.Length} bytes exceed the {maxBytes}-byte limit");
        }

        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            throw new DcapFormatException($"{what}: not valid UTF-8 text");
        }

        try
        {
            return JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 32, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new DcapFormatException($"{what}: malformed JSON: {e.Message}", e);
        }
    }

    public static byte[] Write(Action<Utf8JsonWriter> body, bool indented = true)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            body(writer);
        }

        if (indented)
        {
            stream.WriteByte((byte)'\n');
        }

        return stream.ToArray();
    }

    public static JsonElement Required(JsonElement obj, string name, string what) =>
        obj.TryGetProperty(name, out var value) ? value : throw new DcapFormatException($"{what}: \"{name}\" is missing");

    public static string String(JsonElement obj, string name, string what) =>
        OptionalString(obj, name, what) ?? throw new DcapFormatException($"{what}: \"{name}\" is missing");

    /// <summary>The string value; null when the property is absent or JSON null.</summary>
    public static string? OptionalString(JsonElement obj, string name, string what)
    {
        return !obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null : StringValue(value, name, what);
    }

    /// <summary>The string value; refused when the property is absent or not a string (JSON null included).</summary>
    public static string RequiredString(JsonElement obj, string name, string what) =>
        obj.TryGetProperty(name, out var value) ? StringValue(value, name, what) : throw new DcapFormatException($"{what}: \"{name}\" is missing");

    private static string StringValue(JsonElement value, string name, string what)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            throw new DcapFormatException($"{what}.{name}: must be a string, got {value.ValueKind}");
        }

        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            // An escape such as \uD800 that names no character.
            throw new DcapFormatException($"{what}.{name}: {e.Message}", e);
        }
    }

    /// <summary>Hex text (either case) decoded; null when absent; at most <paramref name="maxBytes"/> bytes.</summary>
    public static byte[]? OptionalHex(JsonElement obj, string name, string what, int maxBytes)
    {
        // Empty means absent (pcsclient initialises "rootcacrl" to "").
        var text = OptionalString(obj, name, what);
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (text.Length > 2L * maxBytes)
        {
            throw new DcapFormatException($"{what}.{name}: {text.Length / 2} bytes exceed the limit of {maxBytes}");
        }

        return Hex.TryDecode(text, out var bytes) ? bytes : throw new DcapFormatException($"{what}.{name}: not hex of even length");
    }
}
