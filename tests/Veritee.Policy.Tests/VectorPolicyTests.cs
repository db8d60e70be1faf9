using Xunit;

namespace Veritee.Policy.Tests;

/// <summary>Every published policy parses, or fails exactly where its published typo is.</summary>
public class VectorPolicyTests
{
    /// <summary>Policies published with mistakes, and the first error each must produce (line, column, symbol).</summary>
    private static readonly Dictionary<string, (int Line, int Column, string Symbol, string MessageStart)> KnownBad = new()
    {
        // Missing ';' after permit() (the closing brace follows).
        ["docs/author-sign-policy.sample-as-published.txt"] = (5, 1, "}", "mismatched input '}' expecting ';'"),

        // value = "11” closes with a typographic quote, so the string runs to the end of the line.
        ["docs/custom-tcb-baseline.sample.as-published.txt"] = (5, 42, "\"11\u201D", "unterminated string literal"),

        // <product-id> placeholders stand where a literal must be.
        ["docs/policy-examples.sgx-custom.placeholders.txt"] = (5, 50, "<", "mismatched input '<' expecting a string"),
    };

    public static TheoryData<string> PolicyFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in PolicyVectors.AllPolicyFiles().Where(f => !f.Contains("fragments", StringComparison.Ordinal)))
        {
            data.Add(file);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PolicyFiles))]
    public void Vector_policy_parses_or_fails_at_its_published_typo(string file)
    {
        var result = PolicyParser.Parse(PolicyVectors.ReadPolicy(file));
        if (KnownBad.TryGetValue(file, out var expected))
        {
            Assert.False(result.Success);
            var first = result.Errors.First();
            Assert.Equal((expected.Line, expected.Column), (first.Span.Line, first.Span.Column));
            Assert.Equal(expected.Symbol, first.OffendingSymbol);
            Assert.StartsWith(expected.MessageStart, first.Message, StringComparison.Ordinal);
            Assert.Equal(PolicyDiagnostic.ParsingError, first.Code);
        }
        else
        {
            Assert.True(result.Success, string.Join("\n", result.Diagnostics));
            Assert.DoesNotContain(result.Diagnostics, d => d.IsError);
        }
    }

    [Fact]
    public void Every_vector_policy_file_is_covered()
    {
        // Guards the theory against silently testing nothing (e.g. vectors not copied).
        Assert.Equal(31, PolicyVectors.AllPolicyFiles().Count()); // 29 policies + 2 rule fragments
        foreach (var bad in KnownBad.Keys)
        {
            Assert.Contains(bad, PolicyVectors.AllPolicyFiles());
        }
    }

    [Fact]
    public void Author_sign_sample_reports_both_missing_semicolons_and_the_lenient_equals()
    {
        var result = PolicyParser.Parse(PolicyVectors.ReadPolicy("docs/author-sign-policy.sample-as-published.txt"));
        var errors = result.Errors.Select(d => (d.Span.Line, d.Span.Column, d.OffendingSymbol)).ToList();
        Assert.Equal([(5, 1, "}"), (10, 3, "c")], errors);
        Assert.Equal("policy > issuancerules > rule", result.Errors.Last().FailingRule);
        var warnings = result.Diagnostics.Where(d => !d.IsError).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.Contains("'=' in a condition is read as '=='", w.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Custom_tcb_sample_error_points_at_the_typographic_quote()
    {
        var error = PolicyParser.Parse(PolicyVectors.ReadPolicy("docs/custom-tcb-baseline.sample.as-published.txt")).Errors.Single();
        Assert.Contains("typographic quote", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Custom_tcb_sample_with_the_quote_fixed_is_a_valid_1_1_policy_with_capitalised_section()
    {
        var text = PolicyVectors.ReadPolicy("docs/custom-tcb-baseline.sample.as-published.txt").Replace('\u201D', '"');
        var result = PolicyParser.Parse(text);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        Assert.Equal(PolicyVersion.V1_1, result.Document!.Version);
        Assert.Equal(6, result.Document.Issuance!.Rules.Count);
    }

    [Fact]
    public void Functions_fragment_fails_exactly_at_its_four_published_typos()
    {
        var result = PolicyParser.ParseRules(PolicyVectors.ReadPolicy("docs/claim-rule-functions.rule-fragments.txt"));
        var errors = result.Errors.Select(d => (d.Span.Line, d.OffendingSymbol, d.Message)).ToList();
        Assert.Collection(
            errors,
            e => Assert.Equal((14, "c1", "label 'c1' is not bound by an earlier condition of this rule"), e),
            e => Assert.Equal((16, "NegateBol", "unknown function 'NegateBol'; did you mean 'NegateBool'?"), e),
            e => Assert.Equal((18, ")", "function 'ContainsOnlyValue' takes 2 arguments, got 1"), e),
            e => Assert.Equal((21, "<EOF>", "mismatched input '<EOF>' expecting ';'"), e));

        // The rules without typos still parse: 1 JmesPath literal, 1 JmesPath from claims, 4 JsonToClaimValue, 1 IsSubsetOf, and 2 more recovered.
        Assert.Equal(9, result.Rules.Count);
    }

    [Fact]
    public void Grammar_fragment_parses_as_rules()
    {
        var result = PolicyParser.ParseRules(PolicyVectors.ReadPolicy("docs/claim-rule-grammar.rule-fragments.txt"));
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        Assert.Equal(2, result.Rules.Count);
        var join = result.Rules[0].Conditions[1].Predicates[2];
        Assert.Equal(new PropertyAccessExpression("F1", ClaimProperty.Value, join.Operand.Span), join.Operand);
    }

    [Theory]
    [InlineData("docs/policy-examples.signed-policy-jwt.jws")]
    [InlineData("docs/policy-examples.unsigned-policy-jwt.jwt")]
    public void Policies_inside_the_docs_policy_tokens_parse(string file)
    {
        var text = PolicyVectors.PolicyFromJws(file);
        var result = PolicyParser.Parse(text);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        Assert.Equal(PolicyVersion.V1_0, result.Document!.Version);
    }
}
