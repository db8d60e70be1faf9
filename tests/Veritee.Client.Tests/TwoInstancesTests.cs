using Veritee.Tokens;

namespace Veritee.Client.Tests;

/// <summary>Two real services with different signing keys: tokens of one never pass as the other's.</summary>
public sealed class TwoInstancesTests : IAsyncLifetime
{
    private readonly ServiceFixture _a = new();
    private ServiceFixture? _impostor;
    private readonly OtherServiceFixture _b = new();

    private static byte[] Quote => File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"));

    public async Task InitializeAsync()
    {
        await _a.InitializeAsync();
        await _b.InitializeAsync();

        // A rogue service that claims to be A (its tokens carry A's issuer and jku) but holds its own key.
        _impostor = new ServiceFixture { ClaimedInstanceUrl = _a.BaseUrl };
        await _impostor.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        if (_impostor is not null)
        {
            await _impostor.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_token_of_instance_B_is_refused_by_a_client_pinned_to_A()
    {
        using var clientB = _b.Client();
        var tokenB = (await clientB.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = Quote })).Token.Text;

        using var clientA = _a.Client();
        var result = await clientA.ValidateTokenAsync(tokenB);
        Assert.Equal(MaaTokenFailure.JkuMismatch, result.Failure);
        Assert.Contains(_b.BaseUrl, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_impostor_claiming_As_issuer_and_jku_fails_on_the_unknown_kid_after_one_refresh()
    {
        var forged = await RawToken(_impostor!.BaseUrl);

        using var clientA = _a.Client();
        var result = await clientA.ValidateTokenAsync(forged);
        Assert.Equal(MaaTokenFailure.UnknownKid, result.Failure);
        Assert.Equal(1, clientA.SigningKeysFetchCount);

        // With keys already cached, the unknown kid triggers exactly one more fetch of A's /certs.
        result = await clientA.ValidateTokenAsync(forged);
        Assert.Equal(MaaTokenFailure.UnknownKid, result.Failure);
        Assert.Equal(2, clientA.SigningKeysFetchCount);

        // A's own token still validates with the same client.
        var genuine = await RawToken(_a.BaseUrl);
        Assert.True((await clientA.ValidateTokenAsync(genuine)).IsValid);
        Assert.Equal(2, clientA.SigningKeysFetchCount);
    }

    /// <summary>The token a service returns, read without any validation.</summary>
    private static async Task<string> RawToken(string baseUrl)
    {
        using var http = new HttpClient();
        var body = "{\"quote\":\"" + System.Buffers.Text.Base64Url.EncodeToString(Quote) + "\"}";
        using var response = await http.PostAsync(baseUrl + "/attest/SgxEnclave?api-version=2022-08-01", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }
}
