using System.Text.Json.Nodes;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>Where tokens say they come from: the bound port, the node's own address, never "any interface".</summary>
public sealed class InstanceUrlTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "veritee-instance-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }

    /// <summary>As <c>veritee serve --urls URL</c> without <c>--instance-url</c> configures it.</summary>
    private ServiceOptions FromListen(string url) => new()
    {
        InstanceUrl = url,
        InstanceUrlFromListenAddress = true,
        DataDirectory = _data,
        AdminToken = "t",
        CollateralDirectory = Vectors.DcapCase("sgx-v3-oe-envelope-legacy-root-2022-05"),
    };

    private static async Task<(string Issuer, string Url, JsonObject Token)> StartAndAttest(ServiceOptions options, string urls)
    {
        var app = await VeriteeServer.BuildAsync(options, urls, new FixedClock(ServiceFixture.PinnedTime));
        await using (app.ConfigureAwait(false))
        {
            await app.StartAsync();
            var bound = app.Urls.Single();
            using var http = new HttpClient();
            var issuer = JsonNode.Parse(await http.GetStringAsync(bound + "/.well-known/openid-configuration"))!["issuer"]!.GetValue<string>();
            var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
            using var response = await http.PostAsync(bound + "/attest/SgxEnclave?api-version=2022-08-01", new StringContent("{\"quote\":\"" + quote + "\"}"));
            var token = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["token"]!.GetValue<string>();
            var claims = Jwt.Claims(token);
            claims["jku"] = Jwt.Header(token)["jku"]!.GetValue<string>();
            await app.StopAsync();
            return (issuer, bound, claims);
        }
    }

    [Fact]
    public async Task Port_0_is_resolved_to_the_bound_port_in_iss_jku_and_the_metadata()
    {
        var (issuer, bound, token) = await StartAndAttest(FromListen("http://127.0.0.1:0"), "http://127.0.0.1:0");
        Assert.DoesNotContain(":0", bound, StringComparison.Ordinal);
        Assert.Equal(bound, issuer);
        Assert.Equal(bound, token["iss"]!.GetValue<string>());
        Assert.Equal(bound + "/certs", token["jku"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_single_node_on_its_own_data_folder_follows_its_address_across_restarts()
    {
        // A configured instance URL stays bound to the store's key.
        var named = FromListen(Loopback.HttpUrl()) with { InstanceUrl = "https://attest.example", InstanceUrlFromListenAddress = false };
        Assert.Equal("https://attest.example", (await StartAndAttest(named, Loopback.HttpUrl())).Token["iss"]!.GetValue<string>());
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAndAttest(named with { InstanceUrl = "https://other.example" }, Loopback.HttpUrl()));
        Assert.Contains("--instance-url https://attest.example", e.Message, StringComparison.Ordinal);

        // Its listen address, when that is the instance URL, is followed: another port after a restart, or port 0.
        var first = Loopback.HttpUrl();
        Assert.Equal(first, (await StartAndAttest(FromListen(first), first)).Token["iss"]!.GetValue<string>());
        var second = Loopback.HttpUrl();
        Assert.Equal(second, (await StartAndAttest(FromListen(second), second)).Token["iss"]!.GetValue<string>());
        var (_, bound, token) = await StartAndAttest(FromListen("http://127.0.0.1:0"), "http://127.0.0.1:0");
        Assert.Equal(bound, token["iss"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("http://0.0.0.0:5080")]
    [InlineData("http://[::]:5080")]
    [InlineData("http://*:5080")]
    [InlineData("http://+:5080")]
    public void An_unspecified_listen_address_is_no_instance_url(string url)
    {
        var e = Assert.Throws<ArgumentException>(() => VeriteeServer.Validate(FromListen(url), url));
        Assert.Contains("--instance-url", e.Message, StringComparison.Ordinal);
        Assert.Contains("0.0.0.0", Assert.Throws<ArgumentException>(() => VeriteeServer.Validate(FromListen(url) with { InstanceUrl = "http://0.0.0.0:5080", InstanceUrlFromListenAddress = false }, url)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => VeriteeServer.Validate(FromListen(url) with { InstanceUrl = "http://[::]:5080", InstanceUrlFromListenAddress = false }, url));
        VeriteeServer.Validate(FromListen(url) with { InstanceUrl = "https://attest.example", InstanceUrlFromListenAddress = false }, url);
    }

    [Theory]
    [InlineData("htp://127.0.0.1:5080")]
    [InlineData("http//127.0.0.1:5080")]
    [InlineData("http://127.0.0.1:650800")]
    [InlineData("http://127.0.0.1:5080/path")]
    [InlineData("http://localhost:0")]
    [InlineData("127.0.0.1:5080")]
    public async Task A_bad_listen_address_is_refused_before_anything_is_written(string url)
    {
        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => VeriteeServer.BuildAsync(FromListen(url), url));
        Assert.Contains("--urls", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_data));
    }
}
