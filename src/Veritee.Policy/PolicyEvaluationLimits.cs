using System.Globalization;

namespace Veritee.Policy;

/// <summary>
/// The work and memory budget of one policy evaluation, enforced while it runs (a policy is attacker-controlled text
/// when it arrives as a draft). The defaults are far above what any published policy needs and keep one evaluation
/// within a few MB and a few milliseconds of CPU; they also keep every array and string an evaluation builds below the
/// large-object heap threshold (85,000 bytes), so a flood of worst-case drafts causes no full garbage collections.
/// </summary>
/// <remarks>
/// Sizes count UTF-16 code units as two bytes (what the strings occupy in memory); a non-string value counts as eight
/// bytes. Incoming claims count towards <see cref="MaxClaims"/> and <see cref="MaxClaimBytes"/>.
/// </remarks>
public sealed record PolicyEvaluationLimits
{
    /// <summary>The defaults.</summary>
    public static PolicyEvaluationLimits Default { get; } = new();

    /// <summary>Claims in the working set (incoming plus every claim added, issued or issued as a property); default 2,000.</summary>
    public int MaxClaims { get; init; } = 2_000;

    /// <summary>Total size of the working set's claim types and values, in bytes; default 1 MiB.</summary>
    public long MaxClaimBytes { get; init; } = 1024 * 1024;

    /// <summary>Claims issued for the token (<c>issue</c> plus <c>issueproperty</c>); default 1,000.</summary>
    public int MaxIssuedClaims { get; init; } = 1_000;

    /// <summary>Length in characters of any string a function produces or receives; default 32,768.</summary>
    public int MaxStringLength { get; init; } = 32_768;

    /// <summary>Elements of any set (array) an expression produces; default 2,000.</summary>
    public int MaxSetElements { get; init; } = 2_000;

    /// <summary>
    /// Evaluation steps: one per claim a condition's predicates are tested against, per set element compared, per claim
    /// emitted, and per function call (plus one per 64 characters of its string arguments); default 250,000 (a few
    /// milliseconds; published policies take well under 10,000). Cancellation is checked every few thousand steps.
    /// </summary>
    public long MaxSteps { get; init; } = 250_000;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> when a limit is not positive.</summary>
    public void Validate()
    {
        Positive(MaxClaims, nameof(MaxClaims));
        Positive(MaxClaimBytes, nameof(MaxClaimBytes));
        Positive(MaxIssuedClaims, nameof(MaxIssuedClaims));
        Positive(MaxStringLength, nameof(MaxStringLength));
        Positive(MaxSetElements, nameof(MaxSetElements));
        Positive(MaxSteps, nameof(MaxSteps));
    }

    private static void Positive(long value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"the policy evaluation limit {name} must be positive");
        }
    }
}

/// <summary>
/// A policy evaluation stopped because it exceeded one of its <see cref="PolicyEvaluationLimits"/>. The policy is not
/// wrong in itself; it asked for more work or memory than the evaluator grants.
/// </summary>
public sealed class PolicyLimitExceededException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="limit">The property name of the limit, e.g. <c>MaxClaims</c>.</param>
    /// <param name="value">The limit's value.</param>
    /// <param name="what">What the limit counts, e.g. <c>claims in the working set</c>.</param>
    /// <param name="line">1-based line of the rule being evaluated, or 0.</param>
    /// <param name="column">1-based column of that rule, or 0.</param>
    public PolicyLimitExceededException(string limit, long value, string what, int line = 0, int column = 0)
        : base(Text(limit, value, what, line, column))
    {
        Limit = limit;
        Value = value;
        What = what;
        Line = line;
        Column = column;
    }

    /// <summary>Creates the exception (serialization-free form required by the analyzers).</summary>
    public PolicyLimitExceededException()
        : this("unknown", 0, "unknown")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    /// <param name="message">The message.</param>
    public PolicyLimitExceededException(string message)
        : base(message)
    {
        Limit = "unknown";
        What = "unknown";
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public PolicyLimitExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
        Limit = "unknown";
        What = "unknown";
    }

    /// <summary>The name of the limit (a property of <see cref="PolicyEvaluationLimits"/>).</summary>
    public string Limit { get; }

    /// <summary>The limit's value.</summary>
    public long Value { get; }

    /// <summary>What the limit counts.</summary>
    public string What { get; }

    /// <summary>1-based line of the rule that exceeded it, or 0.</summary>
    public int Line { get; }

    /// <summary>1-based column of that rule, or 0.</summary>
    public int Column { get; }

    internal PolicyLimitExceededException At(SourceSpan span) =>
        Line != 0 || span.Line == 0 ? this : new PolicyLimitExceededException(Limit, Value, What, span.Line, span.Column);

    private static string Text(string limit, long value, string what, int line, int column) =>
        string.Format(
            CultureInfo.InvariantCulture,
            "policy evaluation exceeded the limit {0} = {1} ({2}){3}",
            limit,
            value,
            what,
            line == 0 ? string.Empty : string.Format(CultureInfo.InvariantCulture, " at the rule at line {0}, column {1}", line, column));
}
