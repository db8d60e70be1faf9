using System.Text.Json;

namespace Veritee.Policy;

/// <summary>
/// JSON forms of claims: reading an incoming claim list and writing issued claims as a token-style object.
/// </summary>
public static class PolicyJson
{
    /// <summary>
    /// Reads an array of <c>{"type": string, "value": string|integer|boolean|array, "issuer"?: string}</c>.
    /// The issuer defaults to <c>AttestationService</c>; an array value gives one claim per element.
    /// </summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The claims in document order.</returns>
    /// <exception cref="FormatException">The text is not such an array; the message says where and why.</exception>
    public static List<PolicyClaim> ReadClaims(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new FormatException("claims: invalid JSON: " + e.Message, e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("claims: expected a JSON array of {\"type\", \"value\", \"issuer\"?} objects");
            }

            var claims = new List<PolicyClaim>();
            var index = 0;
            foreach (var item in document.RootElement.EnumerateArray())
            {
                ReadClaim(item, index++, claims);
            }

            return claims;
        }
    }

    private static void ReadClaim(JsonElement item, int index, List<PolicyClaim> claims)
    {
        var where = $"claims[{index}]";
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"{where}: expected an object, got {item.ValueKind}");
        }

        string? type = null;
        string issuer = ClaimIssuers.AttestationService;
        JsonElement? value = null;
        foreach (var property in item.EnumerateObject())
        {
            switch (property.Name)
            {
                case "type":
                    type = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : throw new FormatException($"{where}.type: expected a string");
                    break;
                case "issuer":
                    issuer = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : throw new FormatException($"{where}.issuer: expected a string");
                    break;
                case "value":
                    value = property.Value;
                    break;
                default:
                    throw new FormatException($"{where}: unknown property '{property.Name}' (expected type, value, issuer)");
            }
        }

        if (type is null)
        {
            throw new FormatException($"{where}: missing \"type\"");
        }

        if (value is not { } v)
        {
            throw new FormatException($"{where}: missing \"value\"");
        }

        if (v.ValueKind == JsonValueKind.Array)
        {
            foreach (var element in v.EnumerateArray())
            {
                claims.Add(new PolicyClaim(type, ReadScalar(element, where + ".value[]"), issuer));
            }
        }
        else
        {
            claims.Add(new PolicyClaim(type, ReadScalar(v, where + ".value"), issuer));
        }
    }

    private static ClaimValue ReadScalar(JsonElement element, string where) => element.ValueKind switch
    {
        JsonValueKind.String => ClaimValue.FromString(element.GetString()!),
        JsonValueKind.True => ClaimValue.True,
        JsonValueKind.False => ClaimValue.False,
        JsonValueKind.Number when element.TryGetInt64(out var integer) && element.GetRawText().AsSpan().IndexOfAny(".eE") < 0 => ClaimValue.FromInteger(integer),
        JsonValueKind.Number => throw new FormatException($"{where}: {element.GetRawText()} is not a 64-bit integer (claim values are String, Integer or Boolean)"),
        _ => throw new FormatException($"{where}: expected a string, integer or boolean, got {element.ValueKind}"),
    };

    /// <summary>
    /// Writes claims as one JSON object, type to value, in first-issued order. Values keep their types; several claims
    /// of one type become an array in the order issued.
    /// </summary>
    /// <param name="writer">The writer.</param>
    /// <param name="claims">The claims.</param>
    public static void WriteClaimsObject(Utf8JsonWriter writer, IReadOnlyList<PolicyClaim> claims)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(claims);
        writer.WriteStartObject();
        foreach (var group in claims.GroupBy(c => c.Type, StringComparer.Ordinal))
        {
            writer.WritePropertyName(group.Key);
            var values = group.Select(c => c.Value).ToList();
            if (values.Count == 1)
            {
                WriteValue(writer, values[0]);
            }
            else
            {
                writer.WriteStartArray();
                foreach (var value in values)
                {
                    WriteValue(writer, value);
                }

                writer.WriteEndArray();
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>Writes one claim value as JSON (a set as an array).</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="value">The value.</param>
    public static void WriteValue(Utf8JsonWriter writer, ClaimValue value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        switch (value.Kind)
        {
            case ClaimValueKind.String:
                writer.WriteStringValue(value.AsString);
                break;
            case ClaimValueKind.Integer:
                writer.WriteNumberValue(value.AsInteger);
                break;
            case ClaimValueKind.Boolean:
                writer.WriteBooleanValue(value.AsBoolean);
                break;
            default:
                writer.WriteStartArray();
                foreach (var element in value.SetElements)
                {
                    WriteValue(writer, element);
                }

                writer.WriteEndArray();
                break;
        }
    }
}
