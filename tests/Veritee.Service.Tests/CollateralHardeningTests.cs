using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Veritee.Dcap.Collateral;
using Veritee.Sgx;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>What <see cref="HostilePcs"/> answers.</summary>
public enum PcsBehaviour
{
    /// <summary>The case's collateral with PCS's headers.</summary>
    Genuine,

    /// <summary>The same, but the TCB Info's signature is altered (current dates, invalid signature).</summary>
    Forged,

    /// <summary>302 to <see cref="HostilePcs.RedirectTo"/> for every API route.</summary>
    Redirect,

    /// <summary>429 with <c>Retry-After: 3600</c> on every route.</summary>
    RateLimited,

    /// <summary>The TCB Info body declared as 1 MB and sent at one byte a second.</summary>
    Trickle,
}

/// <summary>A PCS look-alike on loopback that can turn hostile, counting what it is asked and the keys it is sent.</summary>
public sealed partial class HostilePcs : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;
    private int _trickling;
    private int _aborted;

    private HostilePcs(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public PcsBehaviour Behaviour { get; set; }

    public string? RedirectTo { get; set; }

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Trickled answers begun; each ends cut off by the client (<see cref="Aborted"/>), never complete.</summary>
    public int Trickling => Volatile.Read(ref _trickling);

    /// <summary>Trickled answers the client closed before they were complete.</summary>
    public int Aborted => Volatile.Read(ref _aborted);

    /// <summary>The <c>Ocp-Apim-Subscription-Key</c> values received.</summary>
    public ConcurrentQueue<string> Keys { get; } = new();

    public static async Task<HostilePcs> StartAsync(string caseFolder)
    {
        var url = Loopback.HttpUrl();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        HostilePcs? self = null;
        string File(string name) => Path.Combine(caseFolder, name);
        async Task Serve(HttpContext c, string body, string? headerName, string? headerFile, string type)
        {
            var pcs = self!;
            Interlocked.Increment(ref pcs._requests);
            if (c.Request.Headers.TryGetValue("Ocp-Apim-Subscription-Key", out var key))
            {
                pcs.Keys.Enqueue(key.ToString());
            }

            switch (pcs.Behaviour)
            {
                case PcsBehaviour.RateLimited:
                    c.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                    c.Response.Headers.RetryAfter = "3600";
                    return;
                case PcsBehaviour.Redirect when headerName is not null:
                    c.Response.Redirect((pcs.RedirectTo ?? string.Empty) + c.Request.Path + c.Request.QueryString);
                    return;
            }

            if (headerName is not null)
            {
                c.Response.Headers[headerName] = Uri.EscapeDataString(System.IO.File.ReadAllText(File(headerFile!)));
            }

            c.Response.ContentType = type;
            var bytes = await System.IO.File.ReadAllBytesAsync(File(body));
            if (body == "tcb_info.json" && pcs.Behaviour == PcsBehaviour.Trickle)
            {
                c.Response.ContentLength = 1_000_000;
                Interlocked.Increment(ref pcs._trickling);
                try
                {
                    for (var i = 0; i < 1_000_000; i++)
                    {
                        await c.Response.Body.WriteAsync(new byte[] { (byte)' ' }, c.RequestAborted);
                        await c.Response.Body.FlushAsync(c.RequestAborted);
                        await Task.Delay(TimeSpan.FromSeconds(1), c.RequestAborted);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or IOException)
                {
                    Interlocked.Increment(ref pcs._aborted);
                }

                return;
            }

            if (body == "tcb_info.json" && pcs.Behaviour == PcsBehaviour.Forged)
            {
                bytes = Forge(bytes);
            }

            c.Response.ContentLength = bytes.Length;
            await c.Response.Body.WriteAsync(bytes);
        }

        foreach (var prefix in new[] { "", "/elsewhere" })
        {
            app.MapGet(prefix + "/sgx/certification/v4/tcb", c => Serve(c, "tcb_info.json", "TCB-Info-Issuer-Chain", "tcb_info_issuer_chain.pem", "application/json"));
            app.MapGet(prefix + "/sgx/certification/v4/qe/identity", c => Serve(c, "qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", "qe_identity_issuer_chain.pem", "application/json"));
            app.MapGet(prefix + "/sgx/certification/v4/pckcrl", c => Serve(c, "pck_crl.der", "SGX-PCK-CRL-Issuer-Chain", "pck_crl_issuer_chain.pem", "application/pkix-crl"));
        }

        app.MapGet("/rootcrl.der", c => Serve(c, "root_ca_crl.der", null, null, "application/pkix-crl"));
        await app.StartAsync();
        self = new HostilePcs(app, url);
        return self;
    }

    /// <summary>One hex digit of the (top-level) signature changed.</summary>
    public static byte[] Forge(byte[] json)
    {
        var text = Encoding.UTF8.GetString(json);
        var at = SignatureValue().Matches(text)[^1].Groups[1].Index;
        return Encoding.UTF8.GetBytes(text[..at] + (text[at] == '0' ? '1' : '0') + text[(at + 1)..]);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [GeneratedRegex("\"signature\"\\s*:\\s*\"([0-9a-fA-F])")]
    private static partial Regex SignatureValue();
}

/// <summary>
/// The service with a hostile collateral service (issue 11): no key leak on redirect, no cache poisoning (SQLite and
/// PostgreSQL), no stall, backoff on 429.
/// </summary>
public sealed class CollateralHardeningTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private const string SharedInstance = "https://attest.collateral.test";

    /// <summary>Hang guard only: every wait below ends long before this unless the code under test hangs.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private HostilePcs _pcs = null!;

    private sealed class Node(string pcs, Func<ServiceOptions, ServiceOptions>? tweak = null) : ServiceFixture
    {
        public CapturingLoggerProvider Logs { get; } = new();

        protected override ServiceOptions Configure(ServiceOptions options) => (tweak ?? (o => o))(options with
        {
            CollateralDirectory = null,
            CollateralServiceUrl = new Uri(pcs),
            RootCaCrlUrl = new Uri(pcs + "/rootcrl.der"),
            LoggerProviders = [Logs],
        });
    }

    public async Task InitializeAsync() => _pcs = await HostilePcs.StartAsync(Vectors.DcapCase("sgx-v3-oe-envelope-legacy-root-2022-05"));

    public async Task DisposeAsync() => await _pcs.DisposeAsync();

    private static async Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> Attest(ServiceFixture node)
    {
        var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
        using var content = new StringContent("{\"quote\":\"" + quote + "\"}", Encoding.UTF8, "application/json");
        var response = await node.Http.PostAsync(node.BaseUrl + "/attest/SgxEnclave?api-version=2022-08-01", content).WaitAsync(Guard);
        return (response.StatusCode, (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!, response);
    }

    private static string Message(JsonObject body) => body["error"]!["message"]!.GetValue<string>();

    private static async Task<JsonObject> Ready(ServiceFixture node)
    {
        // 200 or 503 (not ready while the platform has no usable collateral): the checks are in the body either way.
        using var response = await node.Http.GetAsync(node.BaseUrl + VeriteeServer.ReadyPath);
        return (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    private static async Task<T> Started<T>(T node)
        where T : ServiceFixture
    {
        await node.InitializeAsync();
        return node;
    }

    [Fact]
    public async Task A_redirect_is_not_followed_and_the_subscription_key_never_reaches_the_other_origin()
    {
        await using var thief = await HostilePcs.StartAsync(Vectors.DcapCase("sgx-v3-oe-envelope-legacy-root-2022-05"));
        _pcs.Behaviour = PcsBehaviour.Redirect;
        _pcs.RedirectTo = thief.Url + "/elsewhere";
        var node = await Started(new Node(_pcs.Url, o => o with { CollateralSubscriptionKey = "secret-pcs-key" }));
        try
        {
            var (status, body, _) = await Attest(node);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Envelope.AssertError(body, MaaErrorCodes.ServiceUnavailable);
            Assert.Contains(thief.Url + "/elsewhere/sgx/certification/v4/", Message(body), StringComparison.Ordinal);
            Assert.Contains("secret-pcs-key", _pcs.Keys);
            Assert.Equal(0, thief.Requests);
            Assert.Empty(thief.Keys);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_forged_bundle_is_never_cached_or_stored_and_the_platform_recovers_with_the_source(string store)
    {
        Func<ServiceOptions, ServiceOptions> shared;
        Node? first = null;
        if (store == "postgres")
        {
            var database = "c" + Guid.NewGuid().ToString("N");
            postgres.Server.CreateDatabase(database);
            shared = o => o with { PostgresConnectionString = postgres.Server.ConnectionString(database), InstanceUrl = SharedInstance, KeyEncryptionKey = PostgresNode.SharedKek };
        }
        else
        {
            shared = o => o with { DataDirectory = first!.DataDirectory, InstanceUrl = SharedInstance };
        }

        _pcs.Behaviour = PcsBehaviour.Forged;
        first = await Started(new Node(_pcs.Url, o => store == "postgres" ? shared(o) : o with { InstanceUrl = SharedInstance }));
        Node? second = null;
        try
        {
            second = await Started(new Node(_pcs.Url, shared));

            // A forgery with current dates: refused before the cache, a transient 503, reported three ways.
            var (refused, body, _) = await Attest(first);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused);
            Envelope.AssertError(body, MaaErrorCodes.ServiceUnavailable);
            Assert.Contains("STATUS_TCB_INFO_INVALID_SIGNATURE", Message(body), StringComparison.Ordinal);
            var service = (await Ready(first))["checks"]!["collateral"]!["service"]!;
            Assert.Contains("fails verification", service["rejection"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.NotNull(service["lastRejection"]);
            var metrics = await first.Http.GetStringAsync(first.BaseUrl + "/metrics");
            Assert.Matches("veritee_collateral_rejected_total\\{[^}]*origin=\"source\"[^}]*\\} 1", metrics);
            Assert.Contains(first.Logs.Entries, e => e.Level == LogLevel.Warning && e.Category == "Veritee.Collateral" && e.Message.Contains("refused", StringComparison.Ordinal));

            // The source turns genuine: after the short failure window the next attestation fetches and succeeds.
            _pcs.Behaviour = PcsBehaviour.Genuine;
            first.Clock.Now += TimeSpan.FromSeconds(11);
            var before = _pcs.Requests;
            var (recovered, recoveredBody, _) = await Attest(first);
            Assert.True(recovered == HttpStatusCode.OK, recoveredBody.ToJsonString());
            Assert.Equal(before + 4, _pcs.Requests);

            // The other node finds the genuine bundle in the store (nothing of the forgery was written there).
            second.Clock.Now = first.Clock.Now;
            var fetches = _pcs.Requests;
            var (fromStore, _, _) = await Attest(second);
            Assert.Equal(HttpStatusCode.OK, fromStore);
            Assert.Equal(fetches, _pcs.Requests);

            // A refresh (past max age) that gets a forgery keeps the good bundle on both nodes and reports it.
            _pcs.Behaviour = PcsBehaviour.Forged;
            first.Clock.Now = second.Clock.Now = ServiceFixture.PinnedTime.AddHours(25);
            Assert.Equal(HttpStatusCode.OK, (await Attest(first)).Status);
            Assert.True(_pcs.Requests > fetches, "the due refresh asked the source");
            Assert.Equal(HttpStatusCode.OK, (await Attest(second)).Status);
            var degraded = (await Ready(first))["checks"]!["collateral"]!["service"]!;
            Assert.Equal("degraded", degraded["status"]!.GetValue<string>());
            Assert.Contains("fails verification", degraded["rejection"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }

            await first.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_trickled_body_ends_at_the_fetch_timeout_and_every_waiting_attestation_gets_503()
    {
        _pcs.Behaviour = PcsBehaviour.Trickle;
        var node = await Started(new Node(_pcs.Url, o => o with { CollateralFetchTimeout = TimeSpan.FromSeconds(1), RequestTimeout = TimeSpan.FromSeconds(50) }));
        try
        {
            // On a loaded machine the in-process PCS may not even start the trickle within the 1 s fetch timeout (its
            // first request is cold): that round still ends in the fetch timeout, and after the remembered failure
            // (10 s on the service's clock) a new round fetches again, until the trickle has begun.
            for (var round = 1; _pcs.Trickling == 0; round++)
            {
                Assert.True(round <= 5, $"the PCS began no trickle in {round - 1} rounds (PCS requests {_pcs.Requests})");
                if (round > 1)
                {
                    node.Clock.Now += TimeSpan.FromSeconds(11);
                }

                var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Attest(node)));
                foreach (var (status, body, _) in answers)
                {
                    // The whole body on failure (xunit cuts the string of Assert.Contains).
                    Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{(int)status}: {body.ToJsonString()}");
                    Envelope.AssertError(body, MaaErrorCodes.ServiceUnavailable);
                    Assert.True(Message(body).Contains("fetch timeout", StringComparison.Ordinal), body.ToJsonString());
                }
            }

            // The fetch was cancelled, not abandoned: every trickling connection was closed.
            using var guard = new CancellationTokenSource(Guard);
            while (_pcs.Aborted < _pcs.Trickling && !guard.IsCancellationRequested)
            {
                await Task.Delay(50, CancellationToken.None);
            }

            Assert.True(_pcs.Aborted == _pcs.Trickling, $"a trickled answer was not cut off (PCS requests {_pcs.Requests}, trickles begun {_pcs.Trickling}, aborted {_pcs.Aborted})");
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    /// <summary>
    /// A collateral source whose own time limit is as long as the cache's fetch timeout (the service gives its PCS
    /// client's per-request limit and HttpClient.Timeout the fetch timeout): it answers its timeout once that much time
    /// has passed on the timers' clock, before the cache looks at its deadline. That is the order the two timers can take
    /// on a loaded machine (timers due together fire in no set order), made certain.
    /// </summary>
    private sealed class TimesOutWithTheDeadline(TimeSpan limit) : ICollateralSource
    {
        public static readonly Uri Url = new("https://pcs.test/sgx/certification/v4/tcb?fmspc=00906ED50000");

        public Task<QuoteCollateral> GetCollateralAsync(CollateralRequest request, CancellationToken cancellationToken = default)
        {
            var started = Environment.TickCount64;
            while (Environment.TickCount64 - started < (long)limit.TotalMilliseconds)
            {
                Thread.Sleep(10);
            }

            return Task.FromException<QuoteCollateral>(new CollateralFetchException($"GET {Url}: timed out")
            {
                Failure = CollateralFetchFailure.Timeout,
                Url = Url,
                IsTransient = true,
            });
        }
    }

    [Fact]
    public async Task A_source_timeout_as_long_as_the_fetch_timeout_is_reported_as_the_fetch_timeout_whichever_timer_fires_first()
    {
        var limit = TimeSpan.FromMilliseconds(300);
        var cache = new CachedCollateralSource(new TimesOutWithTheDeadline(limit), new FixedClock(ServiceFixture.PinnedTime), new CachedCollateralSourceOptions { FetchTimeout = limit });
        var request = new CollateralRequest(Convert.FromHexString("00906ED50000"), TeeType.Sgx, PckCaKind.Processor);

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() => cache.GetAsync(request).WaitAsync(Guard));
        Assert.Equal(CollateralFetchFailure.Timeout, e.Failure);
        Assert.True(e.IsTransient);
        Assert.True(e.Message.Contains("0.3 s fetch timeout", StringComparison.Ordinal), e.Message);
        Assert.Contains($"GET {TimesOutWithTheDeadline.Url}: timed out", e.Message, StringComparison.Ordinal);
        Assert.Equal(TimesOutWithTheDeadline.Url, e.Url);

        // The next caller gets the same failure, remembered, without the source being asked.
        var again = await Assert.ThrowsAsync<CollateralFetchException>(() => cache.GetAsync(request).WaitAsync(Guard));
        Assert.True(again.Message.Contains("fetch timeout", StringComparison.Ordinal), again.Message);
    }

    [Fact]
    public async Task A_429_with_Retry_After_stops_upstream_traffic_and_100_concurrent_attestations_cost_one_fetch()
    {
        _pcs.Behaviour = PcsBehaviour.RateLimited;
        var node = await Started(new Node(_pcs.Url));
        try
        {
            async Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)[]> Wave() =>
                await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Attest(node)));

            var limited = await Wave();
            Assert.All(limited, a => Assert.Equal(HttpStatusCode.ServiceUnavailable, a.Status));

            // Requests of the bundle cancelled after the first 429 may reach the server a moment after the answers.
            using (var guard = new CancellationTokenSource(Guard))
            {
                for (var last = -1; _pcs.Requests != last;)
                {
                    last = _pcs.Requests;
                    await Task.Delay(300, guard.Token);
                }
            }

            Assert.InRange(_pcs.Requests, 1, 4);
            var upstream = _pcs.Requests;

            // Retry-After: 3600 is honoured: the next hundred attestations send nothing upstream and say when to retry.
            var again = await Wave();
            Assert.All(again, a =>
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, a.Status);
                Assert.True(a.Response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            });
            Assert.Equal(upstream, _pcs.Requests);

            // Past the (capped) wait the source answers genuinely: a hundred concurrent attestations, one fetch.
            _pcs.Behaviour = PcsBehaviour.Genuine;
            node.Clock.Now += TimeSpan.FromMinutes(10);
            var served = await Wave();
            Assert.All(served, a => Assert.Equal(HttpStatusCode.OK, a.Status));
            Assert.Equal(upstream + 4, _pcs.Requests);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }
}
