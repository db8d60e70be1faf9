using System.Globalization;
using Veritee.Dcap.Verification;

namespace Veritee.Dcap.Tests;

public class VectorCaseTests
{
    [Theory]
    [MemberData(nameof(VectorCase.All), MemberType = typeof(VectorCase))]
    public void Cold_verification_gives_the_expected_verdict(string id)
    {
        var c = VectorCase.Load(id);
        var result = QuoteVerifier.VerifyCold(c.Quote, c.Collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        AssertExpected(c, result);
    }

    [Theory]
    [MemberData(nameof(VectorCase.All), MemberType = typeof(VectorCase))]
    public void Warm_verification_gives_the_same_verdict_on_repeat(string id)
    {
        var c = VectorCase.Load(id);
        var verifier = new QuoteVerifier(new VerificationCache());
        var collateral = c.Collateral;
        var first = verifier.Verify(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        var second = verifier.Verify(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        AssertExpected(c, first);
        AssertExpected(c, second);
    }

    [Theory]
    [MemberData(nameof(VectorCase.All), MemberType = typeof(VectorCase))]
    public void Dcap_qvl_json_collateral_gives_the_same_verdict(string id)
    {
        var c = VectorCase.Load(id);
        var result = QuoteVerifier.VerifyCold(c.Quote, c.DcapQvlCollateral, TrustAnchor.IntelSgxRootCa, c.Time);
        AssertExpected(c, result);
    }

    [Theory]
    [MemberData(nameof(VectorCase.All), MemberType = typeof(VectorCase))]
    public void Status_value_is_intels_enum_position(string id)
    {
        var c = VectorCase.Load(id);
        var status = Enum.Parse<QvlStatus>(c.ExpectedStatus);
        Assert.Equal(c.Expected.GetProperty("qvl_status_value").GetInt32(), (int)status);
    }

    [Theory]
    [MemberData(nameof(VectorCase.Mutations), MemberType = typeof(VectorCase))]
    public void A_flipped_bit_gives_the_expected_failure(string id, int offset, string expectedStatus)
    {
        var c = VectorCase.Load(id);
        var quote = c.Quote;
        quote[offset] ^= 1;
        var cache = new VerificationCache();
        var verifier = new QuoteVerifier(cache);

        // Warm the cache with the genuine quote first: a memoised check must not hide the mutation.
        Assert.True(verifier.Verify(c.Quote, c.Collateral, TrustAnchor.IntelSgxRootCa, c.Time).IsVerified);
        var warm = verifier.Verify(quote, c.Collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        var cold = QuoteVerifier.VerifyCold(quote, c.Collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.Equal(expectedStatus, cold.Status.Name());
        Assert.Equal(expectedStatus, warm.Status.Name());
        Assert.False(cold.IsVerified);
    }

    [Theory]
    [MemberData(nameof(VectorCase.TimeEvaluations), MemberType = typeof(VectorCase))]
    public void Expiry_is_a_flag_beside_the_verdict(string id, string time, int expired, string tcbStatus)
    {
        var c = VectorCase.Load(id);
        var at = DateTimeOffset.Parse(time, CultureInfo.InvariantCulture);
        var result = QuoteVerifier.VerifyCold(c.Quote, c.Collateral, TrustAnchor.IntelSgxRootCa, at);
        Assert.Equal(tcbStatus, result.TcbStatus?.ToWireString());
        Assert.Equal(expired == 1, result.CollateralExpired);
    }

    [Fact]
    public void Every_vector_case_is_exercised()
    {
        Assert.Equal(27, VectorCase.All().Count);
    }

    private static void AssertExpected(VectorCase c, VerificationResult result)
    {
        Assert.True(c.ExpectedStatus == result.Status.Name(), $"{c.Id}: expected {c.ExpectedStatus}, got {result.Status.Name()} ({result.Detail})");
        Assert.Equal(c.ExpectedTcbStatus, result.TcbStatus?.ToWireString());
        Assert.Equal(c.ExpectedAdvisories, result.AdvisoryIds);
        if (c.Expected.TryGetProperty("collateral_expiration_status", out var e) && e.ValueKind == System.Text.Json.JsonValueKind.Number)
        {
            Assert.Equal(e.GetInt32() == 1, result.CollateralExpired);
        }
    }
}
