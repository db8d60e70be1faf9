using System.Text.RegularExpressions;
using Xunit;

namespace Veritee.Policy.Tests;

/// <summary>The policies docs/policy.md shows are policies: each parses without an error or a warning.</summary>
public sealed partial class PolicyDocTests
{
    [Fact]
    public void Every_policy_in_docs_policy_md_parses()
    {
        var text = File.ReadAllText(Path.Combine(PolicyVectors.Root, "..", "..", "..", "docs", "policy.md"));
        var policies = CodeBlock().Matches(text).Select(m => m.Groups["body"].Value).Where(b => b.TrimStart().StartsWith("version", StringComparison.Ordinal)).ToList();

        Assert.True(policies.Count >= 3, $"found {policies.Count} policies in docs/policy.md");
        foreach (var policy in policies)
        {
            var parsed = PolicyParser.Parse(policy);
            Assert.True(parsed.Document is not null && parsed.Diagnostics.Count == 0, policy + "\n" + string.Join("\n", parsed.Diagnostics.Select(e => e.ToMaaText())));
        }
    }

    [GeneratedRegex("```\\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();
}
