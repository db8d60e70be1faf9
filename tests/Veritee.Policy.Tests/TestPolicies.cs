namespace Veritee.Policy.Tests;

internal static class TestPolicies
{
    public static CompiledPolicy Compile(string text)
    {
        var result = PolicyParser.Parse(text);
        if (!result.Success)
        {
            throw new InvalidOperationException("test policy does not parse:\n" + string.Join("\n", result.Diagnostics));
        }

        return CompiledPolicy.Compile(result.Document!);
    }

    public static PolicyEvaluationResult Evaluate(string text, params PolicyClaim[] claims) => Compile(text).Evaluate(claims);

    public static PolicyClaim S(string type, string value) => PolicyClaim.Service(type, ClaimValue.FromString(value));

    public static PolicyClaim I(string type, long value) => PolicyClaim.Service(type, ClaimValue.FromInteger(value));

    public static PolicyClaim B(string type, bool value) => PolicyClaim.Service(type, ClaimValue.FromBoolean(value));

    public static List<(string Type, ClaimValue Value)> Pairs(IEnumerable<PolicyClaim> claims) => claims.Select(c => (c.Type, c.Value)).ToList();

    public static ClaimValue Str(string value) => ClaimValue.FromString(value);

    public static ClaimValue Int(long value) => ClaimValue.FromInteger(value);

    public static ClaimValue Bool(bool value) => ClaimValue.FromBoolean(value);
}
