using System.Text.Json;
using Veritee.Service;
using Veritee.TestSupport;

namespace Veritee.Cli.Tests;

/// <summary><c>bench http</c>: the same GET load against several bases in one run, each peer as a ratio to the first.</summary>
public sealed class BenchHttpCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-bench-http-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Bench_http_measures_every_base_and_gives_peers_as_ratios()
    {
        await using var first = await Start("a");
        await using var second = await Start("b");

        var (exit, output, error) = Run("bench", "http", first.Url, second.Url, "--path", "/certs", "--path", "/.well-known/openid-configuration",
            "--concurrency", "2", "--seconds", "0.3", "--rounds", "1", "--json");

        Assert.True(exit == 0, output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.Equal(new Uri(first.Url).ToString(), lines[0].GetProperty("base").GetString());
        Assert.Equal(JsonValueKind.Null, lines[0].GetProperty("ratio").ValueKind);
        foreach (var line in lines)
        {
            Assert.True(line.GetProperty("requests").GetInt64() > 0);
            Assert.Equal(0, line.GetProperty("errors").GetInt64());
            Assert.True(line.GetProperty("p99Ms").GetDouble() >= line.GetProperty("p50Ms").GetDouble());
        }

        var expected = lines[0].GetProperty("requestsPerSecond").GetDouble() / lines[1].GetProperty("requestsPerSecond").GetDouble();
        Assert.Equal(expected, lines[1].GetProperty("ratio").GetDouble(), 2);
        Assert.Equal(new Uri(first.Url).ToString(), lines[1].GetProperty("peerOf").GetString());
    }

    [Fact]
    public async Task Bench_http_refuses_a_path_that_does_not_answer_200()
    {
        await using var service = await Start("c");

        var (exit, _, error) = Run("bench", "http", service.Url, "--path", "/no/such/route", "--seconds", "0.2", "--rounds", "1");

        Assert.Equal(1, exit);
        Assert.Contains("/no/such/route answered 404", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1/", "is not an http(s) URL")]
    [InlineData("http://127.0.0.1:1", "--path must be given")]
    public void Bench_http_refuses_bad_arguments_in_one_line(string url, string message)
    {
        var args = message.StartsWith("--path", StringComparison.Ordinal)
            ? new[] { "bench", "http", url, "--path", "relative", "--seconds", "0.2" }
            : new[] { "bench", "http", url, "--path", "/x" };

        var (exit, _, error) = Run(args);

        Assert.Equal(2, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Bench_http_reports_an_unreachable_base_without_a_stack_trace()
    {
        var (exit, _, error) = Run("bench", "http", Loopback.HttpUrl(), "--path", "/certs", "--seconds", "0.2", "--rounds", "1");

        Assert.Equal(1, exit);
        Assert.DoesNotContain("unexpected error", error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private async Task<RunningApp> Start(string name)
    {
        var url = Loopback.HttpUrl();
        var app = await VeriteeServer.BuildAsync(new ServiceOptions { InstanceUrl = url, DataDirectory = Path.Combine(_dir, name) }, url);
        await app.StartAsync();
        return new RunningApp(app, url);
    }

    private static (int Exit, string Output, string Error) Run(params string[] args) => CliRun.Run(args);

    private sealed record RunningApp(Microsoft.AspNetCore.Builder.WebApplication App, string Url) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}
