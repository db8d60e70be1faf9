using System.Text.Json;
using Xunit;
using static Veritee.Policy.Tests.TestPolicies;

namespace Veritee.Policy.Tests;

/// <summary>Real MAA behaviour: the default and draft SGX policies against the claims of the golden debug quote.</summary>
public class SgxPolicyTests
{
    private const string SimpleAttestToken = "Attestation-AttestationTests.SimpleAttest-SgxEnclave_Shared.1.POST.attest_SgxEnclave.jwt";
    private const string DraftPolicyToken = "Attestation-AttestationTests.AttestWithDraftPolicy-SgxEnclave_Shared.1.POST.attest_SgxEnclave.jwt";

    [Fact]
    public void Default_policy_issues_exactly_the_claims_of_the_real_token_with_their_types()
    {
        var token = PolicyVectors.TokenBody(SimpleAttestToken);
        var result = Compile(PolicyVectors.SgxDefaultPolicy).Evaluate(PolicyVectors.SgxIncomingClaims(token));

        Assert.True(result.Authorized, result.Reason);
        Assert.Equal(ToJson(token.GetProperty("x-ms-policy")), IssuedJson(result));

        // The policy-issued claims are also at the token's top level, with the same JSON types.
        foreach (var claim in result.Issued)
        {
            Assert.Equal(token.GetProperty(claim.Type).GetRawText(), ValueJson(claim.Value));
        }

        Assert.Equal(["is-debuggable", "sgx-mrsigner", "sgx-mrenclave", "product-id", "svn", "tee"], result.Issued.Select(c => c.Type));
        Assert.Empty(result.Properties);
    }

    [Fact]
    public void Legacy_dollar_default_policy_issues_the_same_claims_from_dollar_claims()
    {
        var token = PolicyVectors.TokenBody(SimpleAttestToken);
        var legacy = PolicyVectors.SgxIncomingClaims(token)
            .Select(c => c with { Type = c.Type.Replace("x-ms-sgx-", "$", StringComparison.Ordinal).Replace("x-ms-attestation-type", "$tee", StringComparison.Ordinal) })
            .Select(c => c.Type switch
            {
                "$mrsigner" => c with { Type = "$sgx-mrsigner" },
                "$mrenclave" => c with { Type = "$sgx-mrenclave" },
                _ => c,
            })
            .ToList();
        var result = Compile(PolicyVectors.ReadPolicy("service-defaults/sgx-default.legacy-dollar-claims.2020.txt")).Evaluate(legacy);
        Assert.True(result.Authorized, result.Reason);
        Assert.Equal(ToJson(token.GetProperty("x-ms-policy")), IssuedJson(result));
    }

    [Fact]
    public void Legacy_dollar_default_policy_denies_without_the_dollar_claim_it_requires()
    {
        var token = PolicyVectors.TokenBody(SimpleAttestToken);
        var result = Compile(PolicyVectors.ReadPolicy("service-defaults/sgx-default.legacy-dollar-claims.2020.txt")).Evaluate(PolicyVectors.SgxIncomingClaims(token));
        Assert.False(result.Authorized);
        Assert.Equal(PolicyEvaluationResult.NoPermitReason, result.Reason);
    }

    [Fact]
    public void Docs_default_v1_1_policy_sets_the_tcb_identifier_property_and_issues_the_same_claims()
    {
        var token = PolicyVectors.TokenBody(SimpleAttestToken);
        var result = Compile(PolicyVectors.ReadPolicy("docs/policy-examples.sgx-default-v1.1.txt")).Evaluate(PolicyVectors.SgxIncomingClaims(token));
        Assert.True(result.Authorized);
        Assert.Equal(ToJson(token.GetProperty("x-ms-policy")), IssuedJson(result));
        Assert.Equal([("x-ms-sgx-tcbidentifier", Str("azuredefault"))], Pairs(result.Properties));
    }

    [Fact]
    public void Draft_permit_policy_matches_the_real_draft_policy_token()
    {
        var token = PolicyVectors.TokenBody(DraftPolicyToken);
        var result = Compile(PolicyVectors.ReadPolicy("sdk-tests/cpp.draft-policy.permit.txt")).Evaluate(PolicyVectors.SgxIncomingClaims(token));
        Assert.True(result.Authorized, result.Reason);
        Assert.Equal(ToJson(token.GetProperty("x-ms-policy")), IssuedJson(result));
    }

    [Fact]
    public void Draft_deny_policy_fails_with_the_message_of_the_real_error_response()
    {
        var token = PolicyVectors.TokenBody(DraftPolicyToken);
        var result = Compile(PolicyVectors.ReadPolicy("sdk-tests/cpp.draft-policy.deny.txt")).Evaluate(PolicyVectors.SgxIncomingClaims(token));
        Assert.False(result.Authorized);
        Assert.Empty(result.Issued);
        var error = File.ReadAllText(Path.Combine(PolicyVectors.Root, "sdk-cpp-2022", "errors", "Attestation-AttestationTests.AttestWithDraftPolicy-OpenEnclave_Aad.2.json"));
        Assert.Contains(result.Reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Docs_signed_policy_denies_debuggable_enclaves(bool debuggable, bool authorized)
    {
        var policy = Compile(PolicyVectors.PolicyFromJws("docs/policy-examples.signed-policy-jwt.jws"));
        var result = policy.Evaluate([B("$is-debuggable", debuggable), S("$sgx-mrsigner", "aa"), I("$svn", 3)]);
        Assert.Equal(authorized, result.Authorized);
        if (authorized)
        {
            Assert.Equal([("NotDebuggable", Bool(false)), ("is-debuggable", Bool(false)), ("sgx-mrsigner", Str("aa")), ("svn", Int(3))], Pairs(result.Issued));
        }
        else
        {
            Assert.Equal(PolicyEvaluationResult.DenyReason, result.Reason);
        }
    }

    [Theory]
    [InlineData("docs/claim-sets.mrsigner-before-rotation.txt", "mrsigner1", true)]
    [InlineData("docs/claim-sets.mrsigner-before-rotation.txt", "mrsigner2", false)]
    [InlineData("docs/claim-sets.mrsigner-during-rotation.txt", "mrsigner1", true)]
    [InlineData("docs/claim-sets.mrsigner-during-rotation.txt", "mrsigner2", true)]
    [InlineData("docs/claim-sets.mrsigner-during-rotation.txt", "mrsigner3", false)]
    [InlineData("docs/claim-sets.mrsigner-after-rotation.txt", "mrsigner1", false)]
    [InlineData("docs/claim-sets.mrsigner-after-rotation.txt", "mrsigner2", true)]
    public void Mrsigner_rotation_policies_accept_the_documented_signers(string file, string mrsigner, bool authorized)
    {
        var result = Compile(PolicyVectors.ReadPolicy(file)).Evaluate([B("x-ms-sgx-is-debuggable", false), S("x-ms-sgx-mrsigner", mrsigner)]);
        Assert.Equal(authorized, result.Authorized);
    }

    [Fact]
    public void Rotation_policies_reject_debuggable_enclaves_and_multiple_enclaves_policy_requires_them()
    {
        var debug = new[] { B("x-ms-sgx-is-debuggable", true), S("x-ms-sgx-mrsigner", "mrsigner1") };
        Assert.False(Compile(PolicyVectors.ReadPolicy("docs/claim-sets.mrsigner-during-rotation.txt")).Evaluate(debug).Authorized);
        Assert.True(Compile(PolicyVectors.ReadPolicy("docs/policy-examples.sgx-multiple-enclaves.txt")).Evaluate(debug).Authorized);
    }

    private static string IssuedJson(PolicyEvaluationResult result)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            PolicyJson.WriteClaimsObject(writer, result.Issued);
        }

        return ToJson(JsonDocument.Parse(stream.ToArray()).RootElement);
    }

    private static string ValueJson(ClaimValue value)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            PolicyJson.WriteValue(writer, value);
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Canonical form for comparison: keys sorted, compact.</summary>
    private static string ToJson(JsonElement element) =>
        JsonSerializer.Serialize(element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).ToDictionary(p => p.Name, p => p.Value));
}
