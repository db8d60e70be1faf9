using System.Globalization;

namespace Veritee.Policy;

/// <summary>A position range in policy text. Lines and columns are 1-based; columns count UTF-16 code units.</summary>
/// <param name="Offset">Zero-based character offset of the first character.</param>
/// <param name="Length">Length in characters (at least 1 except at end of input).</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
public readonly record struct SourceSpan(int Offset, int Length, int Line, int Column)
{
    /// <summary>A span for nodes built in code rather than parsed.</summary>
    public static SourceSpan None { get; } = new(0, 0, 0, 0);
}

/// <summary>How serious a diagnostic is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>The policy is accepted, but something is probably not what the author meant.</summary>
    Warning,

    /// <summary>The policy is rejected.</summary>
    Error,
}

/// <summary>
/// A problem found in a policy, located by line and column, naming the offending token and what was expected, in the
/// manner of MAA's <c>PolicyParsingError</c> text.
/// </summary>
/// <param name="Severity">Error or warning.</param>
/// <param name="Code"><c>PolicyParsingError</c> for syntax and semantic errors (the code MAA returns), or a warning code.</param>
/// <param name="Message">What is wrong, e.g. <c>mismatched input '}' expecting ';'</c>.</param>
/// <param name="Span">Where.</param>
/// <param name="OffendingSymbol">The token at fault as written in the source (<c>&lt;EOF&gt;</c> at end of input).</param>
/// <param name="Expected">What would have been accepted there, or null if not a question of expectation.</param>
/// <param name="FailingRule">The grammar path, e.g. <c>policy &gt; authorizationrules &gt; rule</c>.</param>
public sealed record PolicyDiagnostic(
    DiagnosticSeverity Severity,
    string Code,
    string Message,
    SourceSpan Span,
    string OffendingSymbol,
    string? Expected,
    string FailingRule)
{
    /// <summary>The code of every error (MAA returns this code for any policy it cannot parse).</summary>
    public const string ParsingError = "PolicyParsingError";

    /// <summary>The code of warnings about lenient forms and probable mistakes.</summary>
    public const string PolicyWarning = "PolicyWarning";

    /// <summary>True for errors.</summary>
    public bool IsError => Severity == DiagnosticSeverity.Error;

    /// <summary>The MAA-style one-line text, e.g.
    /// <c>Policy Parser Exception Thrown: Offending symbol: '[' Line: '2', Column: '1' Failure message: 'mismatched input '[' expecting ';'' Failing rule: 'policy &gt; versionInfo'</c>.</summary>
    /// <returns>The text.</returns>
    public string ToMaaText() => string.Format(
        CultureInfo.InvariantCulture,
        "Policy Parser Exception Thrown: Offending symbol: '{0}' Line: '{1}', Column: '{2}' Failure message: '{3}' Failing rule: '{4}'",
        OffendingSymbol,
        Span.Line,
        Span.Column,
        Message,
        FailingRule);

    /// <summary>Compiler-style text: <c>line:column: error PolicyParsingError: message</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => string.Format(
        CultureInfo.InvariantCulture,
        "{0}:{1}: {2} {3}: {4}",
        Span.Line,
        Span.Column,
        IsError ? "error" : "warning",
        Code,
        Message);
}
