using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Veritee.Dcap.X509;

namespace Veritee.Dcap.Pccs;

/// <summary>
/// The body of PCS <c>GET|POST /sgx/certification/v4/pckcerts</c> (Intel PCS API v4): a JSON array of
/// <c>{"tcb":{"sgxtcbcomp01svn":…,"pcesvn":…},"tcbm":"…","cert":"&lt;URL-encoded PEM&gt;"|"Not available"}</c>.
/// Parsing is bounded (<see cref="MaxBytes"/>, <see cref="MaxEntries"/>, <see cref="MaxCertificateChars"/>) and every
/// failure is a <see cref="DcapFormatException"/> naming the entry and field.
/// </summary>
public static class PcsPckCertificates
{
    /// <summary>Largest accepted body: 1 MiB (a real platform's set of ~30 levels is under 100 KiB).</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>Most entries accepted in one set.</summary>
    public const int MaxEntries = 256;

    /// <summary>Longest accepted URL-encoded certificate (a PCK certificate is ~1.3 KiB of PEM, ~2 KiB encoded).</summary>
    public const int MaxCertificateChars = 16 * 1024;

    /// <summary>The <c>cert</c> value PCS gives for a TCB level it has no certificate for.</summary>
    public const string NotAvailable = "Not available";

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 8, AllowDuplicateProperties = false };

    /// <summary>Parses a <c>pckcerts</c> body; the TCBm is upper-cased and must equal the entry's TCB (<c>tcbType</c> 0).</summary>
    /// <exception cref="DcapFormatException">The body is too large, not the PCS shape, or an entry is inconsistent.</exception>
    public static IReadOnlyList<PckCertificateEntry> Parse(ReadOnlySpan<byte> json)
    {
        if (json.Length > MaxBytes)
        {
            throw new DcapFormatException($"pckcerts: {json.Length} bytes exceed the {MaxBytes}-byte limit");
        }

        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            throw new DcapFormatException("pckcerts: not valid UTF-8 text");
        }

        try
        {
            using var doc = JsonDocument.Parse(json.ToArray(), Options);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
            {
                throw new DcapFormatException($"pckcerts: must be a JSON array, got {root.ValueKind}");
            }

            var count = root.GetArrayLength();
            if (count > MaxEntries)
            {
                throw new DcapFormatException($"pckcerts: {count} entries exceed the limit of {MaxEntries}");
            }

            var entries = new List<PckCertificateEntry>(count);
            var index = 0;
            foreach (var element in root.EnumerateArray())
            {
                entries.Add(ReadEntry(element, $"pckcerts[{index}]"));
                index++;
            }

            return entries;
        }
        catch (JsonException e)
        {
            throw new DcapFormatException($"pckcerts: malformed JSON: {e.Message}", e);
        }
    }

    /// <summary>Reads one entry (also used for the <c>certs</c> of a <c>platform_collaterals.json</c> file).</summary>
    internal static PckCertificateEntry ReadEntry(JsonElement element, string what)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new DcapFormatException($"{what}: must be an object");
        }

        var tcb = ReadTcb(Property(element, "tcb", what), what + ".tcb");
        var tcbmText = StringProperty(element, "tcbm", what);
        if (!PcsTcb.TryParseTcbm(tcbmText, out var fromTcbm))
        {
            throw new DcapFormatException($"{what}.tcbm: must be 36 hex digits, got {tcbmText.Length} characters");
        }

        if (!fromTcbm!.Equals(tcb))
        {
            throw new DcapFormatException($"{what}.tcbm: {tcbmText.ToUpperInvariant()} does not match its tcb ({tcb.Tcbm})");
        }

        var cert = StringProperty(element, "cert", what);
        string? pem = null;
        if (cert != NotAvailable)
        {
            pem = DecodeCertificate(cert, what + ".cert");
        }

        return new PckCertificateEntry(tcb, tcb.Tcbm, pem);
    }

    /// <summary>Writes entries in the PCS shape (certificates URL-encoded, "Not available" for null).</summary>
    public static byte[] Write(IEnumerable<PckCertificateEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartArray();
            foreach (var entry in entries)
            {
                WriteEntry(writer, entry);
            }

            writer.WriteEndArray();
        }

        return stream.ToArray();
    }

    /// <summary>Writes one entry object.</summary>
    internal static void WriteEntry(Utf8JsonWriter writer, PckCertificateEntry entry)
    {
        writer.WriteStartObject();
        WriteTcb(writer, entry.Tcb);
        writer.WriteString("tcbm", entry.Tcbm);
        writer.WriteString("cert", entry.CertificatePem is null ? NotAvailable : Uri.EscapeDataString(entry.CertificatePem));
        writer.WriteEndObject();
    }

    /// <summary>Writes <c>"tcb":{"sgxtcbcomp01svn":…,"pcesvn":…}</c>.</summary>
    internal static void WriteTcb(Utf8JsonWriter writer, PcsTcb tcb)
    {
        writer.WriteStartObject("tcb");
        for (var i = 0; i < 16; i++)
        {
            writer.WriteNumber(ComponentName(i), tcb.ComponentSvns[i]);
        }

        writer.WriteNumber("pcesvn", tcb.PceSvn);
        writer.WriteEndObject();
    }

    private static string ComponentName(int i) => "sgxtcbcomp" + (i + 1).ToString("D2", CultureInfo.InvariantCulture) + "svn";

    private static PcsTcb ReadTcb(JsonElement tcb, string what)
    {
        if (tcb.ValueKind != JsonValueKind.Object)
        {
            throw new DcapFormatException($"{what}: must be an object");
        }

        Span<byte> components = stackalloc byte[16];
        for (var i = 0; i < 16; i++)
        {
            components[i] = (byte)IntegerProperty(tcb, ComponentName(i), what, 255);
        }

        return new PcsTcb(components, (ushort)IntegerProperty(tcb, "pcesvn", what, ushort.MaxValue));
    }

    private static string DecodeCertificate(string encoded, string what)
    {
        if (encoded.Length > MaxCertificateChars)
        {
            throw new DcapFormatException($"{what}: {encoded.Length} characters exceed the limit of {MaxCertificateChars}");
        }

        var pem = Uri.UnescapeDataString(encoded);
        IReadOnlyList<byte[]> ders;
        try
        {
            ders = Pem.DecodeCertificates(Encoding.UTF8.GetBytes(pem));
        }
        catch (DcapFormatException e)
        {
            throw new DcapFormatException($"{what}: {e.Message}", e);
        }

        if (ders.Count != 1)
        {
            throw new DcapFormatException($"{what}: must hold exactly one PEM certificate, found {ders.Count}");
        }

        // Re-armour: the stored PEM is canonical (64-column base64, LF endings, a final LF as QCNL needs).
        return PemText(ders[0]);
    }

    /// <summary>A canonical PEM certificate: 64-column base64, LF line ends, ending in a newline.</summary>
    internal static string PemText(byte[] der) =>
        new string(PemEncoding.Write("CERTIFICATE", der)) + "\n";

    private static JsonElement Property(JsonElement obj, string name, string what) =>
        obj.TryGetProperty(name, out var value) ? value : throw new DcapFormatException($"{what}: \"{name}\" is missing");

    private static string StringProperty(JsonElement obj, string name, string what) => PccsJson.RequiredString(obj, name, what);

    private static long IntegerProperty(JsonElement obj, string name, string what, long max)
    {
        var value = Property(obj, name, what);
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number < 0 || number > max)
        {
            throw new DcapFormatException($"{what}.{name}: must be an integer 0..{max}, got {Short(value.GetRawText())}");
        }

        return number;
    }

    private static string Short(string text) => text.Length <= 32 ? text : text[..32] + "…";
}
