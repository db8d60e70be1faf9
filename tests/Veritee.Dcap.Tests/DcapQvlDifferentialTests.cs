using System.Text.Json;
using Veritee.Dcap.Verification;
using Veritee.TestSupport;

namespace Veritee.Dcap.Tests;

/// <summary>
/// Runs Phala's <c>@phala/dcap-qvl</c> 0.3.9 (npm, tests/compat/dcap-qvl) on every vector case once and holds its
/// answers. The pinned packages come from tools/install-test-prereqs.sh; fails (never skips) without them or without Node.
/// </summary>
public sealed class DcapQvlRun
{
    public DcapQvlRun()
    {
        var folder = ProcessRunner.CompatSuite("dcap-qvl", Path.Combine("@phala", "dcap-qvl"));
        var output = ProcessRunner.Run("node", "verify-cases.mjs", folder);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            Results[doc.RootElement.GetProperty("case").GetString()!] = doc.RootElement.Clone();
        }
    }

    public Dictionary<string, JsonElement> Results { get; } = [];
}

public class DcapQvlDifferentialTests(DcapQvlRun peer) : IClassFixture<DcapQvlRun>
{
    public static TheoryData<string> AgreeingCases()
    {
        var data = new TheoryData<string>();
        foreach (var id in Vectors.DcapCaseIds())
        {
            if (ShouldAgree(VectorCase.Load(id)))
            {
                data.Add(id);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AgreeingCases))]
    public void Veritee_and_dcap_qvl_agree_where_the_vectors_say_they_should(string id)
    {
        var c = VectorCase.Load(id);
        var ours = QuoteVerifier.VerifyCold(c.Quote, c.DcapQvlCollateral, TrustAnchor.IntelSgxRootCa, c.Time);
        var theirs = peer.Results[id];
        var theyVerified = theirs.GetProperty("ok").GetBoolean();
        Assert.Equal(theyVerified, ours.IsVerified);
        if (theyVerified)
        {
            Assert.Equal(theirs.GetProperty("status").GetString(), ours.TcbStatus?.ToWireString());
            Assert.Equal(theirs.GetProperty("advisoryIds").EnumerateArray().Select(a => a.GetString()), ours.AdvisoryIds);
        }
    }

    [Fact]
    public void Most_cases_are_compared()
    {
        // 19 of 27 cases today: the rest are the documented divergences (TCB Info v2, TDX module SVN, CRL of the other CA).
        Assert.True(AgreeingCases().Count >= 18, $"only {AgreeingCases().Count} agreeing cases");
        Assert.Equal(Vectors.DcapCaseIds().Count, peer.Results.Count);
    }

    /// <summary>The stored cross-check of dcap-qvl 0.3.9 equals Intel QVL's expectation (same verdict and advisories, or both reject).</summary>
    private static bool ShouldAgree(VectorCase c)
    {
        var cross = c.Expected.GetProperty("cross_check_phala_dcap_qvl_js_0_3_9_on_these_files").GetProperty("policy_checks_disabled").GetString()!;
        var verified = Enum.Parse<QvlStatus>(c.ExpectedStatus).IsVerified();
        return verified
            ? cross == $"{c.ExpectedTcbStatus} {JsonSerializer.Serialize(c.ExpectedAdvisories)}"
            : cross.StartsWith("ERROR", StringComparison.Ordinal);
    }
}
