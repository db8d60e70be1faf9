using System.Text.Json;

namespace Veritee.Cli.Tests;

/// <summary><c>veritee audit list</c> against a real service: table, JSON, paging, filters, and one-line errors.</summary>
public sealed class AuditCliTests(CliServiceFixture service) : IClassFixture<CliServiceFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-audit-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private (int Exit, string Out, string Err) Admin(params string[] args) =>
        Run([.. args, "--endpoint", service.BaseUrl, "--admin-token", CliServiceFixture.AdminToken]);

    [Fact]
    public void Audit_list_shows_changes_and_refusals_as_a_table_or_json_and_pages()
    {
        const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"x-ms-sgx-svn\"] => issue(type=\"audit-cli\", value=c.value);};";
        var file = Path.Combine(_dir, "policy.txt");
        File.WriteAllText(file, Policy);
        Assert.Equal(0, Admin("policy", "set", "SgxEnclave", file, "--at", CliServiceFixture.At).Exit);
        var refused = Run("policy", "set", "SgxEnclave", file, "--endpoint", service.BaseUrl, "--admin-token", "wrong-token", "--at", CliServiceFixture.At);
        Assert.Equal(2, refused.Exit);
        Assert.Equal(0, Admin("policy", "reset", "SgxEnclave", "--at", CliServiceFixture.At).Exit);

        var table = Admin("audit", "list");
        Assert.True(table.Exit == 0, table.Out + table.Err);
        var lines = table.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ID", lines[0], StringComparison.Ordinal);
        Assert.Equal(4, lines.Length);
        Assert.Contains("policy.set", lines[1], StringComparison.Ordinal);
        Assert.Contains("succeeded", lines[1], StringComparison.Ordinal);
        Assert.Contains("refused Unauthorized", lines[2], StringComparison.Ordinal);
        Assert.Contains("invalid-bearer", lines[2], StringComparison.Ordinal);
        Assert.Contains("policy.reset", lines[3], StringComparison.Ordinal);
        Assert.DoesNotContain(CliServiceFixture.AdminToken, table.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("audit-cli", table.Out, StringComparison.Ordinal);

        var json = Admin("audit", "list", "--json", "--limit", "2");
        Assert.True(json.Exit == 0, json.Err);
        using (var document = JsonDocument.Parse(json.Out))
        {
            var value = document.RootElement.GetProperty("value");
            Assert.Equal(2, value.GetArrayLength());
            Assert.Equal("policy.set", value[0].GetProperty("operation").GetString());
            Assert.True(document.RootElement.TryGetProperty("nextLink", out _));
        }

        var next = json.Err.Trim().Split(' ')[^1];
        Assert.Contains("more records follow: continue with --after", json.Err, StringComparison.Ordinal);
        var rest = Admin("audit", "list", "--after", next, "--json");
        Assert.Equal(0, rest.Exit);
        using (var document = JsonDocument.Parse(rest.Out))
        {
            Assert.Equal("policy.reset", document.RootElement.GetProperty("value").EnumerateArray().Single().GetProperty("operation").GetString());
        }

        Assert.Equal("no audit records", Admin("audit", "list", "--since", "2100-01-01T00:00:00Z").Out.Trim());
    }

    [Theory]
    [InlineData("--limit", "0", "--limit")]
    [InlineData("--limit", "1001", "--limit")]
    [InlineData("--since", "yesterday", "--since")]
    [InlineData("--after", "-5", "--after")]
    public void Bad_input_is_one_line_and_exit_2(string option, string value, string named)
    {
        var (exit, output, error) = Admin("audit", "list", option, value);
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains(named, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_valid_admin_token_it_is_refused_with_exit_2()
    {
        var wrong = Run("audit", "list", "--endpoint", service.BaseUrl, "--admin-token", "wrong");
        Assert.Equal(2, wrong.Exit);
        Assert.Contains("401 Unauthorized", wrong.Err, StringComparison.Ordinal);
        Assert.Single(wrong.Err.Trim().Split('\n'));
    }
}
