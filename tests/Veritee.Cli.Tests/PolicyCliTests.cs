using System.Text.Json;

namespace Veritee.Cli.Tests;

public sealed class PolicyCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-policy-cli").FullName;

    private static string Policies { get; } = FindPolicies();

    private static string DefaultPolicy => Path.Combine(Policies, "service-defaults", "sgx-openenclave-default.2022-05-31.wus.txt");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string SgxClaims() => Write("claims.json", """
        [
          {"type": "x-ms-sgx-is-debuggable", "value": true},
          {"type": "x-ms-sgx-mrsigner", "value": "4aea5f9a0ed04b11f889aadfe6a1d376213a29a95a85ce7337ae6f7fece6610c"},
          {"type": "x-ms-sgx-mrenclave", "value": "292a1f4b519e46627eb2478a3d9851405653c5b4b0a6925de843834d9216850e"},
          {"type": "x-ms-sgx-product-id", "value": 1},
          {"type": "x-ms-sgx-svn", "value": 1},
          {"type": "x-ms-attestation-type", "value": "sgx", "issuer": "AttestationService"}
        ]
        """);

    [Theory]
    [InlineData("claims", "MaxClaims = 2000")]
    [InlineData("string", "MaxStringLength = 32768")]
    public void Eval_of_a_policy_over_its_budget_exits_2_with_one_line(string kind, string limit)
    {
        // Before: 2^24 claims (or a 2^40-character string) until "Out of memory", exit 134.
        var text = new System.Text.StringBuilder(kind == "claims"
            ? "version=1.0; authorizationrules { => permit(); }; issuancerules {\n"
            : "version=1.2; authorizationrules { => permit(); }; issuancerules {\n  => add(type=\"s0\", value=\"0123456789abcdef\");\n");
        for (var i = 0; i < (kind == "claims" ? 24 : 40); i++)
        {
            text.Append(kind == "claims"
                ? "  c:[type==\"x-ms-sgx-mrsigner\"] => add(type=\"x-ms-sgx-mrsigner\", value=c.value);\n"
                : $"  c:[type==\"s{i}\"] => add(type=\"s{i + 1}\", value=AppendString(c.value, c.value));\n");
        }

        var policy = Write("budget.txt", text.Append("};\n").ToString());
        var claims = Write("short.json", """[{"type": "x-ms-sgx-mrsigner", "value": "4aea5f9a"}]""");
        var (exit, output, error) = Run("policy", "eval", policy, "--claims", claims);
        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, output);
        var lines = error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Single(lines);
        Assert.Contains("policy evaluation exceeded the limit " + limit, lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Check_valid_policy_exits_0_with_a_summary()
    {
        var (exit, output, _) = Run("policy", "check", DefaultPolicy);
        Assert.Equal(0, exit);
        Assert.EndsWith(": OK, version 1.0; authorizationrules: 1 rule; issuancerules: 6 rules; 0 warnings.\n", output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_bad_policy_exits_1_with_located_diagnostics_and_a_caret()
    {
        var path = Write("bad.txt", "version=1.0;\nauthorizationrules {\n  => permit()\n};\n");
        var (exit, output, _) = Run("policy", "check", path);
        Assert.Equal(1, exit);
        var lines = output.ReplaceLineEndings("\n").Split('\n');
        Assert.Equal($"{path}:4:1: error PolicyParsingError: mismatched input '}}' expecting ';'", lines[0]);
        Assert.Equal(" 4 | };", lines[1]);
        Assert.Equal("   | ^", lines[2]);
        Assert.Contains("1 error; policy rejected (PolicyParsingError).", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_default_policy_prints_the_json_contract_and_exits_0()
    {
        var (exit, output, _) = Run("policy", "eval", DefaultPolicy, "--claims", SgxClaims(), "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("authorized").GetBoolean());
        var issued = root.GetProperty("issued");
        Assert.True(issued.GetProperty("is-debuggable").GetBoolean());
        Assert.Equal(1, issued.GetProperty("product-id").GetInt32());
        Assert.Equal("sgx", issued.GetProperty("tee").GetString());
        Assert.Equal(6, issued.EnumerateObject().Count());
        Assert.Empty(root.GetProperty("properties").EnumerateObject());
        Assert.Equal("A Permit claim was issued and no Deny claim.", root.GetProperty("reason").GetString());
    }

    [Fact]
    public void Eval_denied_exits_1_with_MAAs_reason()
    {
        var (exit, output, _) = Run("policy", "eval", Path.Combine(Policies, "sdk-tests", "cpp.draft-policy.deny.txt"), "--claims", SgxClaims());
        Assert.Equal(1, exit);
        Assert.Contains("denied", output, StringComparison.Ordinal);
        Assert.Contains("No Permit claim was issued in the authorizationrules section, authorization failed.", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_issues_arrays_for_repeated_types()
    {
        var policy = Write("p.txt", "version=1.0; authorizationrules { => permit(); }; issuancerules { c:[type==\"m\"] => issue(type=\"out\", value=c.value); };");
        var claims = Write("c.json", "[{\"type\":\"m\",\"value\":[1,2]}]");
        var (exit, output, _) = Run("policy", "eval", policy, "--claims", claims, "--json");
        Assert.Equal(0, exit);
        Assert.Contains("\"issued\":{\"out\":[1,2]}", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"type\":\"a\"}", "claims: expected a JSON array")]
    [InlineData("[{\"type\":\"a\",\"value\":1.5}]", "claims[0].value: 1.5 is not a 64-bit integer")]
    [InlineData("[{\"type\":\"a\"}]", "claims[0]: missing \"value\"")]
    [InlineData("[{\"type\":\"a\",\"value\":1,\"vaule\":2}]", "claims[0]: unknown property 'vaule'")]
    [InlineData("[", "claims: invalid JSON")]
    public void Eval_bad_claims_exit_2_with_a_specific_message(string json, string message)
    {
        var (exit, _, error) = Run("policy", "eval", DefaultPolicy, "--claims", Write("c.json", json));
        Assert.Equal(2, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_policy_with_errors_exits_2_and_prints_diagnostics_to_stderr()
    {
        var (exit, output, error) = Run("policy", "eval", Write("p.txt", "version=1.0; authorizationrules { => permit() };"), "--claims", SgxClaims());
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains("1:47: error PolicyParsingError: mismatched input '}' expecting ';'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_evaluation_error_exits_2()
    {
        var policy = Write("p.txt", "version=1.2; authorizationrules { c:[type==\"j\"] => add(type=\"x\", value=JsonToClaimValue(c.value)); => permit(); };");
        var (exit, output, _) = Run("policy", "eval", policy, "--claims", Write("c.json", "[{\"type\":\"j\",\"value\":\"{oops\"}]"), "--json");
        Assert.Equal(2, exit);
        Assert.Contains("\"error\":true", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_file_exits_2()
    {
        var (exit, _, error) = Run("policy", "check", Path.Combine(_dir, "absent.txt"));
        Assert.Equal(2, exit);
        Assert.Contains("absent.txt", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_policy_reports_the_json_shape()
    {
        var (exit, output, _) = Run("bench", "policy", DefaultPolicy, "--claims", SgxClaims(), "--seconds", "0.2", "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("policy", root.GetProperty("mode").GetString());
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        Assert.True(root.GetProperty("operations").GetInt64() > 0);
        Assert.True(root.GetProperty("opsPerSecond").GetDouble() > 0);

        // Policy evaluation has no cryptographic floor: said explicitly, with no floor rate or ratio to misread.
        Assert.Equal(JsonValueKind.Null, root.GetProperty("floor").ValueKind);
        Assert.False(root.TryGetProperty("floorPerSecond", out _));
        Assert.False(root.TryGetProperty("ratio", out _));
    }

    private static string FindPolicies()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "vectors", "maa", "policies");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("tests/vectors/maa/policies not found");
    }
}
