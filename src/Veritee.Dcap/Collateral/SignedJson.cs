using System.Text.Json;

namespace Veritee.Dcap.Collateral;

/// <summary>
/// Locates the signed body inside Intel's <c>{"tcbInfo":{…},"signature":"…"}</c> wire form. The signature covers the
/// exact bytes of the body as served, so the body is sliced out of the raw input and never re-serialised.
/// </summary>
internal static class SignedJson
{
    public static (ReadOnlyMemory<byte> Body, byte[] Signature) Split(ReadOnlyMemory<byte> json, string bodyName, string what)
    {
        var span = json.Span.TrimEnd((byte)0);
        if (!System.Text.Unicode.Utf8.IsValid(span))
        {
            throw new DcapFormatException($"{what}: not valid UTF-8 text");
        }

        var reader = new Utf8JsonReader(span, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        ReadOnlyMemory<byte>? body = null;
        byte[]? signature = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new DcapFormatException($"{what}: expected a JSON object");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(bodyName))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        throw new DcapFormatException($"{what}: \"{bodyName}\" must be an object");
                    }

                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    body = json.Slice(start, (int)reader.BytesConsumed - start);
                }
                else if (reader.ValueTextEquals("signature"))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String ||
                        !Veritee.Sgx.Hex.TryDecode(JsonFields.Text(ref reader, what, "signature"), out var sig) || sig.Length != 64)
                    {
                        throw new DcapFormatException($"{what}: \"signature\" must be 128 hex characters");
                    }

                    signature = sig;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                throw new DcapFormatException($"{what}: malformed JSON");
            }

            // Nothing but whitespace may follow: the collateral hashes in tokens are over the whole document.
            if (reader.Read())
            {
                throw new DcapFormatException($"{what}: unexpected content after the JSON object at byte {reader.TokenStartIndex}");
            }
        }
        catch (JsonException e)
        {
            throw new DcapFormatException($"{what}: malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine}: {e.Message}", e);
        }

        return (body ?? throw new DcapFormatException($"{what}: \"{bodyName}\" missing"),
                signature ?? throw new DcapFormatException($"{what}: \"signature\" missing"));
    }
}

/// <summary>Typed reads from a <see cref="JsonElement"/> that fail with the field name.</summary>
internal static class JsonFields
{
    public static JsonElement Required(JsonElement obj, string name, string what) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) ? v : throw new DcapFormatException($"{what}: field \"{name}\" missing");

    public static string String(JsonElement obj, string name, string what)
    {
        var v = Required(obj, name, what);
        if (v.ValueKind != JsonValueKind.String)
        {
            throw new DcapFormatException($"{what}: field \"{name}\" must be a string");
        }

        return Text(v, what, name);
    }

    /// <summary>The string value; a lone surrogate escape or invalid UTF-8 becomes a format error.</summary>
    public static string Text(JsonElement value, string what, string name)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new DcapFormatException($"{what}: field \"{name}\" is not valid text: {e.Message}", e);
        }
    }

    public static string Text(ref Utf8JsonReader reader, string what, string name)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new DcapFormatException($"{what}: field \"{name}\" is not valid text: {e.Message}", e);
        }
    }

    public static long Integer(JsonElement obj, string name, string what, long min, long max)
    {
        var v = Required(obj, name, what);
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var n) || n < min || n > max)
        {
            throw new DcapFormatException($"{what}: field \"{name}\" must be an integer in {min}..{max}");
        }

        return n;
    }

    public static byte[] HexBytes(JsonElement obj, string name, int length, string what)
    {
        var text = String(obj, name, what);
        return Veritee.Sgx.Hex.TryDecode(text, out var bytes) && bytes.Length == length
            ? bytes
            : throw new DcapFormatException($"{what}: field \"{name}\" must be {length * 2} hex characters");
    }

    public static DateTimeOffset Date(JsonElement obj, string name, string what)
    {
        var text = String(obj, name, what);
        return DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var d)
            ? d
            : throw new DcapFormatException($"{what}: field \"{name}\" is not an ISO-8601 date: \"{text}\"");
    }

    public static IReadOnlyList<string> Advisories(JsonElement level, string what)
    {
        if (!level.TryGetProperty("advisoryIDs", out var ids))
        {
            return [];
        }

        if (ids.ValueKind != JsonValueKind.Array)
        {
            throw new DcapFormatException($"{what}: \"advisoryIDs\" must be an array");
        }

        var list = new List<string>(ids.GetArrayLength());
        foreach (var id in ids.EnumerateArray())
        {
            list.Add(id.ValueKind == JsonValueKind.String ? Text(id, what, "advisoryIDs") : throw new DcapFormatException($"{what}: advisory ids must be strings"));
        }

        return list;
    }
}
