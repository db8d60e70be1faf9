using System.Globalization;
using System.Text;

namespace Veritee.Policy;

/// <summary>
/// Writes a <see cref="PolicyDocument"/> back as canonical policy text: lower-case keywords, <c>==</c> in conditions,
/// one rule per line, JSON string escapes. Parsing the output gives back an equal tree (spans aside).
/// </summary>
public static class PolicyPrinter
{
    /// <summary>Prints a whole policy.</summary>
    /// <param name="document">The policy.</param>
    /// <returns>Policy text.</returns>
    public static string Print(PolicyDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var builder = new StringBuilder();
        builder.Append("version=").Append(PolicyParser.VersionText(document.Version)).Append(";\n");
        foreach (var section in document.Sections)
        {
            builder.Append(PolicyParser.SectionKeyword(section.Kind)).Append("\n{\n");
            foreach (var rule in section.Rules)
            {
                builder.Append("    ");
                AppendRule(builder, rule);
                builder.Append('\n');
            }

            builder.Append("};\n");
        }

        return builder.ToString();
    }

    /// <summary>Prints one rule, ending with <c>;</c>.</summary>
    /// <param name="rule">The rule.</param>
    /// <returns>Rule text.</returns>
    public static string PrintRule(PolicyRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var builder = new StringBuilder();
        AppendRule(builder, rule);
        return builder.ToString();
    }

    /// <summary>Quotes a string as a policy string literal.</summary>
    /// <param name="value">The string.</param>
    /// <returns>The literal, with quotes.</returns>
    public static string QuoteString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder(value.Length + 2);
        AppendQuoted(builder, value);
        return builder.ToString();
    }

    private static void AppendRule(StringBuilder builder, PolicyRule rule)
    {
        for (var i = 0; i < rule.Conditions.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(" && ");
            }

            AppendCondition(builder, rule.Conditions[i]);
        }

        builder.Append(rule.Conditions.Count > 0 ? " => " : "=> ");
        AppendAction(builder, rule.Action);
        builder.Append(';');
    }

    private static void AppendCondition(StringBuilder builder, PolicyCondition condition)
    {
        if (condition.Negated)
        {
            builder.Append('!');
        }

        if (condition.Label is not null)
        {
            builder.Append(condition.Label).Append(':');
        }

        builder.Append('[');
        for (var i = 0; i < condition.Predicates.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(", ");
            }

            var predicate = condition.Predicates[i];
            builder.Append(PolicyParser.PropertyKeyword(predicate.Property)).Append(OperatorText(predicate.Operator));
            AppendExpression(builder, predicate.Operand);
        }

        builder.Append(']');
    }

    private static void AppendAction(StringBuilder builder, PolicyAction action)
    {
        switch (action)
        {
            case PermitAction:
                builder.Append("permit()");
                break;
            case DenyAction:
                builder.Append("deny()");
                break;
            case ClaimAction claim:
                builder.Append(claim.Kind switch
                {
                    ClaimActionKind.Add => "add",
                    ClaimActionKind.Issue => "issue",
                    _ => "issueproperty",
                });
                builder.Append('(');
                switch (claim.Claim)
                {
                    case ClaimReferenceSpec reference:
                        builder.Append("claim=").Append(reference.Label);
                        break;
                    case NewClaimSpec spec:
                        builder.Append("type=");
                        AppendExpression(builder, spec.Type);
                        builder.Append(", value=");
                        AppendExpression(builder, spec.Value);
                        if (spec.ValueType is { } valueType)
                        {
                            builder.Append(", valueType=\"").Append(ClaimValue.KindName(valueType)).Append('"');
                        }

                        break;
                    default:
                        throw new ArgumentException("Unknown claim spec " + claim.Claim.GetType().Name, nameof(action));
                }

                builder.Append(')');
                break;
            default:
                throw new ArgumentException("Unknown action " + action.GetType().Name, nameof(action));
        }
    }

    private static void AppendExpression(StringBuilder builder, PolicyExpression expression)
    {
        switch (expression)
        {
            case LiteralExpression literal:
                AppendLiteral(builder, literal.Value);
                break;
            case PropertyAccessExpression access:
                builder.Append(access.Label).Append('.').Append(PolicyParser.PropertyKeyword(access.Property));
                break;
            case FunctionCallExpression call:
                builder.Append(PolicyParser.FunctionName(call.Function)).Append('(');
                for (var i = 0; i < call.Arguments.Count; i++)
                {
                    if (i > 0)
                    {
                        builder.Append(", ");
                    }

                    AppendExpression(builder, call.Arguments[i]);
                }

                builder.Append(')');
                break;
            default:
                throw new ArgumentException("Unknown expression " + expression.GetType().Name, nameof(expression));
        }
    }

    private static void AppendLiteral(StringBuilder builder, ClaimValue value)
    {
        switch (value.Kind)
        {
            case ClaimValueKind.String:
                AppendQuoted(builder, value.AsString);
                break;
            case ClaimValueKind.Integer:
                builder.Append(value.AsInteger.ToString(CultureInfo.InvariantCulture));
                break;
            case ClaimValueKind.Boolean:
                builder.Append(value.AsBoolean ? "true" : "false");
                break;
            default:
                throw new ArgumentException("A set has no literal form.", nameof(value));
        }
    }

    private static void AppendQuoted(StringBuilder builder, string value)
    {
        builder.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                default:
                    if (c < ' ' || c == '\u007F')
                    {
                        builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append('"');
    }

    internal static string OperatorText(ComparisonOperator op) => op switch
    {
        ComparisonOperator.Equal => "==",
        ComparisonOperator.NotEqual => "!=",
        ComparisonOperator.Less => "<",
        ComparisonOperator.LessOrEqual => "<=",
        ComparisonOperator.Greater => ">",
        _ => ">=",
    };
}
