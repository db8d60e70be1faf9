using System.Globalization;
using System.Text.Json;
using DevLab.JmesPath;

namespace Veritee.Policy;

/// <summary>An error while evaluating a rule (bad function argument, invalid JSON, …). Surfaces as a failed result.</summary>
internal sealed class PolicyEvaluationException(string message) : Exception(message)
{
}

/// <summary>
/// The version 1.2 functions. Decisions beyond the documentation: a JSON number is an Integer only when written without
/// fraction or exponent and within 64 bits, anything else is an error; <c>null</c> elements of an array are dropped
/// (they would be empty claims); scalars passed where a set is expected are one-element sets; a set passed where a
/// single value is expected must have exactly one element.
/// </summary>
internal static class PolicyFunctions
{
    [ThreadStatic]
    private static JmesPath? _threadJmesPath;

    private static JmesPath Engine => _threadJmesPath ??= new JmesPath();

    public static ClaimValue Invoke(PolicyFunction function, ReadOnlySpan<ClaimValue> args) => function switch
    {
        PolicyFunction.JmesPath => ClaimValue.FromString(JmesPathQuery(Single(args[0], function, 1, ClaimValueKind.String).AsString, Single(args[1], function, 2, ClaimValueKind.String).AsString)),
        PolicyFunction.JsonToClaimValue => JsonToClaimValue(Single(args[0], function, 1, ClaimValueKind.String).AsString),
        PolicyFunction.IsSubsetOf => ClaimValue.FromBoolean(IsSubsetOf(args[0], args[1])),
        PolicyFunction.AppendString => ClaimValue.FromString(Single(args[0], function, 1, ClaimValueKind.String).AsString + Single(args[1], function, 2, ClaimValueKind.String).AsString),
        PolicyFunction.NegateBool => ClaimValue.FromBoolean(!Single(args[0], function, 1, ClaimValueKind.Boolean).AsBoolean),
        _ => ClaimValue.FromBoolean(ContainsOnlyValue(args[0], Single(args[1], function, 2, null))),
    };

    /// <summary>Longest JmesPath query evaluated (published policies use a few hundred characters).</summary>
    public const int MaxJmesPathQueryLength = 1024;

    /// <summary>Largest static growth bound (see <see cref="JmesPathGrowth"/>) of a query that is evaluated.</summary>
    public const int MaxJmesPathGrowth = 16;

    /// <summary>JmesPath functions whose output is at most their input (or a scalar); every other function counts as growth.</summary>
    private static readonly HashSet<string> NonGrowingFunctions = new(StringComparer.Ordinal)
    {
        "abs", "avg", "ceil", "contains", "ends_with", "floor", "keys", "length", "lower", "max", "max_by", "min", "min_by",
        "not_null", "reverse", "sort", "sort_by", "starts_with", "sum", "to_array", "to_number", "trim", "trim_left",
        "trim_right", "type", "upper", "values",
    };

    /// <summary>Functions whose output is not bounded by their input (a width, a separator or a replacement multiplies it).</summary>
    private static readonly HashSet<string> RefusedFunctions = new(StringComparer.Ordinal) { "join", "pad_left", "pad_right", "replace" };

    /// <summary>
    /// A static upper bound on how many times larger than its input a JmesPath query's intermediate results can grow:
    /// a multi-select of k items multiplies its input by at most k (≤ 2^commas), and each growing function (such as
    /// <c>to_string</c>, whose escaping doubles quotes) by at most 2. JmesPath.Net cannot be interrupted, so a query
    /// that could grow without bound (<c>@ | [@,@] | [@,@] | …</c> doubles its input at every stage) is refused before
    /// it runs, as are the functions that multiply output by an argument.
    /// </summary>
    /// <returns>The bound (at least 1), or 0 with <paramref name="refused"/> set when a function is refused.</returns>
    internal static long JmesPathGrowth(string query, out string? refused)
    {
        refused = null;
        var exponent = 0;
        var i = 0;
        while (i < query.Length)
        {
            var c = query[i];
            if (c is '\'' or '"' or '`')
            {
                // Skip a raw string, quoted identifier or JSON literal (escapes included).
                i++;
                while (i < query.Length && query[i] != c)
                {
                    i += query[i] == '\\' ? 2 : 1;
                }

                i++;
                continue;
            }

            if (c == ',')
            {
                exponent++;
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                var start = i;
                while (i < query.Length && (char.IsAsciiLetterOrDigit(query[i]) || query[i] == '_'))
                {
                    i++;
                }

                var name = query[start..i];
                var next = i;
                while (next < query.Length && char.IsWhiteSpace(query[next]))
                {
                    next++;
                }

                if (next < query.Length && query[next] == '(')
                {
                    if (RefusedFunctions.Contains(name))
                    {
                        refused = name;
                        return 0;
                    }

                    if (!NonGrowingFunctions.Contains(name))
                    {
                        exponent++;
                    }
                }

                continue;
            }

            i++;
        }

        return exponent >= 62 ? long.MaxValue : 1L << exponent;
    }

    public static string JmesPathQuery(string json, string query, int maxOutputLength = int.MaxValue)
    {
        if (json.Length == 0 || query.Length == 0)
        {
            throw new PolicyEvaluationException("JmesPath: both arguments must be non-empty strings");
        }

        try
        {
            Newtonsoft.Json.Linq.JToken input;
            using (var reader = new Newtonsoft.Json.JsonTextReader(new StringReader(json)) { MaxDepth = 64, DateParseHandling = Newtonsoft.Json.DateParseHandling.None })
            {
                input = Newtonsoft.Json.Linq.JToken.ReadFrom(reader);
                if (reader.Read())
                {
                    throw new Newtonsoft.Json.JsonReaderException("additional text after the JSON value");
                }
            }

            // The JToken overload lets the result be written through a bounded writer (the string overload builds the
            // whole text first).
#pragma warning disable CS0618
            var result = Engine.Transform(input, query);
#pragma warning restore CS0618
            using var text = new BoundedStringWriter(maxOutputLength);
            using (var writer = new Newtonsoft.Json.JsonTextWriter(text) { Formatting = Newtonsoft.Json.Formatting.None })
            {
                result.WriteTo(writer);
            }

            return text.ToString();
        }
        catch (BoundedStringWriter.FullException)
        {
            throw;
        }
        catch (Newtonsoft.Json.JsonException e)
        {
            throw new PolicyEvaluationException("JmesPath: the first argument is not valid JSON: " + e.Message);
        }
#pragma warning disable CA1031 // JmesPath.Net reports query errors as plain System.Exception.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            throw new PolicyEvaluationException("JmesPath: query '" + query + "' failed: " + e.Message);
        }
    }

    public static ClaimValue JsonToClaimValue(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new PolicyEvaluationException("JsonToClaimValue: the argument is not valid JSON: " + e.Message);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                var elements = new List<ClaimValue>();
                foreach (var item in root.EnumerateArray())
                {
                    if (item.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                    {
                        throw new PolicyEvaluationException("JsonToClaimValue: arrays may only hold numbers, Booleans, strings and null");
                    }

                    if (item.ValueKind != JsonValueKind.Null)
                    {
                        elements.Add(Scalar(item));
                    }
                }

                return ClaimValue.FromSet(elements);
            }

            if (root.ValueKind == JsonValueKind.Object)
            {
                throw new PolicyEvaluationException("JsonToClaimValue: JSON objects have no claim value");
            }

            return root.ValueKind == JsonValueKind.Null ? ClaimValue.Empty : Scalar(root);
        }
    }

    private static ClaimValue Scalar(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return ClaimValue.FromString(element.GetString()!);
            case JsonValueKind.True:
                return ClaimValue.True;
            case JsonValueKind.False:
                return ClaimValue.False;
            default:
                var raw = element.GetRawText();
                if (raw.AsSpan().IndexOfAny(".eE") < 0 && long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
                {
                    return ClaimValue.FromInteger(integer);
                }

                throw new PolicyEvaluationException($"JsonToClaimValue: the number {raw} is not a 64-bit integer");
        }
    }

    private static bool IsSubsetOf(ClaimValue subset, ClaimValue superset)
    {
        foreach (var element in Elements(subset))
        {
            if (!Elements(superset).Contains(element))
            {
                return false;
            }
        }

        return true;
    }

    private static bool ContainsOnlyValue(ClaimValue set, ClaimValue value)
    {
        var elements = Elements(set);
        if (elements.IsEmpty)
        {
            return false;
        }

        foreach (var element in elements)
        {
            if (!element.Equals(value))
            {
                return false;
            }
        }

        return true;
    }

    private static ReadOnlySpan<ClaimValue> Elements(ClaimValue value) =>
        value.Kind == ClaimValueKind.Set ? value.SetElements : new[] { value };

    internal static ClaimValue Single(ClaimValue value, PolicyFunction function, int position, ClaimValueKind? kind)
    {
        if (value.Kind == ClaimValueKind.Set)
        {
            if (value.SetElements.Length != 1)
            {
                throw new PolicyEvaluationException($"{function}: argument {position} must be a single value, got a set of {value.SetElements.Length}");
            }

            value = value.SetElements[0];
        }

        if (kind is { } k && value.Kind != k)
        {
            throw new PolicyEvaluationException($"{function}: argument {position} must be a {ClaimValue.KindName(k)}, got {ClaimValue.KindName(value.Kind)} {value}");
        }

        return value;
    }

    /// <summary>Null when <paramref name="json"/> is valid JSON, else the reason.</summary>
    public static string? CheckJson(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return null;
        }
        catch (JsonException e)
        {
            return e.Message;
        }
    }

    /// <summary>Null when <paramref name="query"/> is a valid JMESPath expression, else the reason.</summary>
    public static string? CheckJmesPathQuery(string query)
    {
        if (query.Length == 0)
        {
            return "the query is empty";
        }

        try
        {
            Engine.Parse(query);
            return null;
        }
#pragma warning disable CA1031 // JmesPath.Net reports syntax errors as plain System.Exception.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            return e.Message;
        }
    }
}

/// <summary>A StringWriter that stops with <see cref="FullException"/> once it would hold more than its capacity.</summary>
internal sealed class BoundedStringWriter(int capacity) : StringWriter(CultureInfo.InvariantCulture)
{
    public override void Write(char value)
    {
        Reserve(1);
        base.Write(value);
    }

    public override void Write(char[] buffer, int index, int count)
    {
        Reserve(count);
        base.Write(buffer, index, count);
    }

    public override void Write(string? value)
    {
        Reserve(value?.Length ?? 0);
        base.Write(value);
    }

    public override void Write(ReadOnlySpan<char> buffer)
    {
        Reserve(buffer.Length);
        base.Write(buffer);
    }

    private void Reserve(int count)
    {
        if (GetStringBuilder().Length + (long)count > capacity)
        {
            throw new FullException();
        }
    }

    /// <summary>The output reached the capacity.</summary>
    internal sealed class FullException : Exception
    {
    }
}
