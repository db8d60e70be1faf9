namespace Veritee.Policy;

/// <summary>A policy language version: 1.0, 1.1 (adds <c>configurationrules</c>) or 1.2 (adds functions and <c>!</c>).</summary>
public enum PolicyVersion
{
    /// <summary>version=1.0.</summary>
    V1_0,

    /// <summary>version=1.1.</summary>
    V1_1,

    /// <summary>version=1.2.</summary>
    V1_2,
}

/// <summary>The three rule sections.</summary>
public enum SectionKind
{
    /// <summary><c>configurationrules</c> (1.1+): sets property claims such as <c>x-ms-sgx-tcbidentifier</c>.</summary>
    Configuration,

    /// <summary><c>authorizationrules</c>: decides whether a token is issued.</summary>
    Authorization,

    /// <summary><c>issuancerules</c>: decides which claims the token carries.</summary>
    Issuance,
}

/// <summary>A claim property that a condition can test or an expression can read.</summary>
public enum ClaimProperty
{
    /// <summary><c>type</c>.</summary>
    Type,

    /// <summary><c>value</c>.</summary>
    Value,

    /// <summary><c>issuer</c>.</summary>
    Issuer,

    /// <summary><c>valueType</c>: the name of the value's type (<c>"String"</c>, <c>"Integer"</c>, <c>"Boolean"</c>).</summary>
    ValueType,
}

/// <summary>A comparison operator in a condition.</summary>
public enum ComparisonOperator
{
    /// <summary><c>==</c> (a lone <c>=</c> inside a condition is read as this, with a warning).</summary>
    Equal,

    /// <summary><c>!=</c>.</summary>
    NotEqual,

    /// <summary><c>&lt;</c> (Integer only).</summary>
    Less,

    /// <summary><c>&lt;=</c> (Integer only).</summary>
    LessOrEqual,

    /// <summary><c>&gt;</c> (Integer only).</summary>
    Greater,

    /// <summary><c>&gt;=</c> (Integer only).</summary>
    GreaterOrEqual,
}

/// <summary>The built-in functions of policy version 1.2.</summary>
public enum PolicyFunction
{
    /// <summary><c>JmesPath(json, query)</c>: the JSON text of the query result.</summary>
    JmesPath,

    /// <summary><c>JsonToClaimValue(json)</c>: JSON number/bool/string/array-of-primitives/null to a claim value.</summary>
    JsonToClaimValue,

    /// <summary><c>IsSubsetOf(a, b)</c>: whether every element of a is in b.</summary>
    IsSubsetOf,

    /// <summary><c>AppendString(a, b)</c>: concatenation.</summary>
    AppendString,

    /// <summary><c>NegateBool(b)</c>: Boolean negation.</summary>
    NegateBool,

    /// <summary><c>ContainsOnlyValue(set, v)</c>: set is non-empty and every element equals v.</summary>
    ContainsOnlyValue,
}

/// <summary>A parsed policy document.</summary>
/// <param name="Version">The declared version.</param>
/// <param name="Configuration">The <c>configurationrules</c> section, or null if absent.</param>
/// <param name="Authorization">The <c>authorizationrules</c> section (required).</param>
/// <param name="Issuance">The <c>issuancerules</c> section, or null if absent.</param>
public sealed record PolicyDocument(PolicyVersion Version, RuleSection? Configuration, RuleSection Authorization, RuleSection? Issuance)
{
    /// <summary>The sections present, in evaluation order.</summary>
    public IEnumerable<RuleSection> Sections
    {
        get
        {
            if (Configuration is not null)
            {
                yield return Configuration;
            }

            yield return Authorization;
            if (Issuance is not null)
            {
                yield return Issuance;
            }
        }
    }
}

/// <summary>A rule section.</summary>
/// <param name="Kind">Which section.</param>
/// <param name="Rules">The rules in order.</param>
/// <param name="Span">The section keyword.</param>
public sealed record RuleSection(SectionKind Kind, IReadOnlyList<PolicyRule> Rules, SourceSpan Span);

/// <summary>A rule: <c>conditions =&gt; action;</c>. No conditions means the rule always fires.</summary>
/// <param name="Conditions">Conditions joined by <c>&amp;&amp;</c>.</param>
/// <param name="Action">The action.</param>
/// <param name="Span">The first token of the rule.</param>
public sealed record PolicyRule(IReadOnlyList<PolicyCondition> Conditions, PolicyAction Action, SourceSpan Span);

/// <summary>A condition <c>[!][label:][predicate, …]</c>.</summary>
/// <param name="Negated">True for <c>![…]</c> (1.2): holds when no claim satisfies the predicates.</param>
/// <param name="Label">The label binding the matching claims, or null.</param>
/// <param name="Predicates">Predicates that one claim must all satisfy.</param>
/// <param name="Span">The condition's first token.</param>
public sealed record PolicyCondition(bool Negated, string? Label, IReadOnlyList<PolicyPredicate> Predicates, SourceSpan Span);

/// <summary>A predicate <c>property op operand</c> on one claim.</summary>
/// <param name="Property">The claim property tested.</param>
/// <param name="Operator">The comparison.</param>
/// <param name="Operand">The right-hand side.</param>
/// <param name="Span">The property token.</param>
public sealed record PolicyPredicate(ClaimProperty Property, ComparisonOperator Operator, PolicyExpression Operand, SourceSpan Span);

/// <summary>An expression: literal, property access or (1.2) function call.</summary>
/// <param name="Span">The first token.</param>
public abstract record PolicyExpression(SourceSpan Span);

/// <summary>A literal: quoted string, integer, <c>true</c> or <c>false</c>.</summary>
/// <param name="Value">The value.</param>
/// <param name="Span">The token.</param>
public sealed record LiteralExpression(ClaimValue Value, SourceSpan Span) : PolicyExpression(Span);

/// <summary><c>label.property</c>: the property of the claims bound to <paramref name="Label"/>.</summary>
/// <param name="Label">The label.</param>
/// <param name="Property">The property.</param>
/// <param name="Span">The label token.</param>
public sealed record PropertyAccessExpression(string Label, ClaimProperty Property, SourceSpan Span) : PolicyExpression(Span);

/// <summary>A function call (1.2).</summary>
/// <param name="Function">The function.</param>
/// <param name="Arguments">Arguments, evaluated left to right.</param>
/// <param name="Span">The function name token.</param>
public sealed record FunctionCallExpression(PolicyFunction Function, IReadOnlyList<PolicyExpression> Arguments, SourceSpan Span) : PolicyExpression(Span);

/// <summary>A rule's action.</summary>
/// <param name="Span">The action keyword.</param>
public abstract record PolicyAction(SourceSpan Span);

/// <summary><c>permit()</c>.</summary>
/// <param name="Span">The keyword.</param>
public sealed record PermitAction(SourceSpan Span) : PolicyAction(Span);

/// <summary><c>deny()</c>.</summary>
/// <param name="Span">The keyword.</param>
public sealed record DenyAction(SourceSpan Span) : PolicyAction(Span);

/// <summary>Which claim set a claim action writes to.</summary>
public enum ClaimActionKind
{
    /// <summary><c>add</c>: incoming set only.</summary>
    Add,

    /// <summary><c>issue</c>: incoming and outgoing (token) sets.</summary>
    Issue,

    /// <summary><c>issueproperty</c>: incoming and property sets.</summary>
    IssueProperty,
}

/// <summary><c>add(…)</c>, <c>issue(…)</c> or <c>issueproperty(…)</c>.</summary>
/// <param name="Kind">Which action.</param>
/// <param name="Claim">What claim it produces.</param>
/// <param name="Span">The keyword.</param>
public sealed record ClaimAction(ClaimActionKind Kind, ClaimSpec Claim, SourceSpan Span) : PolicyAction(Span);

/// <summary>The argument of a claim action.</summary>
/// <param name="Span">The first token of the argument.</param>
public abstract record ClaimSpec(SourceSpan Span);

/// <summary><c>claim=label</c>: the claims bound to the label, with their own type and value.</summary>
/// <param name="Label">The label.</param>
/// <param name="Span">The <c>claim</c> keyword.</param>
public sealed record ClaimReferenceSpec(string Label, SourceSpan Span) : ClaimSpec(Span);

/// <summary><c>type=…, value=…[, valueType="…"]</c>.</summary>
/// <param name="Type">The claim type (must evaluate to a String).</param>
/// <param name="Value">The claim value.</param>
/// <param name="ValueType">Optional declared value type; the value is converted to it (see <see cref="CompiledPolicy"/>).</param>
/// <param name="Span">The first named argument.</param>
public sealed record NewClaimSpec(PolicyExpression Type, PolicyExpression Value, ClaimValueKind? ValueType, SourceSpan Span) : ClaimSpec(Span);
