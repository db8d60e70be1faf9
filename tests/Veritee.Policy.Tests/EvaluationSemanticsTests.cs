using System.Text.Json;
using Xunit;
using static Veritee.Policy.Tests.TestPolicies;

namespace Veritee.Policy.Tests;

/// <summary>The evaluation rules of docs/protocol.md §7 and the decisions documented on <see cref="CompiledPolicy"/>.</summary>
public class EvaluationSemanticsTests
{
    private const string V12 = "version=1.2;\n";

    [Fact]
    public void Deny_wins_whatever_its_position()
    {
        Assert.Equal(PolicyEvaluationResult.DenyReason, Evaluate("version=1.0; authorizationrules { => permit(); => deny(); };").Reason);
        Assert.Equal(PolicyEvaluationResult.DenyReason, Evaluate("version=1.0; authorizationrules { => deny(); => permit(); };").Reason);
        Assert.False(Evaluate("version=1.0; authorizationrules { => deny(); => permit(); };").Authorized);
    }

    [Fact]
    public void No_permit_means_not_authorized_and_no_issued_claims()
    {
        var result = Evaluate("version=1.0; authorizationrules { [type==\"x\"] => permit(); }; issuancerules { => issue(type=\"a\", value=1); };", S("y", "1"));
        Assert.False(result.Authorized);
        Assert.False(result.IsError);
        Assert.Equal(PolicyEvaluationResult.NoPermitReason, result.Reason);
        Assert.Empty(result.Issued);
    }

    [Fact]
    public void Empty_authorization_section_authorizes_nothing()
    {
        Assert.False(Evaluate("version=1.0; authorizationrules { };").Authorized);
    }

    [Fact]
    public void Added_claims_are_visible_to_later_rules_and_sections_but_not_to_the_rule_that_added_them()
    {
        var result = Evaluate(
            "version=1.0; authorizationrules { c:[type==\"n\"] => add(type=\"n\", value=2); [type==\"n\", value==2] => add(type=\"seen\", value=true); => permit(); };"
            + " issuancerules { c:[type==\"seen\", issuer==\"AttestationPolicy\"] => issue(type=\"out\", value=c.value); c:[type==\"n\"] => issue(type=\"ns\", value=c.value); };",
            I("n", 1));
        Assert.True(result.Authorized);

        // The first rule saw only the incoming n=1, so it added exactly one claim (it did not loop on its own output).
        Assert.Equal([("out", Bool(true)), ("ns", Int(1)), ("ns", Int(2))], Pairs(result.Issued));
    }

    [Fact]
    public void Issued_claims_are_incoming_for_later_rules_with_issuer_AttestationPolicy()
    {
        var result = Evaluate(
            "version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"a\", value=\"x\"); c:[type==\"a\", issuer==\"AttestationPolicy\"] => issue(type=\"b\", value=c.value); [type==\"a\", issuer==\"AttestationService\"] => issue(type=\"c\", value=1); };");
        Assert.Equal([("a", Str("x")), ("b", Str("x"))], Pairs(result.Issued));
        Assert.All(result.Issued, c => Assert.Equal(ClaimIssuers.AttestationPolicy, c.Issuer));
    }

    [Fact]
    public void Condition_without_issuer_matches_any_issuer()
    {
        const string Policy = "version=1.0; authorizationrules { [type==\"t\"] => permit(); };";
        Assert.True(Evaluate(Policy, new PolicyClaim("t", Str("v"), ClaimIssuers.CustomClaim)).Authorized);
        Assert.True(Evaluate(Policy, new PolicyClaim("t", Str("v"), ClaimIssuers.AttestationService)).Authorized);
        Assert.False(Evaluate("version=1.0; authorizationrules { [type==\"t\", issuer==\"AttestationService\"] => permit(); };", new PolicyClaim("t", Str("v"), ClaimIssuers.CustomClaim)).Authorized);
    }

    [Fact]
    public void All_predicates_must_hold_on_the_same_claim()
    {
        const string Policy = "version=1.0; authorizationrules { [type==\"a\", value==1] => permit(); };";
        Assert.False(Evaluate(Policy, I("a", 2), I("b", 1)).Authorized);
        Assert.True(Evaluate(Policy, I("a", 2), I("a", 1)).Authorized);
    }

    [Fact]
    public void Label_binds_every_matching_claim_and_issue_emits_one_claim_per_bound_claim()
    {
        var result = Evaluate(
            "version=1.0; authorizationrules { => permit(); }; issuancerules { c:[type==\"m\"] => issue(type=\"out\", value=c.value); c:[type==\"m\"] => issue(claim=c); };",
            S("m", "first"), I("other", 0), S("m", "second"));
        Assert.Equal([("out", Str("first")), ("out", Str("second")), ("m", Str("first")), ("m", Str("second"))], Pairs(result.Issued));

        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            PolicyJson.WriteClaimsObject(writer, result.Issued);
        }

        Assert.Equal("{\"out\":[\"first\",\"second\"],\"m\":[\"first\",\"second\"]}", System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    [Fact]
    public void Property_access_in_a_condition_joins_against_the_bound_claims()
    {
        const string Policy = "version=1.0; authorizationrules { F1:[type==\"OSName\", issuer==\"CustomClaim\"] && [type==\"OSName\", issuer==\"AttestationService\", value==F1.value] => permit(); };";
        var custom = new PolicyClaim("OSName", Str("Windows"), ClaimIssuers.CustomClaim);
        Assert.True(Evaluate(Policy, custom, S("OSName", "Windows")).Authorized);
        Assert.False(Evaluate(Policy, custom, S("OSName", "Linux")).Authorized);
        Assert.True(Evaluate(Policy, custom, new PolicyClaim("OSName", Str("Linux"), ClaimIssuers.CustomClaim), S("OSName", "Linux")).Authorized);
    }

    [Fact]
    public void Issue_claim_reissues_the_bound_claim_from_the_grammar_doc()
    {
        var rules = PolicyParser.ParseRules(PolicyVectors.ReadPolicy("docs/claim-rule-grammar.rule-fragments.txt"));
        var document = new PolicyDocument(PolicyVersion.V1_2, null, new RuleSection(SectionKind.Authorization, [PolicyParser.ParseRules("=> permit();", SectionKind.Authorization).Rules[0]], SourceSpan.None), new RuleSection(SectionKind.Issuance, rules.Rules, SourceSpan.None));
        var result = CompiledPolicy.Compile(document).Evaluate([new PolicyClaim("OSName", Str("Windows"), ClaimIssuers.CustomClaim), S("OSName", "Windows")]);
        Assert.Equal([("OSName", Str("Windows"))], Pairs(result.Issued));
        Assert.Equal([("report_validity_in_minutes", Int(1440))], Pairs(result.Properties));
    }

    [Theory]
    [InlineData("value==1", true)]
    [InlineData("value==\"1\"", false)] // kinds differ: never equal
    [InlineData("value!=\"1\"", true)] // != is the negation of ==
    [InlineData("value!=1", false)]
    [InlineData("value>=1", true)]
    [InlineData("value>0", true)]
    [InlineData("value<1", false)]
    [InlineData("value<=1", true)]
    [InlineData("valueType==\"Integer\"", true)]
    [InlineData("valueType==\"String\"", false)]
    public void Integer_comparisons(string predicate, bool expected) =>
        Assert.Equal(expected, Evaluate($"version=1.0; authorizationrules {{ [type==\"n\", {predicate}] => permit(); }};", I("n", 1)).Authorized);

    [Theory]
    [InlineData("value==\"ABC\"", true)]
    [InlineData("value==\"abc\"", false)] // ordinal, case-sensitive
    [InlineData("value!=\"abc\"", true)]
    [InlineData("value>=c.value", false)] // ordering holds only between Integers
    public void String_comparisons(string predicate, bool expected) =>
        Assert.Equal(expected, Evaluate($"version=1.0; authorizationrules {{ c:[type==\"s\"] && [type==\"s\", {predicate}] => permit(); }};", S("s", "ABC")).Authorized);

    [Fact]
    public void Boolean_compares_with_boolean_only()
    {
        Assert.True(Evaluate("version=1.0; authorizationrules { [type==\"b\", value==true] => permit(); };", B("b", true)).Authorized);
        Assert.False(Evaluate("version=1.0; authorizationrules { [type==\"b\", value==\"true\"] => permit(); };", B("b", true)).Authorized);
    }

    [Fact]
    public void Empty_condition_matches_when_any_claim_exists()
    {
        Assert.True(Evaluate("version=1.0; authorizationrules { [] => permit(); };", S("a", "b")).Authorized);
        Assert.False(Evaluate("version=1.0; authorizationrules { [] => permit(); };").Authorized);
    }

    [Fact]
    public void Negated_condition_from_the_functions_doc()
    {
        const string Policy = V12 + "authorizationrules { => permit(); }; issuancerules { ![type==\"Claim3\"] => issue(type=\"Claim3\", value=300); };";
        Assert.Equal([("Claim3", Int(300))], Pairs(Evaluate(Policy, I("Claim1", 100), I("Claim2", 200)).Issued));
        Assert.Empty(Evaluate(Policy, I("Claim3", 1)).Issued);
    }

    [Fact]
    public void Value_type_conversion_in_claim_actions()
    {
        var result = Evaluate(
            "version=1.0; authorizationrules { => permit(); }; issuancerules { c:[type==\"s\"] => issue(type=\"i\", value=c.value, valueType=\"Integer\"); => issue(type=\"t\", value=7, valueType=\"String\"); => issue(type=\"b\", value=\"TRUE\", valueType=\"Boolean\"); };",
            S("s", "42"));
        Assert.Equal([("i", Int(42)), ("t", Str("7")), ("b", Bool(true))], Pairs(result.Issued));

        const string Bad = "version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"i\", value=\"x\", valueType=\"Integer\"); };";
        var bad = Evaluate(Bad);
        Assert.True(bad.IsError);
        Assert.False(bad.Authorized);
        Assert.Contains("cannot convert String \"x\" to valueType \"Integer\"", bad.Reason, StringComparison.Ordinal);
        Assert.Contains($"line 1, column {Bad.IndexOf("=> issue", StringComparison.Ordinal) + 1}", bad.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Tpm_1_1_sample_sets_properties_from_configuration_rules()
    {
        var policy = Compile(PolicyVectors.ReadPolicy("docs/policy-version-1-1.tpm.txt"));
        var result = policy.Evaluate([B("aikValidated", false), B("secureBootEnabled", true), B("bootDebuggingDisabled", true), B("notSafeMode", true)]);
        Assert.True(result.Authorized);
        Assert.Equal([("required_pcr_mask", Int(15)), ("require_valid_aik_cert", Bool(false))], Pairs(result.Properties));
        Assert.Equal([("PlatformAttested", Bool(false))], Pairs(result.Issued));
    }

    [Fact]
    public void Evaluation_is_repeatable_and_thread_safe()
    {
        var policy = Compile(PolicyVectors.SgxDefaultPolicy);
        var token = PolicyVectors.TokenBody("Attestation-AttestationTests.SimpleAttest-SgxEnclave_Shared.1.POST.attest_SgxEnclave.jwt");
        var claims = PolicyVectors.SgxIncomingClaims(token);
        var expected = Pairs(policy.Evaluate(claims).Issued);
        Parallel.For(0, 2000, _ => Assert.Equal(expected, Pairs(policy.Evaluate(claims).Issued)));
    }

    [Fact]
    public void Evaluation_allocates_only_the_result()
    {
        var policy = Compile(PolicyVectors.SgxDefaultPolicy);
        var token = PolicyVectors.TokenBody("Attestation-AttestationTests.SimpleAttest-SgxEnclave_Shared.1.POST.attest_SgxEnclave.jwt");
        var claims = PolicyVectors.SgxIncomingClaims(token).ToArray();
        for (var i = 0; i < 100; i++)
        {
            policy.Evaluate(claims); // warm up the thread's scratch space and the JIT
        }

        const int Runs = 1000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Runs; i++)
        {
            policy.Evaluate(claims);
        }

        var perRun = (GC.GetAllocatedBytesForCurrentThread() - before) / Runs;

        // Result object (~48 B) + issued array of 6 claims (24 + 6×40 B) + nothing else.
        Assert.InRange(perRun, 1, 360);
    }
}
