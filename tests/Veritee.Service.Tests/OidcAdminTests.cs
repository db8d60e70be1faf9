using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>A minimal OpenID Connect authority on loopback: metadata and a JWKS with one RSA key.</summary>
public sealed class FakeAuthority : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _metadataRequests;

    private FakeAuthority(WebApplication app, string url, RsaSecurityKey key)
    {
        _app = app;
        Issuer = url;
        Key = key;
    }

    public string Issuer { get; }

    public RsaSecurityKey Key { get; }

    /// <summary>Requests for the metadata document so far.</summary>
    public int MetadataRequests => Volatile.Read(ref _metadataRequests);

    /// <summary>Starts the authority; with <paramref name="hold"/>, the metadata is answered only once it completes.</summary>
    public static async Task<FakeAuthority> StartAsync(Task? hold = null)
    {
        var url = Loopback.HttpUrl();
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "test-key" };
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(key);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeAuthority? self = null;
        app.MapGet("/.well-known/openid-configuration", async (HttpContext context) =>
        {
            Interlocked.Increment(ref self!._metadataRequests);
            if (hold is not null)
            {
                await hold.WaitAsync(context.RequestAborted);
            }

            return Results.Text(new JsonObject { ["issuer"] = url, ["jwks_uri"] = url + "/keys" }.ToJsonString(), "application/json");
        });
        app.MapGet("/keys", () => Results.Text(new JsonObject
        {
            ["keys"] = new JsonArray(new JsonObject { ["kty"] = "RSA", ["kid"] = jwk.Kid, ["n"] = jwk.N, ["e"] = jwk.E, ["use"] = "sig", ["alg"] = "RS256" }),
        }.ToJsonString(), "application/json"));
        self = new FakeAuthority(app, url, key);
        await app.StartAsync();
        return self;
    }

    public string Mint(string audience, DateTime? expires = null, SecurityKey? key = null, string? issuer = null, string? role = "Veritee.Admin", string? subject = null) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = subject is null ? null : new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim("sub", subject)]),
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
    public async Task The_audit_trail_names_an_OIDC_caller_by_subject_and_issuer_and_is_read_with_the_role()
    {
        var alice = _authority.Mint(Audience, subject: "admin-alice");
        using (var set = new HttpRequestMessage(HttpMethod.Put, _service.BaseUrl + "/policies/SgxEnclave?api-version=2022-08-01"))
        {
            set.Content = new StringContent(Veritee.Tokens.PolicyJws.CreateUnsigned("version=1.0; authorizationrules{=> permit();}; issuancerules{};"));
            set.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", alice);
            using var response = await _service.Http.SendAsync(set);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        async Task<(HttpStatusCode, string)> Audit(string bearer)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, _service.BaseUrl + "/audit?api-version=2022-08-01");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
            using var response = await _service.Http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await Audit(_authority.Mint(Audience, role: null, subject: "no-role"))).Item1);
        var (status, body) = await Audit(alice);
        Assert.Equal(HttpStatusCode.OK, status);
        var record = JsonNode.Parse(body)!["value"]!.AsArray().Single()!;
        Assert.Equal("oidc:admin-alice@" + _authority.Issuer, record["caller"]!.GetValue<string>());
        Assert.DoesNotContain(alice.Split('.')[1], body, StringComparison.Ordinal);
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

/// <summary>An authority whose metadata endpoint answers only when the test releases it.</summary>
public sealed class SlowOidcAuthorityTests : IAsyncLifetime
{
    private const string Audience = "https://attest.veritee.test";
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FakeAuthority _authority = null!;
    private Node _service = null!;

    /// <summary>One request at a time, no queue, 1 s request timeout.</summary>
    private sealed class Node(string authority) : ServiceFixture
    {
        protected override ServiceOptions Configure(ServiceOptions options) =>
            options with
            {
                AdminToken = null,
                AdminAuthority = authority,
                AdminAudience = Audience,
                AdminRoles = ["Veritee.Admin"],
                AdminAuthorityRequireHttps = false,
                RequestTimeout = TimeSpan.FromSeconds(1),
                MaxConcurrentRequests = 1,
                MaxQueuedRequests = 0,
            };
    }

    public async Task InitializeAsync()
    {
        _authority = await FakeAuthority.StartAsync(_release.Task);
        _service = new Node(_authority.Issuer);
        await _service.InitializeAsync();
        _service.Clock.Now = DateTimeOffset.UtcNow;
    }

    public async Task DisposeAsync()
    {
        _release.TrySetResult();
        await _service.DisposeAsync();
        await _authority.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body)> GetPolicy(HttpClient http, string bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _service.BaseUrl + "/policies/SgxEnclave?api-version=2022-08-01");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_stalled_metadata_fetch_is_bounded_by_the_request_timeout_frees_the_slot_and_is_shared()
    {
        // The authority answers nothing until released; the client would wait far longer than the request timeout.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var token = _authority.Mint(Audience);
        for (var i = 0; i < 3; i++)
        {
            var (status, body) = await GetPolicy(http, token);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Envelope.AssertError((JsonObject)JsonNode.Parse(body)!, MaaErrorCodes.RequestTimeout);

            // The only concurrency slot is free again although the authority has still not answered.
            using var certs = await http.GetAsync(_service.BaseUrl + "/certs");
            Assert.Equal(HttpStatusCode.OK, certs.StatusCode);
        }

        Assert.False(_release.Task.IsCompleted);
        Assert.Equal(1, _authority.MetadataRequests);

        // Once the authority answers, the fetch that was left running fills the cache and tokens are accepted.
        _release.SetResult();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        HttpStatusCode again;
        do
        {
            (again, _) = await GetPolicy(http, token);
            if (again != HttpStatusCode.OK)
            {
                await Task.Delay(100);
            }
        }
        while (again != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, again);

        // Cached: more requests, and tokens naming unknown keys (which may ask for a refresh, at most every few minutes), fetch nothing.
        var stranger = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "unknown-key" };
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await GetPolicy(http, token)).Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetPolicy(http, _authority.Mint(Audience, key: stranger))).Status);
        }

        Assert.Equal(1, _authority.MetadataRequests);
    }
}
