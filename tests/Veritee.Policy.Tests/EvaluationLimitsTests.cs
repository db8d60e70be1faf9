using System.Text;
using Xunit;
using static Veritee.Policy.Tests.TestPolicies;

namespace Veritee.Policy.Tests;

/// <summary>The evaluation budget: limits enforced while a policy runs, each named when exceeded.</summary>
public class EvaluationLimitsTests
{
    /// <summary>n rules that each double the mrsigner claims: 2^n claims without limits (issue 10).</summary>
    public static string DoublingPolicy(int n)
    {
        var text = new StringBuilder("version=1.0; authorizationrules { => permit(); }; issuancerules {\n");
        for (var i = 0; i < n; i++)
        {
            text.Append("  c:[type==\"x-ms-sgx-mrsigner\"] => add(type=\"x-ms-sgx-mrsigner\", value=c.value);\n");
        }

        return text.Append("};\n").ToString();
    }

    /// <summary>n rules that each double a string with AppendString (policy version 1.2).</summary>
    public static string StringDoublingPolicy(int n)
    {
        var text = new StringBuilder("version=1.2; authorizationrules { => permit(); }; issuancerules {\n  => add(type=\"s0\", value=\"0123456789abcdef\");\n");
        for (var i = 0; i < n; i++)
        {
            text.Append($"  c:[type==\"s{i}\"] => add(type=\"s{i + 1}\", value=AppendString(c.value, c.value));\n");
        }

        return text.Append("};\n").ToString();
    }

    private static CompiledPolicy Compile(string text) => CompiledPolicy.Compile(PolicyParser.Parse(text).Document!);

    private static PolicyLimitExceededException Exceeds(string text, PolicyEvaluationLimits limits, params PolicyClaim[] claims) =>
        Assert.Throws<PolicyLimitExceededException>(() => Compile(text).Evaluate(claims, limits));

    [Fact]
    public void Doubling_policy_stops_at_the_claim_limit_with_little_memory()
    {
        var policy = Compile(DoublingPolicy(24));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<PolicyLimitExceededException>(() => policy.Evaluate([S("x-ms-sgx-mrsigner", "4aea5f9a")]));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(nameof(PolicyEvaluationLimits.MaxClaims), e.Limit);
        Assert.Equal(2_000, e.Value);
        Assert.Contains("MaxClaims = 2000", e.Message, StringComparison.Ordinal);
        Assert.Equal(12, e.Line); // the rule that crossed it: the 11th doubling (2^11 > 2,000), on line 2 + 10
        Assert.True(allocated < 8 * 1024 * 1024, $"{allocated} bytes allocated");
    }

    [Fact]
    public void String_doubling_stops_at_the_string_limit_before_allocating_the_string()
    {
        var e = Exceeds(StringDoublingPolicy(40), PolicyEvaluationLimits.Default);
        Assert.Equal(nameof(PolicyEvaluationLimits.MaxStringLength), e.Limit);
        Assert.Equal(32_768, e.Value);
    }

    [Fact]
    public void Claim_bytes_are_limited()
    {
        var e = Exceeds(StringDoublingPolicy(12), new PolicyEvaluationLimits { MaxClaimBytes = 64 * 1024 });
        Assert.Equal(nameof(PolicyEvaluationLimits.MaxClaimBytes), e.Limit);
        Assert.Contains("MaxClaimBytes = 65536", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Issued_claims_are_limited()
    {
        var text = "version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"a\", value=1); => issueproperty(type=\"b\", value=2); => issue(type=\"c\", value=3); };";
        var within = Compile(text).Evaluate([], new PolicyEvaluationLimits { MaxIssuedClaims = 3 });
        Assert.Equal(3, within.Issued.Count + within.Properties.Count);
        var e = Exceeds(text, new PolicyEvaluationLimits { MaxIssuedClaims = 2 });
        Assert.Equal(nameof(PolicyEvaluationLimits.MaxIssuedClaims), e.Limit);
        Assert.Equal((1, text.IndexOf("=> issue(type=\"c\"", StringComparison.Ordinal) + 1), (e.Line, e.Column));
    }

    [Fact]
    public void Steps_are_limited()
    {
        // 200 claims tested by 30 conditions: 6,000 steps.
        var text = "version=1.0; authorizationrules { => permit(); }; issuancerules { " + string.Concat(Enumerable.Repeat("[type==\"none\"] => add(type=\"a\", value=1); ", 30)) + "};";
        var claims = Enumerable.Range(0, 200).Select(i => I("n", i)).ToArray();
        Assert.True(Compile(text).Evaluate(claims, new PolicyEvaluationLimits { MaxSteps = 7_000 }).Authorized);
        var e = Exceeds(text, new PolicyEvaluationLimits { MaxSteps = 5_000 }, claims);
        Assert.Equal(nameof(PolicyEvaluationLimits.MaxSteps), e.Limit);
        Assert.Equal(5_000, e.Value);
    }

    [Fact]
    public void Quadratic_label_comparisons_count_as_steps()
    {
        // Every claim of c2 is compared with every claim of c1: 10,000 comparisons in one rule.
        var text = "version=1.0; authorizationrules { c1:[type==\"n\"] && c2:[type==\"n\", value==c1.value] => permit(); };";
        var claims = Enumerable.Range(0, 100).Select(i => I("n", i)).ToArray();
        Assert.True(Compile(text).Evaluate(claims, new PolicyEvaluationLimits { MaxSteps = 20_000 }).Authorized);
        Assert.Equal(nameof(PolicyEvaluationLimits.MaxSteps), Exceeds(text, new PolicyEvaluationLimits { MaxSteps = 9_000 }, claims).Limit);
    }

    [Fact]
    public void Set_elements_are_limited()
    {
        var text = "version=1.2; authorizationrules { => permit(); }; issuancerules { => add(type=\"s\", value=JsonToClaimValue(\"[1,2,3,4]\")); };";
        Assert.True(Compile(text).Evaluate([], new PolicyEvaluationLimits { MaxSetElements = 4 }).Authorized);
        Assert.Equal(nameof(PolicyEvaluationLimits.MaxSetElements), Exceeds(text, new PolicyEvaluationLimits { MaxSetElements = 3 }).Limit);
    }

    [Fact]
    public void Incoming_claims_count_towards_the_claim_limit()
    {
        var claims = Enumerable.Range(0, 11).Select(i => I("n", i)).ToArray();
        Assert.Equal(nameof(PolicyEvaluationLimits.MaxClaims), Exceeds("version=1.0; authorizationrules { => permit(); };", new PolicyEvaluationLimits { MaxClaims = 10 }, claims).Limit);
    }

    [Fact]
    public void A_cancelled_evaluation_stops()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => Compile(DoublingPolicy(3)).Evaluate([S("x-ms-sgx-mrsigner", "a")], PolicyEvaluationLimits.Default, cancelled.Token));
    }

    [Fact]
    public void Cancellation_is_checked_during_a_long_evaluation()
    {
        // About 10 million steps without a step limit; cancelled from another thread as soon as it starts.
        var text = "version=1.0; authorizationrules { => permit(); }; issuancerules { " + string.Concat(Enumerable.Repeat("[type==\"none\"] => add(type=\"a\", value=1); ", 2000)) + "};";
        var claims = Enumerable.Range(0, 5000).Select(i => I("n", i)).ToArray();
        var policy = Compile(text);
        using var source = new CancellationTokenSource();
        var limits = new PolicyEvaluationLimits { MaxSteps = long.MaxValue, MaxClaims = int.MaxValue };
        using var started = new ManualResetEventSlim();
        var task = Task.Run(() =>
        {
            started.Set();
            return policy.Evaluate(claims, limits, source.Token);
        });
        started.Wait();
        source.Cancel();
        var e = Assert.ThrowsAny<OperationCanceledException>(() => task.GetAwaiter().GetResult());
        Assert.Equal(source.Token, e.CancellationToken);
    }

    [Fact]
    public void Exponential_jmespath_queries_are_refused_before_they_run()
    {
        var query = "@" + string.Concat(Enumerable.Repeat(" | [@,@]", 30));
        var result = Evaluate("version=1.2; authorizationrules { => permit(); }; issuancerules { => issue(type=\"j\", value=JmesPath(\"[1]\", \"" + query + "\")); };");
        Assert.True(result.IsError);
        Assert.Contains("could grow its input 1073741824-fold", result.Reason, StringComparison.Ordinal);
        var pad = Evaluate("version=1.2; authorizationrules { => permit(); }; issuancerules { => issue(type=\"j\", value=JmesPath(\"\\\"a\\\"\", \"pad_left(@, `100000000`)\")); };");
        Assert.True(pad.IsError);
        Assert.Contains("pad_left() is not evaluated", pad.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Jmespath_output_is_bounded_while_it_is_written()
    {
        var text = "version=1.2; authorizationrules { => permit(); }; issuancerules { => issue(type=\"j\", value=JmesPath(\"[\\\"0123456789\\\"]\", \"[@,@,@,@]\")); };";
        Assert.Equal("[[\"0123456789\"],[\"0123456789\"],[\"0123456789\"],[\"0123456789\"]]", Compile(text).Evaluate([]).Issued[0].Value.AsString);
        Assert.Equal(nameof(PolicyEvaluationLimits.MaxStringLength), Exceeds(text, new PolicyEvaluationLimits { MaxStringLength = 40 }).Limit);
    }

    [Fact]
    public void Published_jmespath_queries_are_within_the_growth_bound()
    {
        foreach (var query in new[]
        {
            "Events[? EventTypeString == 'EV_EVENT_TAG' && PcrIndex == `20` && ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_DRTM_STATE_AUTH.SignatureValid != `null`] | length(@) == `1` && @[0] | @.{EventSeq:EventSeq, SignatureValid:ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_DRTM_STATE_AUTH.SignatureValid}",
            "[?ProcessedData.UnicodeName == 'SecureBoot'] | length(@) == `1` && @[0].ProcessedData.VariableData == 'AQ'",
            "PCRs[? Index == `0`].Digests.SHA256 | @[0] =='4c833b1c361fceffd8dc0f81eec76081b71e1a0eb2193caed0b6e1c7735ec33e' ",
        })
        {
            Assert.InRange(PolicyFunctions.JmesPathGrowth(query, out var refused), 1, PolicyFunctions.MaxJmesPathGrowth);
            Assert.Null(refused);
        }
    }

    [Fact]
    public void Every_vector_policy_evaluates_untouched_within_the_default_limits()
    {
        var token = PolicyVectors.TokenBody(Directory.GetFiles(Path.Combine(PolicyVectors.Root, "sdk-cpp-2022", "tokens")).Select(Path.GetFileName).First(f => f!.Contains("sgx", StringComparison.OrdinalIgnoreCase))!);
        var claims = PolicyVectors.SgxIncomingClaims(token);
        var unlimited = new PolicyEvaluationLimits { MaxClaims = int.MaxValue, MaxClaimBytes = long.MaxValue, MaxIssuedClaims = int.MaxValue, MaxSetElements = int.MaxValue, MaxStringLength = int.MaxValue, MaxSteps = long.MaxValue };
        var evaluated = 0;
        foreach (var file in PolicyVectors.AllPolicyFiles())
        {
            var text = PolicyVectors.ReadPolicy(file);
            if (text.TrimStart().StartsWith("eyJ", StringComparison.Ordinal))
            {
                text = PolicyVectors.PolicyFromJws(file);
            }

            if (PolicyParser.Parse(text).Document is not { } document)
            {
                continue;
            }

            var policy = CompiledPolicy.Compile(document);
            var within = policy.Evaluate(claims);
            var free = policy.Evaluate(claims, unlimited);
            Assert.Equal((free.Authorized, free.IsError, free.Reason), (within.Authorized, within.IsError, within.Reason));
            Assert.Equal(free.Issued, within.Issued);
            evaluated++;
        }

        Assert.True(evaluated >= 25, $"{evaluated} policies evaluated");
    }
}
