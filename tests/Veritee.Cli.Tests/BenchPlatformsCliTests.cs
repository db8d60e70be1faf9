using System.Text.Json;

namespace Veritee.Cli.Tests;

/// <summary><c>bench platforms</c>: attestations across many simulated platforms under one root, per platform count.</summary>
public sealed class BenchPlatformsCliTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void Every_platform_count_gets_a_row_with_rates_memory_and_the_rs256_floor()
    {
        var (exit, output, error) = Run("bench", "platforms", "--counts", "1,3", "--concurrency", "2", "--seconds", "0.3", "--json");
        Assert.True(exit == 0, output + error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l)).ToList();
        Assert.Equal([1, 3], rows.Select(r => r.RootElement.GetProperty("platforms").GetInt32()));
        foreach (var row in rows)
        {
            var root = row.RootElement;
            Assert.Equal(0, root.GetProperty("errors").GetInt64());
            Assert.True(root.GetProperty("firstSightPerSecond").GetDouble() > 0);
            Assert.True(root.GetProperty("workingSetMiB").GetDouble() > 0);
            Assert.True(root.TryGetProperty("heapPerPlatformKiB", out _));
            VerifyCliTests.AssertFloor(root, "rs256-sign", "attestationsPerSecond");
            row.Dispose();
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1,x")]
    [InlineData("100001")]
    public void A_count_outside_1_to_100000_is_a_usage_error(string counts)
    {
        var (exit, output, error) = Run("bench", "platforms", "--counts", counts);
        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, output);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--counts", error, StringComparison.Ordinal);
    }
}
