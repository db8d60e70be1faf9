using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>
/// A collateral service on loopback that answers nothing until released (or disposed): a slow dependency for the
/// timeout and concurrency tests.
/// </summary>
public sealed class StalledCollateralService : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _release = new();
    private int _requests;

    private StalledCollateralService(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public int Requests => Volatile.Read(ref _requests);

    public static async Task<StalledCollateralService> StartAsync()
    {
        var url = Loopback.HttpUrl();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        StalledCollateralService? self = null;
        app.Run(async context =>
        {
            Interlocked.Increment(ref self!._requests);
            try
            {
                await Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(self._release.Token, context.RequestAborted).Token);
            }
            catch (OperationCanceledException)
            {
            }

            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        });
        await app.StartAsync();
        self = new StalledCollateralService(app, url);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _release.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _release.Dispose();
    }
}

/// <summary>A logger provider that keeps every formatted line and its structured fields.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(string Category, LogLevel Level, string Message, IReadOnlyList<KeyValuePair<string, object?>> Fields)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            owner.Entries.Enqueue((category, logLevel, formatter(state, exception) + (exception is null ? string.Empty : " " + exception), fields.ToList()));
        }
    }
}

internal static class Envelope
{
    public static void AssertError(JsonObject body, string code)
    {
        var error = body["error"]!.AsObject();
        Assert.Equal(code, error["code"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(error["message"]!.GetValue<string>()));
        Assert.Equal(code, error["innererror"]!["code"]!.GetValue<string>());
    }
}

/// <summary>A node whose per-client rate is tiny: 1 request/s with a burst of 3.</summary>
public sealed class RateLimitedServiceFixture : ServiceFixture
{
    protected override ServiceOptions Configure(ServiceOptions options) => options with { PerClientRequestsPerSecond = 1, PerClientBurst = 3 };
}

public sealed class RateLimitTests(RateLimitedServiceFixture service) : IClassFixture<RateLimitedServiceFixture>
{
    [Fact]
    public async Task A_client_over_its_rate_gets_429_with_the_envelope_and_Retry_After_while_probes_still_answer()
    {
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? rejected = null;
        for (var i = 0; i < 8 && rejected is null; i++)
        {
            var response = await service.Http.GetAsync(service.BaseUrl + "/certs");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                rejected = response;
            }
            else
            {
                response.Dispose();
            }
        }

        Assert.NotNull(rejected);
        using (rejected)
        {
            Assert.Equal(HttpStatusCode.OK, statuses[0]);
            Assert.True(rejected.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, "Retry-After in whole seconds");
            Assert.True(rejected.Headers.Contains("x-ms-request-id"));
            Assert.StartsWith("application/json", rejected.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
            Envelope.AssertError((JsonObject)JsonNode.Parse(await rejected.Content.ReadAsStringAsync())!, MaaErrorCodes.TooManyRequests);
        }

        // The rate-limited client can still be probed: health and metrics have a budget of their own.
        for (var i = 0; i < 5; i++)
        {
            using var live = await service.Http.GetAsync(service.BaseUrl + VeriteeServer.LivePath);
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }

        // The bucket refills: after the advertised wait the client is served again.
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        using var again = await service.Http.GetAsync(service.BaseUrl + "/certs");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }
}

public sealed class BodyLimitTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Theory]
    [InlineData("PUT", "/policies/SgxEnclave?api-version=2022-08-01")]
    [InlineData("POST", "/policies/SgxEnclave:reset?api-version=2022-08-01")]
    public async Task Management_bodies_over_256_KiB_get_413_with_the_envelope(string method, string path)
    {
        var (status, body) = await service.Send(new HttpMethod(method), path, new string('a', 300 * 1024), "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Envelope.AssertError(body, MaaErrorCodes.RequestTooLarge);
    }

    [Fact]
    public async Task Attest_accepts_bodies_up_to_1_MiB_and_refuses_larger_ones()
    {
        // 300 KiB is over the management limit but within attest's: read and refused as a bad quote, not as too large.
        var (within, withinBody) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01",
            "{\"quote\":\"" + new string('A', 300 * 1024) + "\"}");
        Assert.Equal(HttpStatusCode.BadRequest, within);
        Envelope.AssertError(withinBody, MaaErrorCodes.InvalidParameter);

        var (over, overBody) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01",
            "{\"quote\":\"" + new string('A', (1024 * 1024) + 16) + "\"}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, over);
        Envelope.AssertError(overBody, MaaErrorCodes.RequestTooLarge);
    }
}

/// <summary>
/// Nodes whose collateral service never answers: one with a 500 ms request timeout, one that serves a single request
/// at a time with no queue.
/// </summary>
public sealed class SlowDependencyTests : IAsyncLifetime
{
    private StalledCollateralService _pcs = null!;

    private sealed class Node(string pcs, Func<ServiceOptions, ServiceOptions> tweak) : ServiceFixture
    {
        protected override ServiceOptions Configure(ServiceOptions options) =>
            tweak(options with { CollateralDirectory = null, CollateralServiceUrl = new Uri(pcs), RootCaCrlUrl = new Uri(pcs + "/rootcrl.der") });
    }

    public async Task InitializeAsync() => _pcs = await StalledCollateralService.StartAsync();

    public async Task DisposeAsync() => await _pcs.DisposeAsync();

    private static Task<(HttpStatusCode Status, JsonObject Body)> Attest(ServiceFixture node)
    {
        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        return node.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + quote + "\"}");
    }

    [Fact]
    public async Task A_request_over_its_time_gets_503_RequestTimeout_with_the_envelope()
    {
        var node = new Node(_pcs.Url, o => o with { RequestTimeout = TimeSpan.FromMilliseconds(500) });
        await node.InitializeAsync();
        try
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var (status, body) = await Attest(node);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Envelope.AssertError(body, MaaErrorCodes.RequestTimeout);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"answered after {watch.Elapsed}");
            Assert.True(_pcs.Requests >= 1);

            // Fast requests are untouched by the timeout.
            using var certs = await node.Http.GetAsync(node.BaseUrl + "/certs");
            Assert.Equal(HttpStatusCode.OK, certs.StatusCode);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Past_the_concurrency_limit_and_its_queue_requests_get_429()
    {
        var node = new Node(_pcs.Url, o => o with { MaxConcurrentRequests = 1, MaxQueuedRequests = 0, RequestTimeout = TimeSpan.FromSeconds(20) });
        await node.InitializeAsync();
        try
        {
            var before = _pcs.Requests;
            var stalled = Attest(node);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (_pcs.Requests == before && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            Assert.True(_pcs.Requests > before, "the first request reached the stalled collateral service");
            using var response = await node.Http.GetAsync(node.BaseUrl + "/certs");
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.NotNull(response.Headers.RetryAfter);
            Envelope.AssertError((JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!, MaaErrorCodes.TooManyRequests);
            Assert.False(stalled.IsCompleted);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }
}

/// <summary>Behind a trusted proxy (loopback here) each forwarded client has its own budget: 1 request/s, burst 1.</summary>
public sealed class ProxiedServiceFixture : ServiceFixture
{
    protected override ServiceOptions Configure(ServiceOptions options) =>
        options with { PerClientRequestsPerSecond = 1, PerClientBurst = 1, TrustedProxies = [IPAddress.Loopback] };
}

public sealed class TrustedProxyTests(ProxiedServiceFixture service) : IClassFixture<ProxiedServiceFixture>
{
    private async Task<HttpStatusCode> Certs(string forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, service.BaseUrl + "/certs");
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await service.Http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Clients_behind_the_proxy_are_limited_one_by_one()
    {
        // Header values only: nothing is sent to these documentation addresses.
        Assert.Equal(HttpStatusCode.OK, await Certs("192.0.2.10"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Certs("192.0.2.10"));
        Assert.Equal(HttpStatusCode.OK, await Certs("192.0.2.11"));
    }
}
