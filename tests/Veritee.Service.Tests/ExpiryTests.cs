using System.Net;

namespace Veritee.Service.Tests;

/// <summary>A separate service whose clock is past the collateral's nextUpdate.</summary>
public class ExpiryTests : IAsyncLifetime
{
    private readonly ServiceFixture _service = new();

    public async Task InitializeAsync()
    {
        await _service.InitializeAsync();
        _service.Clock.Now = ServiceFixture.PinnedTime.AddDays(60);
    }

    public Task DisposeAsync() => _service.DisposeAsync();

    [Fact]
    public async Task Stale_collateral_fails_closed()
    {
        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        var (status, body) = await _service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2020-10-01", $$"""{"quote":"{{quote}}"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("collateral", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
