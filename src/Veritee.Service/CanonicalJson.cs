using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Veritee.Service;

/// <summary>
/// MAA's token JSON: compact, object keys sorted by ordinal (byte) order at every depth, <c>/</c> and <c>+</c> not
/// escaped, integers as numbers. Clients that re-hash claims (x-ms-policy-hash, collateral hashes) depend on it.
/// </summary>
public static class CanonicalJson
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    // Every token and every JSON answer is serialised here: one buffer and writer per thread instead of a growing
    // MemoryStream per call (bench/README.md, "Attestation throughput"). A buffer grown past this is not kept.
    private const int MaxRetainedBuffer = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _threadBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? _threadWriter;

    /// <summary>Serialises <paramref name="node"/> canonically as UTF-8.</summary>
    public static byte[] Serialize(JsonNode? node) => Serialize(node, static bytes => bytes.ToArray());

    /// <summary>Serialises <paramref name="node"/> canonically as a string.</summary>
    public static string SerializeToString(JsonNode? node) => Serialize(node, static bytes => System.Text.Encoding.UTF8.GetString(bytes));

    /// <summary>
    /// Serialises <paramref name="node"/> into a per-thread buffer and hands the bytes to <paramref name="consume"/>,
    /// which must not keep them: the buffer is reused by the next call on this thread.
    /// </summary>
    internal static T Serialize<T>(JsonNode? node, ReadOnlySpanFunc<T> consume)
    {
        var buffer = _threadBuffer ??= new ArrayBufferWriter<byte>(4096);
        var writer = _threadWriter;
        if (writer is null)
        {
            writer = _threadWriter = new Utf8JsonWriter(buffer, Options);
        }
        else
        {
            writer.Reset(buffer);
        }

        try
        {
            Write(writer, node);
            writer.Flush();
            return consume(buffer.WrittenSpan);
        }
        finally
        {
            if (buffer.Capacity > MaxRetainedBuffer)
            {
                _threadBuffer = null;
                _threadWriter = null;
            }
            else
            {
                // Cleared, not only reset: the next call must not see this call's claims.
                buffer.Clear();
            }
        }
    }

    /// <summary>A function of a span that cannot be captured by a <see cref="Func{T, TResult}"/>.</summary>
    internal delegate T ReadOnlySpanFunc<out T>(ReadOnlySpan<byte> bytes);

    private static void Write(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                var properties = new KeyValuePair<string, JsonNode?>[obj.Count];
                ((ICollection<KeyValuePair<string, JsonNode?>>)obj).CopyTo(properties, 0);
                Array.Sort(properties, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
                foreach (var (key, value) in properties)
                {
                    writer.WritePropertyName(key);
                    Write(writer, value);
                }

                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }
}
