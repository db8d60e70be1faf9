using System.Text.Json;
using System.Text.Json.Nodes;
using Veritee.Policy;

namespace Veritee.Service.Tests;

/// <summary>The policy's issued claims in the token (<c>x-ms-policy</c>) are what the policy language's JSON writer says.</summary>
public sealed class IssuedObjectTests
{
    public static TheoryData<string> Cases => new()
    {
        "",
        "s=a",
        "s=a;i=5;b=true",
        "s=a;s=b",
        "s=a;s=b;s=c;i=-1",
        "set={x,2,false};set={y}",
        "set={x,2}",
        "quote=\"</script>+/\\u00e9\";i=9223372036854775807",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Issued_claims_serialise_as_the_policy_writer_writes_them(string spec)
    {
        var claims = Parse(spec);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            PolicyJson.WriteClaimsObject(writer, claims);
        }

        var expected = CanonicalJson.SerializeToString(JsonNode.Parse(stream.ToArray()));
        Assert.Equal(expected, CanonicalJson.SerializeToString(AttestationEngine.IssuedObject(claims)));
    }

    /// <summary>"type=value;..." where a value is a string, a number, true/false or {a,b} (a set).</summary>
    private static List<PolicyClaim> Parse(string spec) => spec.Split(';', StringSplitOptions.RemoveEmptyEntries)
        .Select(part => part.Split('=', 2))
        .Select(kv => PolicyClaim.Service(kv[0], Value(kv[1])))
        .ToList();

    private static ClaimValue Value(string text) => text switch
    {
        "true" or "false" => ClaimValue.FromBoolean(text == "true"),
        _ when text.StartsWith('{') => ClaimValue.FromSet(text[1..^1].Split(',').Select(Value)),
        _ when long.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var n) => ClaimValue.FromInteger(n),
        _ => ClaimValue.FromString(System.Text.RegularExpressions.Regex.Unescape(text.Trim('"'))),
    };
}
