using System.Globalization;

namespace Veritee.Policy;

/// <summary>The type of a <see cref="ClaimValue"/>.</summary>
public enum ClaimValueKind
{
    /// <summary>A string (the policy language's default value type).</summary>
    String,

    /// <summary>A 64-bit signed integer.</summary>
    Integer,

    /// <summary>A Boolean.</summary>
    Boolean,

    /// <summary>
    /// A heterogeneous set of scalar values (policy version 1.2). Produced by <c>JsonToClaimValue</c> on a JSON array
    /// and by a label bound to several claims; adding or issuing a set adds one claim per element, and the empty set
    /// (JSON <c>null</c>) adds nothing.
    /// </summary>
    Set,
}

/// <summary>
/// A claim value: String, Integer, Boolean or (1.2) Set. A small struct so that evaluating a policy does not allocate.
/// </summary>
/// <remarks>
/// Equality is by kind and value; strings compare ordinally and case-sensitively (MAA leaves string case sensitivity
/// undocumented; exact comparison is the safe choice for measurements such as MRSIGNER). Values of different kinds are
/// never equal: the Integer 1 is not the String "1".
/// </remarks>
public readonly struct ClaimValue : IEquatable<ClaimValue>
{
    private readonly long _number;
    private readonly object? _reference;

    private ClaimValue(ClaimValueKind kind, long number, object? reference)
    {
        Kind = kind;
        _number = number;
        _reference = reference;
    }

    /// <summary>The value's type.</summary>
    public ClaimValueKind Kind { get; }

    /// <summary>The empty set: the value of <c>JsonToClaimValue("null")</c>; adding or issuing it is a no-op.</summary>
    public static ClaimValue Empty { get; } = new(ClaimValueKind.Set, 0, Array.Empty<ClaimValue>());

    /// <summary>Boolean <see langword="true"/>.</summary>
    public static ClaimValue True { get; } = new(ClaimValueKind.Boolean, 1, null);

    /// <summary>Boolean <see langword="false"/>.</summary>
    public static ClaimValue False { get; } = new(ClaimValueKind.Boolean, 0, null);

    /// <summary>Creates a String value.</summary>
    /// <param name="value">The string; not null.</param>
    /// <returns>The value.</returns>
    public static ClaimValue FromString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new ClaimValue(ClaimValueKind.String, 0, value);
    }

    /// <summary>Creates an Integer value.</summary>
    /// <param name="value">The integer.</param>
    /// <returns>The value.</returns>
    public static ClaimValue FromInteger(long value) => new(ClaimValueKind.Integer, value, null);

    /// <summary>Creates a Boolean value.</summary>
    /// <param name="value">The Boolean.</param>
    /// <returns>The value.</returns>
    public static ClaimValue FromBoolean(bool value) => value ? True : False;

    /// <summary>Creates a Set value; nested sets are flattened so that a set only ever holds scalars.</summary>
    /// <param name="elements">The elements.</param>
    /// <returns>The value.</returns>
    public static ClaimValue FromSet(IEnumerable<ClaimValue> elements)
    {
        ArgumentNullException.ThrowIfNull(elements);
        var list = new List<ClaimValue>();
        foreach (var element in elements)
        {
            if (element.Kind == ClaimValueKind.Set)
            {
                list.AddRange(element.SetElements);
            }
            else
            {
                list.Add(element);
            }
        }

        return new ClaimValue(ClaimValueKind.Set, 0, list.ToArray());
    }

    /// <summary>The string; throws if <see cref="Kind"/> is not <see cref="ClaimValueKind.String"/>.</summary>
    public string AsString => Kind == ClaimValueKind.String ? (string)_reference! : throw WrongKind(ClaimValueKind.String);

    /// <summary>The integer; throws if <see cref="Kind"/> is not <see cref="ClaimValueKind.Integer"/>.</summary>
    public long AsInteger => Kind == ClaimValueKind.Integer ? _number : throw WrongKind(ClaimValueKind.Integer);

    /// <summary>The Boolean; throws if <see cref="Kind"/> is not <see cref="ClaimValueKind.Boolean"/>.</summary>
    public bool AsBoolean => Kind == ClaimValueKind.Boolean ? _number != 0 : throw WrongKind(ClaimValueKind.Boolean);

    /// <summary>The elements of a set; throws if <see cref="Kind"/> is not <see cref="ClaimValueKind.Set"/>.</summary>
    public ReadOnlySpan<ClaimValue> SetElements =>
        Kind == ClaimValueKind.Set ? (ClaimValue[])_reference! : throw WrongKind(ClaimValueKind.Set);

    /// <summary>True for a set with no element.</summary>
    public bool IsEmpty => Kind == ClaimValueKind.Set && ((ClaimValue[])_reference!).Length == 0;

    /// <summary>The policy language's name of a value type: <c>String</c>, <c>Integer</c>, <c>Boolean</c> or <c>Set</c>.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The name.</returns>
    public static string KindName(ClaimValueKind kind) => kind switch
    {
        ClaimValueKind.String => "String",
        ClaimValueKind.Integer => "Integer",
        ClaimValueKind.Boolean => "Boolean",
        _ => "Set",
    };

    /// <inheritdoc/>
    public bool Equals(ClaimValue other)
    {
        if (Kind != other.Kind)
        {
            return false;
        }

        return Kind switch
        {
            ClaimValueKind.String => string.Equals((string)_reference!, (string)other._reference!, StringComparison.Ordinal),
            ClaimValueKind.Set => SetElements.SequenceEqual(other.SetElements),
            _ => _number == other._number,
        };
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ClaimValue other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Kind switch
    {
        ClaimValueKind.String => HashCode.Combine(Kind, StringComparer.Ordinal.GetHashCode((string)_reference!)),
        ClaimValueKind.Set => HashCode.Combine(Kind, ((ClaimValue[])_reference!).Length),
        _ => HashCode.Combine(Kind, _number),
    };

    /// <summary>Equality operator.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether equal.</returns>
    public static bool operator ==(ClaimValue left, ClaimValue right) => left.Equals(right);

    /// <summary>Inequality operator.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether different.</returns>
    public static bool operator !=(ClaimValue left, ClaimValue right) => !left.Equals(right);

    /// <summary>Formats the value as policy source would write it (strings quoted and escaped).</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Kind switch
    {
        ClaimValueKind.String => PolicyPrinter.QuoteString((string)_reference!),
        ClaimValueKind.Integer => _number.ToString(CultureInfo.InvariantCulture),
        ClaimValueKind.Boolean => _number != 0 ? "true" : "false",
        _ => "{" + string.Join(", ", ((ClaimValue[])_reference!).Select(v => v.ToString())) + "}",
    };

    private InvalidOperationException WrongKind(ClaimValueKind wanted) =>
        new($"The claim value is {KindName(Kind)}, not {KindName(wanted)}.");
}

/// <summary>Well-known claim issuers.</summary>
public static class ClaimIssuers
{
    /// <summary>Claims produced by the attestation service from the evidence.</summary>
    public const string AttestationService = "AttestationService";

    /// <summary>Claims added or issued by the policy itself.</summary>
    public const string AttestationPolicy = "AttestationPolicy";

    /// <summary>Claims supplied by the client.</summary>
    public const string CustomClaim = "CustomClaim";

    /// <summary>Whether <paramref name="issuer"/> is one of the three documented issuers.</summary>
    /// <param name="issuer">The issuer.</param>
    /// <returns>True if known.</returns>
    public static bool IsKnown(string issuer) =>
        issuer is AttestationService or AttestationPolicy or CustomClaim;
}

/// <summary>A claim: a type, a scalar value and an issuer.</summary>
/// <param name="Type">The claim type, e.g. <c>x-ms-sgx-mrsigner</c>.</param>
/// <param name="Value">The value (never a set: sets become one claim per element).</param>
/// <param name="Issuer">The issuer, see <see cref="ClaimIssuers"/>.</param>
public readonly record struct PolicyClaim(string Type, ClaimValue Value, string Issuer)
{
    /// <summary>Creates a claim issued by the attestation service.</summary>
    /// <param name="type">The type.</param>
    /// <param name="value">The value.</param>
    /// <returns>The claim.</returns>
    public static PolicyClaim Service(string type, ClaimValue value) => new(type, value, ClaimIssuers.AttestationService);
}
