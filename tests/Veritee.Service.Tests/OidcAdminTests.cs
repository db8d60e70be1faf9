using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>A minimal OpenID Connect authority on loopback: metadata and a JWKS with one RSA key.</summary>
public sealed class FakeAuthority : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeAuthority(WebApplication app, string url, RsaSecurityKey key)
    {
        _app = app;
        Issuer = url;
        Key = key;
    }

    public string Issuer { get; }

    public RsaSecurityKey Key { get; }

    public static async Task<FakeAuthority> StartAsync()
    {
        var url = Loopback.HttpUrl();
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "test-key" };
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(key);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        var app = builder.Build();
        app.MapGet("/.well-known/openid-configuration", () => Results.Text(new JsonObject { ["issuer"] = url, ["jwks_uri"] = url + "/keys" }.ToJsonString(), "application/json"));
        app.MapGet("/keys", () => Results.Text(new JsonObject
        {
            ["keys"] = new JsonArray(new JsonObject { ["kty"] = "RSA", ["kid"] = jwk.Kid, ["n"] = jwk.N, ["e"] = jwk.E, ["use"] = "sig", ["alg"] = "RS256" }),
        }.ToJsonString(), "application/json"));
        await app.StartAsync();
        return new FakeAuthority(app, url, key);
    }

    public string Mint(string audience, DateTime? expires = null, SecurityKey? key = null, string? issuer = null, string? role = "Veritee.Admin") =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = role is null ? null : new Dictionary<string, object> { ["roles"] = new[] { role } },
            Issuer = issuer ?? Issuer,
            Audience = audience,
            Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
            NotBefore = (expires ?? DateTime.UtcNow.AddMinutes(10)).AddMinutes(-20),
            IssuedAt = (expires ?? DateTime.UtcNow.AddMinutes(10)).AddMinutes(-20),
            SigningCredentials = new SigningCredentials(key ?? Key, SecurityAlgorithms.RsaSha256),
        });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed class OidcAdminTests : IAsyncLifetime
{
    private const string Audience = "https://attest.veritee.test";
    private FakeAuthority _authority = null!;
    private OidcNode _service = null!;

    private sealed class OidcNode(string authority) : ServiceFixture
    {
        protected override ServiceOptions Configure(ServiceOptions options) =>
            options with { AdminToken = null, AdminAuthority = authority, AdminAudience = Audience, AdminRoles = ["Veritee.Admin"], AdminAuthorityRequireHttps = false };
    }

    public async Task InitializeAsync()
    {
        _authority = await FakeAuthority.StartAsync();
        _service = new OidcNode(_authority.Issuer);
        await _service.InitializeAsync();
        _service.Clock.Now = DateTimeOffset.UtcNow;
    }

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        await _authority.DisposeAsync();
    }

    private async Task<HttpStatusCode> GetPolicy(string? bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _service.BaseUrl + "/policies/SgxEnclave?api-version=2022-08-01");
        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await _service.Http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task A_token_from_the_authority_for_the_audience_is_accepted()
    {
        Assert.Equal(HttpStatusCode.OK, await GetPolicy(_authority.Mint(Audience)));
    }

    [Fact]
    public async Task Wrong_audience_issuer_key_expiry_or_no_token_are_401()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, await GetPolicy(null));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetPolicy(_authority.Mint("https://someone-else")));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetPolicy(_authority.Mint(Audience, issuer: "https://evil.example")));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetPolicy(_authority.Mint(Audience, expires: DateTime.UtcNow.AddHours(-1))));
        var stranger = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "test-key" };
        Assert.Equal(HttpStatusCode.Unauthorized, await GetPolicy(_authority.Mint(Audience, key: stranger)));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetPolicy("not-a-jwt"));

        // Any member of the tenant can get a token for the audience; without the admin role it is refused.
        Assert.Equal(HttpStatusCode.Unauthorized, await GetPolicy(_authority.Mint(Audience, role: null)));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetPolicy(_authority.Mint(Audience, role: "Reader")));
    }
}
