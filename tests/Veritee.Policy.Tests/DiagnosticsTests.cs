using Xunit;

namespace Veritee.Policy.Tests;

/// <summary>Bad input gets a located, specific diagnostic; feature/version rules; the documented language decisions.</summary>
public class DiagnosticsTests
{
    private static PolicyDiagnostic FirstError(string text)
    {
        var result = PolicyParser.Parse(text);
        Assert.False(result.Success);
        Assert.Null(result.Document);
        return result.Errors.First();
    }

    /// <summary>'§' in <paramref name="marked"/> marks where the error must be reported; it is removed before parsing.</summary>
    private static void AssertMarkedError(string marked, string symbol, string message)
    {
        var at = marked.IndexOf('§', StringComparison.Ordinal);
        var text = marked.Remove(at, 1);
        var line = 1 + text[..at].Count(c => c == '\n');
        var column = at - (text.LastIndexOf('\n', Math.Max(0, at - 1)) + 1) + 1;
        var error = FirstError(text);
        Assert.Equal((line, column, symbol), (error.Span.Line, error.Span.Column, error.OffendingSymbol));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_semicolon_after_version_reads_like_MAA()
    {
        var error = FirstError("version=1.0\n[type==\"a\"] => permit();");
        Assert.Equal(
            "Policy Parser Exception Thrown: Offending symbol: '[' Line: '2', Column: '1' Failure message: 'mismatched input '[' expecting ';'' Failing rule: 'policy > versionInfo'",
            error.ToMaaText());
        Assert.Equal("2:1: error PolicyParsingError: mismatched input '[' expecting ';'", error.ToString());
        Assert.Equal("';'", error.Expected);
    }

    [Theory]
    [InlineData("§authorizationrules { => permit(); };", "authorizationrules", "expecting 'version'")]
    [InlineData("version=§1.3; authorizationrules { => permit(); };", "1.3", "unsupported policy version '1.3'")]
    [InlineData("version=§1; authorizationrules { => permit(); };", "1", "expecting a version number")]
    [InlineData("version=1.0;§", "<EOF>", "missing 'authorizationrules' section")]
    [InlineData("version=1.0; issuancerules { }; §authorizationrules { => permit(); };", "authorizationrules", "out of place")]
    [InlineData("version=1.0; authorizationrules { => permit(); }; §authorizationrules { };", "authorizationrules", "out of place")]
    [InlineData("version=1.0; authorizationrules { => permit(); }§", "<EOF>", "expecting ';'")]
    [InlineData("version=1.0; §authorisationrules { => permit(); };", "authorisationrules", "expecting 'configurationrules', 'authorizationrules', 'issuancerules' or <EOF>")]
    [InlineData("version=1.0; authorizationrules { => permit() §};", "}", "mismatched input '}' expecting ';'")]
    [InlineData("version=1.0; authorizationrules { => §allow(); };", "allow", "expecting 'permit', 'deny', 'add', 'issue' or 'issueproperty'")]
    [InlineData("version=1.0; authorizationrules { [type==\"a\"] §permit(); };", "permit", "expecting '&&' or '=>'")]
    [InlineData("version=1.0; authorizationrules { §c[type==\"a\"] => permit(); };", "c", "mismatched input 'c' expecting ':' after a label, or '['")]
    [InlineData("version=1.0; authorizationrules { [§kind==\"a\"] => permit(); };", "kind", "expecting 'type', 'value', 'issuer' or 'valueType'")]
    [InlineData("version=1.0; authorizationrules { [type§=>\"a\"] => permit(); };", "=>", "expecting a comparison operator")]
    [InlineData("version=1.0; authorizationrules { [type==a§] => permit(); };", "]", "expecting '.' after label 'a'")]
    [InlineData("version=1.0; authorizationrules { [value==§0xFF] => permit(); };", "0xFF", "invalid number '0xFF'")]
    [InlineData("version=1.0; authorizationrules { [value==§99999999999999999999] => permit(); };", "99999999999999999999", "out of range")]
    [InlineData("version=1.0; authorizationrules { [type==\"a§\\q\"] => permit(); };", "\\q", "invalid escape sequence '\\q'")]
    [InlineData("version=1.0; authorizationrules { [type==§\"abc\n\"] => permit(); };", "\"abc", "unterminated string literal")]
    [InlineData("version=1.0; authorizationrules { [type==\"a\"] => permit(); }; §#", "#", "token recognition error at: '#'")]
    public void Syntax_errors_name_the_place_the_token_and_what_was_expected(string marked, string symbol, string message) =>
        AssertMarkedError(marked, symbol, message);

    [Theory]
    [InlineData("version=1.0; configurationrules { }; authorizationrules { => permit(); };", "configurationrules", "'configurationrules' requires version=1.1 or later; this policy declares version=1.0")]
    [InlineData("version=1.1; authorizationrules { ![type==\"a\"] => permit(); };", "!", "'!' (negated condition) requires version=1.2; this policy declares version=1.1")]
    [InlineData("version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"a\", value=NegateBool(true)); };", "NegateBool", "function 'NegateBool' requires version=1.2; this policy declares version=1.0")]
    public void Features_need_their_version(string text, string symbol, string message)
    {
        var error = FirstError(text);
        Assert.Equal(symbol, error.OffendingSymbol);
        Assert.Equal(message, error.Message);
        Assert.Contains("version=1.2", text.Replace("version=1.0", "version=1.2", StringComparison.Ordinal).Replace("version=1.1", "version=1.2", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.True(PolicyParser.Parse(text.Replace("version=1.0", "version=1.2", StringComparison.Ordinal).Replace("version=1.1", "version=1.2", StringComparison.Ordinal)).Success);
    }

    [Theory]
    [InlineData("authorizationrules { [type<\"a\"] => permit(); };", 0, "<", "operator '<' compares Integers and cannot be applied to 'type'")]
    [InlineData("authorizationrules { [value>=\"a\"] => permit(); };", 0, "\"a\"", "operator '>=' needs an Integer operand, got String \"a\"")]
    [InlineData("authorizationrules { [type==5] => permit(); };", 0, "5", "'type' is a String and cannot be compared with Integer 5")]
    [InlineData("authorizationrules { [valueType==\"Float\"] => permit(); };", 0, "\"Float\"", "unknown value type \"Float\"")]
    [InlineData("authorizationrules { [value==c.value] => permit(); };", 0, "c", "label 'c' is not bound by an earlier condition of this rule")]
    [InlineData("authorizationrules { c:[value==c.value] => permit(); };", 1, "c", "label 'c' is not bound")]
    [InlineData("authorizationrules { c:[type==\"a\"] && c:[type==\"b\"] => permit(); };", 1, "c", "label 'c' is already bound in this rule")]
    [InlineData("authorizationrules { !c:[type==\"a\"] => permit(); };", 0, "c", "a negated condition cannot have a label")]
    [InlineData("authorizationrules { => permit(); }; issuancerules { [type==\"a\"] => issue(claim=c); };", 2, "c", "label 'c' is not bound by a condition of this rule")]
    [InlineData("authorizationrules { => permit(); }; issuancerules { => permit(); };", 1, "permit", "permit() is only allowed in authorizationrules, not in issuancerules")]
    [InlineData("configurationrules { => issue(type=\"a\", value=1); }; authorizationrules { => permit(); };", 0, "issue", "issue() is not allowed in configurationrules")]
    [InlineData("authorizationrules { => add(type=\"a\"); };", 0, ")", "missing 'value=' argument")]
    [InlineData("authorizationrules { => add(type=\"a\", type=\"b\", value=1); };", 1, "type", "'type' is given twice")]
    [InlineData("authorizationrules { => add(type=1, value=1); };", 0, "1", "the claim type must be a String")]
    [InlineData("authorizationrules { => add(type=\"a\", value=1, issuer=\"x\"); };", 0, "issuer", "a policy cannot choose the issuer")]
    [InlineData("authorizationrules { => add(type=\"a\", value=1, valueType=\"Float\"); };", 0, "\"Float\"", "valueType must be \"String\", \"Integer\" or \"Boolean\"")]
    [InlineData("authorizationrules { => add(type=\"a\", value=NegateBool(1)); };", 0, "1", "argument 1 of 'NegateBool' must be a Boolean, got Integer 1")]
    [InlineData("authorizationrules { => add(type=\"a\", value=JmesPath(\"{}\", \"a[?\")); };", 0, "\"a[?\"", "argument 2 of 'JmesPath' is not a valid JMESPath query")]
    [InlineData("authorizationrules { => add(type=\"a\", value=JmesPath(\"{x\", \"a\")); };", 0, "\"{x\"", "argument 1 of 'JmesPath' is not valid JSON")]
    [InlineData("authorizationrules { => add(type=\"a\", value=AppendString(\"a\", \"b\", \"c\")); };", 0, "\"c\"", "function 'AppendString' takes 2 arguments, got 3")]
    [InlineData("authorizationrules { => add(type=\"a\", value=Jmespth(\"{}\", \"a\")); };", 0, "Jmespth", "unknown function 'Jmespth'; did you mean 'JmesPath'?")]
    public void Semantic_errors_are_located_and_specific(string sections, int occurrence, string symbol, string message)
    {
        // The error is expected at the given occurrence (0-based) of the symbol in the sections text.
        var at = -1;
        for (var i = 0; i <= occurrence; i++)
        {
            at = sections.IndexOf(symbol, at + 1, StringComparison.Ordinal);
        }

        AssertMarkedError("version=1.2;\n" + sections.Insert(at, "§"), symbol, message);
    }

    [Fact]
    public void Several_independent_mistakes_are_reported_in_one_run()
    {
        var result = PolicyParser.Parse("version=1.0;\nauthorizationrules {\n  [type=\"a\"] => permit()\n  => allow();\n  [type==\"b\"] => permit();\n};\nissuancerules {\n  => issue(type=\"x\" value=1);\n};");
        Assert.Equal([(4, 3), (8, 21)], result.Errors.Select(e => (e.Span.Line, e.Span.Column)));
        Assert.Equal([(3, 8)], result.Diagnostics.Where(d => !d.IsError).Select(e => (e.Span.Line, e.Span.Column)));
    }

    [Fact]
    public void Unknown_issuer_is_a_warning_not_an_error()
    {
        var result = PolicyParser.Parse("version=1.0; authorizationrules { [issuer==\"AttestationServce\"] => permit(); };");
        Assert.True(result.Success);
        Assert.Contains("unknown issuer \"AttestationServce\"", result.Diagnostics.Single().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keywords_are_case_insensitive_labels_are_not()
    {
        var ok = PolicyParser.Parse("VERSION=1.2; AuthorizationRules { => PERMIT(); }; ISSUANCERULES { C:[TYPE==\"x\", Value!=FALSE] => Issue(Claim=C); => ADD(Type=\"y\", VALUE=jmespath(\"{}\", \"a\")); };");
        Assert.True(ok.Success, string.Join("\n", ok.Diagnostics));
        Assert.Equal(
            "version=1.2;\nauthorizationrules\n{\n    => permit();\n};\nissuancerules\n{\n    C:[type==\"x\", value!=false] => issue(claim=C);\n    => add(type=\"y\", value=JmesPath(\"{}\", \"a\"));\n};\n",
            PolicyPrinter.Print(ok.Document!));
        Assert.Equal("c", FirstError("version=1.0; authorizationrules { => permit(); }; issuancerules { C:[type==\"x\"] => issue(claim=c); };").OffendingSymbol);
    }

    [Fact]
    public void Comments_are_allowed_in_every_version()
    {
        Assert.True(PolicyParser.Parse("// header\nversion=1.0; // v\nauthorizationrules { // a\n => permit(); // b\n};").Success);
    }

    [Fact]
    public void Deeply_nested_calls_are_an_error_not_a_stack_overflow()
    {
        var nested = string.Concat(Enumerable.Repeat("NegateBool(", 100_000)) + "true" + new string(')', 100_000);
        var error = FirstError("version=1.2; authorizationrules { => add(type=\"a\", value=" + nested + "); };");
        Assert.Contains($"nested more than {PolicyParser.MaxExpressionDepth} deep", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Error_count_is_capped()
    {
        var result = PolicyParser.Parse("version=1.0; authorizationrules {" + string.Concat(Enumerable.Repeat(" => allow();", 500)) + " };");
        Assert.Equal(PolicyParser.MaxErrors, result.Errors.Count());
    }

    [Fact]
    public void Negative_integers_and_escapes_parse()
    {
        var result = PolicyParser.Parse("version=1.0; authorizationrules { [value>=-5, type==\"a\\\"b\\\\c\\u0041\"] => permit(); };");
        Assert.True(result.Success);
        var predicates = result.Document!.Authorization.Rules[0].Conditions[0].Predicates;
        Assert.Equal(ClaimValue.FromInteger(-5), ((LiteralExpression)predicates[0].Operand).Value);
        Assert.Equal(ClaimValue.FromString("a\"b\\cA"), ((LiteralExpression)predicates[1].Operand).Value);
    }
}
