using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;

namespace Veritee.Dcap.Tests;

/// <summary>
/// The collateral path against a hostile collateral service over real HTTP on loopback: redirects, forged bundles,
/// trickled bodies, rate limiting.
/// </summary>
public sealed partial class CollateralHardeningTests
{
    private const string Case = "tdx-v4-uptodate-2025-07";

    /// <summary>Hang guard only: every wait below ends long before this unless the code under test hangs.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private readonly VectorCase _case = VectorCase.Load(Case);

    private CollateralRequest Request => CollateralRequest.FromQuote(_case.Quote);

    /// <summary>The TCB Info with one hex digit of its signature changed: current dates, wrong signature.</summary>
    internal static byte[] ForgeSignature(byte[] tcbInfo)
    {
        var text = Encoding.UTF8.GetString(tcbInfo);
        var match = SignatureValue().Matches(text)[^1];
        var at = match.Groups[1].Index;
        var flipped = text[at] == '0' ? '1' : '0';
        return Encoding.UTF8.GetBytes(text[..at] + flipped + text[(at + 1)..]);
    }

    /// <summary>The case's answers, with the TCB Info's signature forged.</summary>
    internal static Func<FixtureRequest, FixtureResponse> Forging(string folder)
    {
        var genuine = PcsFixture.CaseHandler(folder, new CaseServing());
        return request =>
        {
            var answer = genuine(request);
            return request.Path.EndsWith("/tcb", StringComparison.Ordinal)
                ? new FixtureResponse { Status = answer.Status, Headers = answer.Headers, Body = ForgeSignature(answer.Body) }
                : answer;
        };
    }

    private static PcsCollateralSource Source(PcsFixture pcs, HttpClient http, string? key = null, TimeProvider? clock = null) => new(http, new PcsCollateralSourceOptions
    {
        BaseAddress = pcs.BaseAddress,
        RootCaCrl = new Uri(pcs.BaseAddress, PcsFixture.RootCrlPath),
        SubscriptionKey = key,
        TimeProvider = clock ?? TimeProvider.System,
    });

    [Fact]
    public async Task A_redirect_is_not_followed_the_key_stays_home_and_the_error_names_the_target()
    {
        await using var thief = PcsFixture.ForCase(_case.Folder);
        var genuine = PcsFixture.CaseHandler(_case.Folder, new CaseServing());
        var target = new Uri(thief.BaseAddress, "collect" + "/tcb?fmspc=" + Request.Fmspc);
        await using var pcs = new PcsFixture(request => request.Path.EndsWith("/tcb", StringComparison.Ordinal)
            ? new FixtureResponse { Status = 302, Headers = [new("Location", target.AbsoluteUri)] }
            : genuine(request));

        using var http = PcsCollateralSource.CreateHttpClient(TimeSpan.FromSeconds(30));
        var e = await Assert.ThrowsAsync<CollateralFetchException>(() => Source(pcs, http, "secret-pcs-key").GetCollateralAsync(Request));
        Assert.Equal(CollateralFetchFailure.Redirect, e.Failure);
        Assert.Contains(target.AbsoluteUri, e.Message, StringComparison.Ordinal);
        Assert.Empty(thief.Requests);
        Assert.Contains(pcs.Requests, r => r.Headers.TryGetValue(PcsCollateralSource.SubscriptionKeyHeader, out var key) && key == "secret-pcs-key");

        // A client that does follow redirects (HttpClient's default) gets no answer from the other origin either.
        using var following = new HttpClient();
        var followed = await Assert.ThrowsAsync<CollateralFetchException>(() => Source(pcs, following).GetCollateralAsync(Request));
        Assert.Equal(CollateralFetchFailure.Redirect, followed.Failure);
        Assert.Contains(thief.BaseAddress.Authority, followed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_forged_bundle_never_enters_the_cache_or_the_store_and_the_platform_recovers_with_the_source()
    {
        await using var pcs = new PcsFixture(Forging(_case.Folder));
        using var http = new HttpClient();
        var store = new InMemoryCollateralCacheStore();
        var rejections = new List<CollateralRejection>();
        var clock = new ManualTimeProvider(_case.Time);
        var options = new CachedCollateralSourceOptions { Store = store, Rejected = rejections.Add };
        var cache = new CachedCollateralSource(Source(pcs, http), clock, options);

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() => cache.GetAsync(Request));
        Assert.Equal(CollateralFetchFailure.Untrusted, e.Failure);
        Assert.True(e.IsTransient);
        Assert.Contains(nameof(QvlStatus.STATUS_TCB_INFO_INVALID_SIGNATURE), e.Message, StringComparison.Ordinal);
        Assert.Null(cache.Peek(Request));
        Assert.Equal(0, store.Count);
        var rejection = Assert.Single(rejections);
        Assert.Equal("source", rejection.Origin);
        Assert.Equal(Request, rejection.Request);

        // Within the short failure window the source is left alone; after it, a genuine answer is taken at once.
        var fetches = pcs.Requests.Count;
        await Assert.ThrowsAsync<CollateralFetchException>(() => cache.GetAsync(Request));
        Assert.Equal(fetches, pcs.Requests.Count);
        pcs.Handler = PcsFixture.CaseHandler(_case.Folder, new CaseServing());
        clock.Advance(options.FailureCacheInterval);
        var good = await cache.GetAsync(Request);
        Assert.True(QuoteVerifier.VerifyCold(_case.Quote, good.Collateral, TrustAnchor.IntelSgxRootCa, clock.Now).IsVerified);
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public async Task A_refresh_that_fails_verification_keeps_the_good_bundle_everywhere_and_is_reported()
    {
        await using var pcs = PcsFixture.ForCase(_case.Folder);
        using var http = new HttpClient();
        var store = new InMemoryCollateralCacheStore();
        var rejections = new List<CollateralRejection>();
        var clock = new ManualTimeProvider(_case.Time);
        var options = new CachedCollateralSourceOptions { Store = store, Rejected = rejections.Add, MaxAge = TimeSpan.FromHours(1) };
        var cache = new CachedCollateralSource(Source(pcs, http), clock, options);
        var good = await cache.GetAsync(Request);

        pcs.Handler = Forging(_case.Folder);
        clock.Advance(options.MaxAge);
        var kept = await cache.GetAsync(Request);
        Assert.Same(good.Collateral, kept.Collateral);
        Assert.Equal(CollateralFetchFailure.Untrusted, kept.RefreshError!.Failure);
        Assert.Equal("source", Assert.Single(rejections).Origin);
        Assert.Equal(good.FetchedAt, (await store.GetAsync(Request.CacheKey, CancellationToken.None))!.FetchedAt);
        Assert.True(QuoteVerifier.VerifyCold(_case.Quote, kept.Collateral, TrustAnchor.IntelSgxRootCa, clock.Now).IsVerified);

        // Another node sharing the store starts now: it gets the good bundle, not the forgery.
        var other = new CachedCollateralSource(Source(pcs, http), clock, new CachedCollateralSourceOptions { Store = store, MaxAge = TimeSpan.FromDays(2) });
        Assert.Same(good.Collateral.TcbInfo, (await other.GetAsync(Request)).Collateral.TcbInfo);
    }

    [Fact]
    public async Task A_forged_bundle_found_in_the_shared_store_is_not_adopted()
    {
        await using var pcs = PcsFixture.ForCase(_case.Folder);
        using var http = new HttpClient();
        var store = new InMemoryCollateralCacheStore();
        var clock = new ManualTimeProvider(_case.Time);
        var forged = _case.Collateral with { TcbInfo = ForgeSignature(_case.Collateral.TcbInfo) };
        await store.PutAsync(Request.CacheKey, new StoredCollateral(forged, clock.Now), CancellationToken.None);
        var rejections = new List<CollateralRejection>();
        var cache = new CachedCollateralSource(Source(pcs, http), clock, new CachedCollateralSourceOptions { Store = store, Rejected = rejections.Add });

        var served = await cache.GetAsync(Request);
        Assert.Equal(4, pcs.Requests.Count);
        Assert.True(QuoteVerifier.VerifyCold(_case.Quote, served.Collateral, TrustAnchor.IntelSgxRootCa, clock.Now).IsVerified);
        Assert.Equal("store", Assert.Single(rejections).Origin);
    }

    [Fact]
    public async Task A_genuine_bundle_for_another_platform_is_refused()
    {
        // Intel-signed, current, but the collateral of an SGX platform served for this TDX platform.
        await using var pcs = PcsFixture.ForCase(VectorCase.Load("sgx-v3-processorca-confsw-2025-07").Folder);
        using var http = new HttpClient();
        var cache = new CachedCollateralSource(Source(pcs, http), new ManualTimeProvider(_case.Time));

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() => cache.GetAsync(Request));
        Assert.Equal(CollateralFetchFailure.Untrusted, e.Failure);
        Assert.Contains("TCB Info", e.Message, StringComparison.Ordinal);
        Assert.Null(cache.Peek(Request));
    }

    [Fact]
    public async Task A_trickled_body_is_cut_off_at_the_fetch_deadline_and_every_waiting_caller_is_released()
    {
        var genuine = PcsFixture.CaseHandler(_case.Folder, new CaseServing());
        await using var pcs = new PcsFixture(request => request.Path.EndsWith("/tcb", StringComparison.Ordinal)
            ? new FixtureResponse { Headers = genuine(request).Headers, Body = new byte[1_000_000], Trickle = TimeSpan.FromSeconds(1) }
            : genuine(request));
        using var http = new HttpClient();
        var options = new CachedCollateralSourceOptions { FetchTimeout = TimeSpan.FromSeconds(1) };
        var cache = new CachedCollateralSource(Source(pcs, http), new ManualTimeProvider(_case.Time), options);

        var callers = Enumerable.Range(0, 20).Select(_ => Task.Run(() => cache.GetAsync(Request))).ToArray();
        foreach (var caller in callers)
        {
            var e = await Assert.ThrowsAsync<CollateralFetchException>(() => caller.WaitAsync(Guard));
            Assert.Equal(CollateralFetchFailure.Timeout, e.Failure);
            Assert.True(e.IsTransient);
            Assert.Contains("fetch timeout", e.Message, StringComparison.Ordinal);
        }

        // The shared fetch was really cancelled: the connection was closed under the trickling server.
        await WaitUntil(() => pcs.Aborted >= 1);
        Assert.Equal(1, pcs.Count("/tcb"));
    }

    [Fact]
    public async Task One_failed_request_cancels_the_rest_of_the_bundle()
    {
        var genuine = PcsFixture.CaseHandler(_case.Folder, new CaseServing());
        await using var pcs = new PcsFixture(request =>
            request.Path.EndsWith("/tcb", StringComparison.Ordinal) ? FixtureResponse.Error(404, "FmspcNotFound", "no such platform")
            : request.Path.EndsWith("/pckcrl", StringComparison.Ordinal) ? new FixtureResponse { Headers = genuine(request).Headers, Body = new byte[1_000_000], Trickle = TimeSpan.FromSeconds(1) }
            : genuine(request));
        using var http = new HttpClient();

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() => Source(pcs, http).GetCollateralAsync(Request).WaitAsync(Guard));
        Assert.Equal(HttpStatusCode.NotFound, e.StatusCode);
        Assert.Equal("FmspcNotFound", e.ErrorCode);
        await WaitUntil(() => pcs.Aborted >= 1);
    }

    /// <summary>A PCS answering 429 with Retry-After: 3600 while <paramref name="limited"/> holds, genuine collateral after.</summary>
    private PcsFixture RateLimitedPcs(StrongBox<bool> limited)
    {
        var genuine = PcsFixture.CaseHandler(_case.Folder, new CaseServing());
        return new PcsFixture(request => Volatile.Read(ref limited.Value)
            ? FixtureResponse.Error(429, "TooManyRequests", "quota exceeded", new KeyValuePair<string, string>("Retry-After", "3600"))
            : genuine(request));
    }

    [Fact]
    public async Task A_429_with_Retry_After_stops_upstream_traffic_until_it_lapses()
    {
        var limited = new StrongBox<bool>(true);
        await using var pcs = RateLimitedPcs(limited);
        using var http = new HttpClient();
        var clock = new ManualTimeProvider(_case.Time);
        var options = new CachedCollateralSourceOptions();
        var cache = new CachedCollateralSource(Source(pcs, http, clock: clock), clock, options);

        async Task<CollateralFetchException[]> Wave() => await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(async () =>
            await Assert.ThrowsAsync<CollateralFetchException>(() => cache.GetAsync(Request).WaitAsync(Guard)))));

        var first = await Wave();
        Assert.All(first, e => Assert.Equal(HttpStatusCode.TooManyRequests, e.StatusCode));
        await Settle(() => pcs.Requests.Count);
        Assert.InRange(pcs.Requests.Count, 1, 4);

        // The answer said an hour: nothing more goes upstream, and callers learn when to come back.
        var upstream = pcs.Requests.Count;
        var second = await Wave();
        Assert.Equal(upstream, pcs.Requests.Count);
        Assert.All(second, e => Assert.True(e.RetryAfter > TimeSpan.Zero));
        clock.Advance(options.MaxRetryAfter - TimeSpan.FromSeconds(1));
        _ = await Wave();
        Assert.Equal(upstream, pcs.Requests.Count);

        // Honoured up to the cap; then the source is asked once more, and one fetch serves everyone.
        Volatile.Write(ref limited.Value, false);
        clock.Advance(TimeSpan.FromSeconds(1));
        var served = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(() => cache.GetAsync(Request))));
        Assert.All(served, s => Assert.Same(served[0].Collateral, s.Collateral));
        Assert.Equal(upstream + 4, pcs.Requests.Count);
    }

    [Fact]
    public async Task A_429_with_Retry_After_pauses_the_source_for_every_platform()
    {
        var limited = new StrongBox<bool>(true);
        await using var pcs = RateLimitedPcs(limited);
        using var http = new HttpClient();
        var clock = new ManualTimeProvider(_case.Time);
        var options = new PcsCollateralSourceOptions
        {
            BaseAddress = pcs.BaseAddress,
            RootCaCrl = new Uri(pcs.BaseAddress, PcsFixture.RootCrlPath),
            TimeProvider = clock,
        };
        var source = new PcsCollateralSource(http, options);

        var first = await Assert.ThrowsAsync<CollateralFetchException>(() => source.GetCollateralAsync(Request));
        Assert.Equal(HttpStatusCode.TooManyRequests, first.StatusCode);

        // The quota is the key's: another platform is not asked about either, and the error says until when.
        var otherPlatform = new CollateralRequest([0x00, 0x90, 0x6E, 0xA1, 0x00, 0x00], Sgx.TeeType.Sgx, PckCaKind.Processor);
        var paused = await Assert.ThrowsAsync<CollateralFetchException>(() => source.GetCollateralAsync(otherPlatform));
        Assert.Equal(HttpStatusCode.TooManyRequests, paused.StatusCode);
        Assert.Equal(options.MaxRetryAfter, paused.RetryAfter);
        Assert.True(paused.IsTransient);
        Assert.DoesNotContain(pcs.Requests, r => r.Query.Contains(otherPlatform.Fmspc, StringComparison.Ordinal));

        // Honoured up to the cap, then the service is asked again.
        Volatile.Write(ref limited.Value, false);
        clock.Advance(options.MaxRetryAfter);
        var collateral = await source.GetCollateralAsync(otherPlatform);
        Assert.Single(pcs.Requests, r => r.Query.Contains(otherPlatform.Fmspc, StringComparison.Ordinal));
        Assert.Equal(_case.Collateral.TcbInfo, collateral.TcbInfo);
    }

    /// <summary>
    /// Waits until <paramref name="count"/> stops changing: requests of a bundle cancelled after its first failure may
    /// still reach the server a moment after the callers have their answer.
    /// </summary>
    internal static async Task Settle(Func<int> count)
    {
        using var guard = new CancellationTokenSource(Guard);
        var last = -1;
        while (count() != last)
        {
            last = count();
            await Task.Delay(300, guard.Token);
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (!condition())
        {
            await Task.Delay(50, guard.Token);
        }
    }

    [GeneratedRegex("\"signature\"\\s*:\\s*\"([0-9a-fA-F])")]
    private static partial Regex SignatureValue();
}
