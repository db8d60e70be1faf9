using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Veritee.Tokens;

/// <summary>
/// A compact-serialised JWS split into its parts, with MAA's tolerances: an empty payload (policy reset), header JSON
/// with escapes such as <c>\u002B</c>, surrounding whitespace, and the JSON-string form (<c>"eyJ…"</c>) that
/// <c>certificates:add</c> bodies use. Strict elsewhere: three segments, base64url without padding, header and
/// (when present) payload JSON objects with no duplicate member names.
/// </summary>
public sealed class CompactJws
{
    private CompactJws(string text, JsonElement header, byte[] payload, byte[] signature, int signingInputLength)
    {
        Text = text;
        Header = header;
        Payload = payload;
        Signature = signature;
        SigningInput = Encoding.ASCII.GetBytes(text[..signingInputLength]);
    }

    /// <summary>The compact serialisation as parsed (trimmed, unquoted).</summary>
    public string Text { get; }

    /// <summary>The decoded JOSE header (a JSON object).</summary>
    public JsonElement Header { get; }

    /// <summary>The decoded payload bytes (empty for a reset request).</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The decoded signature bytes (empty for <c>alg: none</c>).</summary>
    public ReadOnlyMemory<byte> Signature { get; }

    /// <summary>ASCII of <c>base64url(header) "." base64url(payload)</c>: what the signature covers.</summary>
    public ReadOnlyMemory<byte> SigningInput { get; }

    /// <summary>The header's <c>alg</c>, or null when absent.</summary>
    public string? Algorithm => HeaderString("alg");

    /// <summary>A string member of the header, or null when absent; a non-string value is a format error.</summary>
    public string? HeaderString(string name)
    {
        if (!Header.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? StringValue(value, "JWS header member '" + name + "'")
            : throw new TokenFormatException($"JWS header member '{name}' is not a string");
    }

    /// <summary>A JSON string's value; an escaped lone surrogate (found by fuzzing) makes no string and is a format error.</summary>
    internal static string StringValue(JsonElement value, string what)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new TokenFormatException($"{what} is not a valid Unicode string", e);
        }
    }

    /// <summary>The payload parsed as a JSON object (duplicate member names rejected).</summary>
    public JsonElement PayloadJson()
    {
        if (Payload.Length == 0)
        {
            throw new TokenFormatException("JWS payload is empty");
        }

        return ParseObject(Payload.Span, "payload");
    }

    /// <summary>Parses a compact JWS (or a JSON string holding one).</summary>
    /// <exception cref="TokenFormatException">The text is not a well-formed compact JWS.</exception>
    public static CompactJws Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var token = text.Trim();
        if (token.Length >= 2 && token[0] == '"')
        {
            try
            {
                token = JsonSerializer.Deserialize<string>(token)?.Trim() ?? string.Empty;
            }
            catch (JsonException e)
            {
                throw new TokenFormatException("JWS in a JSON string is not a valid JSON string", e);
            }
        }

        var first = token.IndexOf('.', StringComparison.Ordinal);
        if (first < 0)
        {
            throw new TokenFormatException("Malformed JWT: could not find first period in the token");
        }

        var second = token.IndexOf('.', first + 1);
        if (second < 0)
        {
            throw new TokenFormatException("Malformed JWT: could not find second period in the token");
        }

        if (token.IndexOf('.', second + 1) >= 0)
        {
            throw new TokenFormatException("Malformed JWT: more than three segments (JWE or junk)");
        }

        if (first == 0)
        {
            throw new TokenFormatException("Malformed JWT: empty header");
        }

        var headerBytes = DecodeSegment(token.AsSpan(0, first), "header");
        var payload = DecodeSegment(token.AsSpan(first + 1, second - first - 1), "payload");
        var signature = DecodeSegment(token.AsSpan(second + 1), "signature");
        var header = ParseObject(headerBytes, "header");
        if (payload.Length > 0 && payload[0] == (byte)'{')
        {
            // Reject duplicate members early; the content is interpreted by the caller.
            _ = ParseObject(payload, "payload");
        }

        return new CompactJws(token, header, payload, signature, second);
    }

    /// <summary>Decodes base64url without padding; anything else is a format error.</summary>
    internal static byte[] DecodeSegment(ReadOnlySpan<char> segment, string what)
    {
        if (segment.Length == 0)
        {
            return [];
        }

        if (segment.Length % 4 == 1 || segment.ContainsAnyExcept(Base64UrlAlphabet))
        {
            throw new TokenFormatException($"Malformed JWT: {what} is not base64url without padding");
        }

        try
        {
            return Base64Url.DecodeFromChars(segment);
        }
        catch (FormatException e)
        {
            throw new TokenFormatException($"Malformed JWT: {what} is not base64url", e);
        }
    }

    /// <summary>Encodes bytes as base64url without padding.</summary>
    internal static string Encode(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);

    private static readonly System.Buffers.SearchValues<char> Base64UrlAlphabet =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    /// <summary>Parses UTF-8 JSON that must be one object without duplicate member names at any depth.</summary>
    internal static JsonElement ParseObject(ReadOnlySpan<byte> utf8, string what)
    {
        // System.Text.Json checks UTF-8 inside strings only when a string is read, and then throws InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            throw new TokenFormatException($"Malformed JWT: {what} is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8.ToArray(), new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 32 });
        }
        catch (JsonException e)
        {
            throw new TokenFormatException($"Malformed JWT: {what} is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? document.RootElement.Clone()
                : throw new TokenFormatException($"Malformed JWT: {what} is not a JSON object");
        }
    }
}
