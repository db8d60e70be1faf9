using Xunit;
using static Veritee.Policy.Tests.TestPolicies;

namespace Veritee.Policy.Tests;

/// <summary>The version 1.2 functions, on the examples of the claim-rule-functions article.</summary>
public class FunctionTests
{
    private static PolicyEvaluationResult Issue(string rules, params PolicyClaim[] claims) =>
        Evaluate("version=1.2; authorizationrules { => permit(); }; issuancerules { " + rules + " };", claims);

    [Fact]
    public void JmesPath_on_literal_json_returns_json_text()
    {
        var result = Issue("=> issue(type=\"JmesPathResult\", value=JmesPath(\"{\\\"foo\\\": \\\"bar\\\"}\", \"foo\"));");
        Assert.Equal([("JmesPathResult", Str("\"bar\""))], Pairs(result.Issued));
    }

    [Fact]
    public void JmesPath_with_arguments_from_claims()
    {
        var result = Issue(
            "c1:[type==\"JsonData\"] && c2:[type==\"JmesPathQuery\"] => issue(type=\"JmesPathResult\", value=JmesPath(c1.value, c2.value));",
            S("JsonData", "{\"values\": [0,1,2,3,4]}"),
            S("JmesPathQuery", "values[2]"));
        Assert.Equal([("JmesPathResult", Str("2"))], Pairs(result.Issued));
    }

    [Fact]
    public void JsonToClaimValue_scalars_keep_their_types()
    {
        var result = Issue(
            "c:[type==\"JsonIntegerData\"] => issue(type=\"IntegerResult\", value=JsonToClaimValue(c.value));"
            + "c:[type==\"JsonBooleanData\"] => issue(type=\"BooleanResult\", value=JsonToClaimValue(c.value));"
            + "c:[type==\"JsonStringData\"] => issue(type=\"StringResult\", value=JsonToClaimValue(c.value));",
            S("JsonIntegerData", "100"),
            S("JsonBooleanData", "true"),
            S("JsonStringData", "\"abc\""));
        Assert.Equal([("IntegerResult", Int(100)), ("BooleanResult", Bool(true)), ("StringResult", Str("abc"))], Pairs(result.Issued));
    }

    [Fact]
    public void JsonToClaimValue_array_gives_one_claim_per_element_and_null_gives_none()
    {
        const string Rule = "c:[type==\"JsonData\"] => issue(type=\"Result\", value=JsonToClaimValue(c.value));";
        Assert.Equal([("Result", Int(0)), ("Result", Str("abc")), ("Result", Bool(true))], Pairs(Issue(Rule, S("JsonData", "[0, \"abc\", true]")).Issued));
        var none = Issue(Rule, S("JsonData", "null"));
        Assert.True(none.Authorized);
        Assert.Empty(none.Issued);
    }

    [Theory]
    [InlineData("1.5", "is not a 64-bit integer")]
    [InlineData("{\"a\": 1}", "JSON objects have no claim value")]
    [InlineData("[[1]]", "arrays may only hold")]
    [InlineData("{bad", "not valid JSON")]
    public void JsonToClaimValue_errors_fail_the_evaluation(string json, string message)
    {
        var result = Issue("c:[type==\"JsonData\"] => issue(type=\"Result\", value=JsonToClaimValue(c.value));", S("JsonData", json));
        Assert.True(result.IsError);
        Assert.False(result.Authorized);
        Assert.Contains(message, result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void IsSubsetOf_compares_the_sets_bound_to_labels()
    {
        const string Rule = "c1:[type==\"Subset\"] && c2:[type==\"Superset\"] => issue(type=\"IsSubset\", value=IsSubsetOf(c1.value, c2.value));";
        Assert.Equal(
            [("IsSubset", Bool(true))],
            Pairs(Issue(Rule, S("Subset", "abc"), I("Subset", 100), B("Superset", true), S("Superset", "abc"), I("Superset", 100)).Issued));
        Assert.Equal(
            [("IsSubset", Bool(false))],
            Pairs(Issue(Rule, S("Subset", "abc"), I("Subset", 101), B("Superset", true), S("Superset", "abc"), I("Superset", 100)).Issued));
    }

    [Fact]
    public void AppendString_and_NegateBool()
    {
        var result = Issue(
            "c1:[type==\"String1\"] && c2:[type==\"String2\"] => issue(type=\"Result\", value=AppendString(c1.value, c2.value));"
            + "c:[type==\"Input\"] => issue(type=\"Negated\", value=NegateBool(c.value));",
            S("String1", "abc"),
            S("String2", "xyz"),
            B("Input", true));
        Assert.Equal([("Result", Str("abcxyz")), ("Negated", Bool(false))], Pairs(result.Issued));
    }

    [Fact]
    public void AppendString_of_a_set_of_several_values_is_an_error()
    {
        var result = Issue("c:[type==\"s\"] => issue(type=\"r\", value=AppendString(c.value, \"x\"));", S("s", "a"), S("s", "b"));
        Assert.True(result.IsError);
        Assert.Contains("must be a single value, got a set of 2", result.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new long[] { 100, 101 }, false)]
    [InlineData(new long[] { 100, 100 }, true)]
    [InlineData(new long[] { 100 }, true)]
    public void ContainsOnlyValue(long[] values, bool expected)
    {
        var claims = values.Select(v => I("Set", v)).ToArray();
        var result = Issue("c:[type==\"Set\"] => issue(type=\"Result\", value=ContainsOnlyValue(c.value, 100));", claims);
        Assert.Equal([("Result", Bool(expected))], Pairs(result.Issued));
    }

    [Fact]
    public void ContainsOnlyValue_of_the_empty_set_is_false()
    {
        var result = Issue("=> issue(type=\"Result\", value=ContainsOnlyValue(JsonToClaimValue(\"[]\"), 1));");
        Assert.Equal([("Result", Bool(false))], Pairs(result.Issued));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Secure_boot_sample_from_the_functions_article(bool secureBoot)
    {
        var variable = secureBoot
            ? "{\"EventTypeString\":\"EV_EFI_VARIABLE_DRIVER_CONFIG\",\"ProcessedData\":{\"VariableGuid\":\"8BE4DF61-93CA-11D2-AA0D-00E098032B8C\",\"UnicodeName\":\"SecureBoot\",\"VariableData\":\"AQ\"}}"
            : "{\"EventTypeString\":\"EV_EFI_VARIABLE_DRIVER_CONFIG\",\"ProcessedData\":{\"VariableGuid\":\"8BE4DF61-93CA-11D2-AA0D-00E098032B8C\",\"UnicodeName\":\"SecureBoot\",\"VariableData\":\"AA\"}}";
        var events = "{\"Events\":[" + variable + ",{\"EventTypeString\":\"EV_SEPARATOR\"}]}";
        var result = Compile(PolicyVectors.ReadPolicy("docs/claim-rule-functions.v1.2-secureboot.txt")).Evaluate([S("events", events)]);
        Assert.True(result.Authorized, result.Reason);
        Assert.Equal([("secureBootEnabled", Bool(secureBoot))], Pairs(result.Issued));
    }

    [Fact]
    public void Secure_boot_sample_without_events_issues_false_through_the_negated_rule()
    {
        var result = Compile(PolicyVectors.ReadPolicy("docs/claim-rule-functions.v1.2-secureboot.txt")).Evaluate([]);
        Assert.Equal([("secureBootEnabled", Bool(false))], Pairs(result.Issued));
    }

    [Theory]
    [InlineData("RSA", 50, true)]
    [InlineData("RSA", 51, false)]
    [InlineData("EC", 50, true)]
    public void Key_attestation_sample_permits_on_certified_attributes(string kty, int objAttr, bool authorized)
    {
        var key = $"{{\"jwk\":{{\"kty\":\"{kty}\"}},\"info\":{{\"tpm_certify\":{{\"obj_attr\":{objAttr}}}}}}}";
        var result = Compile(PolicyVectors.ReadPolicy("docs/tpm-samples.v1.2-key-attestation.txt")).Evaluate([S("x-ms-tpm-request-key", key)]);
        Assert.Equal(authorized, result.Authorized);
        if (authorized)
        {
            // issue() inside authorizationrules reaches the token.
            var expected = new List<(string, ClaimValue)>();
            if (kty == "RSA")
            {
                expected.Add(("requestKeyType", Str("RSA")));
            }

            expected.Add(("requestKeyCertifyObjAttrVerified", Bool(true)));
            Assert.Equal(expected, Pairs(result.Issued));
        }
    }

    [Fact]
    public void Known_pcrs_sample_permits_only_with_the_listed_digests()
    {
        string Pcrs(string pcr0) =>
            "{\"PCRs\":[" + $"{{\"Index\":0,\"Digests\":{{\"SHA256\":\"{pcr0}\"}}}},"
            + "{\"Index\":1,\"Digests\":{\"SHA256\":\"8c25e3be6ad6f5bd33c9ae40d5d5461e88c1a7366df0c9ee5c7e5ff40d3d1d0e\"}},"
            + "{\"Index\":2,\"Digests\":{\"SHA256\":\"3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969\"}},"
            + "{\"Index\":3,\"Digests\":{\"SHA256\":\"3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969\"}}]}";
        var policy = Compile(PolicyVectors.ReadPolicy("docs/tpm-samples.v1.2-known-pcrs.txt"));
        Assert.True(policy.Evaluate([S("pcrs", Pcrs("4c833b1c361fceffd8dc0f81eec76081b71e1a0eb2193caed0b6e1c7735ec33e"))]).Authorized);
        Assert.False(policy.Evaluate([S("pcrs", Pcrs("0000000000000000000000000000000000000000000000000000000000000000"))]).Authorized);
    }

    [Fact]
    public void Dynamic_JmesPath_query_errors_fail_the_evaluation()
    {
        var result = Issue("c:[type==\"q\"] => issue(type=\"r\", value=JmesPath(\"{}\", c.value));", S("q", "values[?"));
        Assert.True(result.IsError);
        Assert.Contains("JmesPath: query 'values[?' failed", result.Reason, StringComparison.Ordinal);
    }
}
