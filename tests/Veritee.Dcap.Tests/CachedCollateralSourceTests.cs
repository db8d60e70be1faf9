using System.Globalization;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Sgx;

namespace Veritee.Dcap.Tests;

/// <summary><see cref="CachedCollateralSource"/>: reuse, refresh timing, outage, fail-closed, shared fetches, store.</summary>
public sealed class CachedCollateralSourceTests
{
    private const string Tdx = "tdx-v4-uptodate-2025-07";

    private static readonly TimeSpan Margin = TimeSpan.FromHours(1);

    private readonly VectorCase _case = VectorCase.Load(Tdx);

    private readonly QuoteCollateral _collateral;

    public CachedCollateralSourceTests()
    {
        _collateral = _case.Collateral;
    }

    private CollateralRequest Request => CollateralRequest.FromQuote(_case.Quote);

    /// <summary>The case's collateral window end: min(nextUpdate) of TCB Info, QE Identity and both CRLs.</summary>
    private DateTimeOffset WindowEnd => DateTimeOffset.Parse(
        _case.Json.GetProperty("collateral_window").GetProperty("not_after").GetString()!, CultureInfo.InvariantCulture);

    [Fact]
    public void Validity_names_the_earliest_deadline_of_the_bundle()
    {
        var validity = CollateralValidity.Of(_collateral);
        Assert.Equal(WindowEnd, validity.Earliest.Time);
        Assert.EndsWith("nextUpdate", validity.Earliest.Part, StringComparison.Ordinal);
        Assert.Equal(4 + 6, validity.Deadlines.Count);
        Assert.True(validity.IsValidAt(_case.Time));
        Assert.False(validity.IsValidAt(WindowEnd.AddSeconds(1)));
    }

    [Fact]
    public async Task Repeats_are_served_without_refetching()
    {
        var source = new FakeSource(_collateral);
        var clock = new ManualTimeProvider(_case.Time);
        var cache = new CachedCollateralSource(source, clock);

        var first = await cache.GetAsync(Request);
        clock.Advance(TimeSpan.FromHours(2));
        var second = await cache.GetAsync(Request);
        var third = await cache.GetCollateralAsync(Request);

        Assert.Equal(1, source.Calls);
        Assert.Same(first.Collateral, second.Collateral);
        Assert.Same(first.Collateral, third);
        Assert.Null(second.RefreshError);
        Assert.True(QuoteVerifier.VerifyCold(_case.Quote, third, TrustAnchor.IntelSgxRootCa, clock.Now).IsVerified);
    }

    [Fact]
    public async Task A_bundle_is_refreshed_shortly_before_its_earliest_next_update()
    {
        var source = new FakeSource(_collateral);
        var clock = new ManualTimeProvider(_case.Time);
        var cache = new CachedCollateralSource(source, clock, new CachedCollateralSourceOptions { RefreshMargin = Margin, MaxAge = TimeSpan.FromDays(365) });

        var first = await cache.GetAsync(Request);
        Assert.Equal(WindowEnd - Margin, first.RefreshDue);

        clock.Now = WindowEnd - Margin - TimeSpan.FromSeconds(1);
        _ = await cache.GetAsync(Request);
        Assert.Equal(1, source.Calls);

        clock.Now = WindowEnd - Margin;
        var refreshed = await cache.GetAsync(Request);
        Assert.Equal(2, source.Calls);
        Assert.Equal(clock.Now, refreshed.FetchedAt);
    }

    [Fact]
    public async Task A_bundle_is_refreshed_after_max_age_even_when_its_dates_allow_more()
    {
        var source = new FakeSource(_collateral);
        var clock = new ManualTimeProvider(_case.Time);
        var cache = new CachedCollateralSource(source, clock, new CachedCollateralSourceOptions { MaxAge = TimeSpan.FromHours(24) });

        _ = await cache.GetAsync(Request);
        clock.Advance(TimeSpan.FromHours(23));
        _ = await cache.GetAsync(Request);
        Assert.Equal(1, source.Calls);
        clock.Advance(TimeSpan.FromHours(1));
        _ = await cache.GetAsync(Request);
        Assert.Equal(2, source.Calls);
    }

    [Fact]
    public async Task During_an_outage_the_cached_bundle_is_served_while_valid_then_the_cache_fails_closed()
    {
        var source = new FakeSource(_collateral);
        var clock = new ManualTimeProvider(_case.Time);
        var options = new CachedCollateralSourceOptions { RefreshMargin = Margin, MaxAge = TimeSpan.FromDays(365), RetryInterval = TimeSpan.FromMinutes(1) };
        var cache = new CachedCollateralSource(source, clock, options);
        var good = await cache.GetAsync(Request);

        var outage = new CollateralFetchException("PCS down") { Failure = CollateralFetchFailure.HttpStatus, IsTransient = true };
        source.Failure = outage;

        // Inside the refresh margin, still before nextUpdate: the refresh fails, the old bundle is served.
        clock.Now = WindowEnd - TimeSpan.FromMinutes(30);
        var kept = await cache.GetAsync(Request);
        Assert.Equal(2, source.Calls);
        Assert.Same(good.Collateral, kept.Collateral);
        Assert.True(kept.IsServedDuringOutage);
        Assert.Same(outage, kept.RefreshError);
        Assert.True(QuoteVerifier.VerifyCold(_case.Quote, kept.Collateral, TrustAnchor.IntelSgxRootCa, clock.Now).IsVerified);

        // Within the retry interval the source is left alone.
        clock.Advance(TimeSpan.FromSeconds(30));
        _ = await cache.GetAsync(Request);
        Assert.Equal(2, source.Calls);

        // Retried after the interval, still failing, still valid: served.
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Same(good.Collateral, (await cache.GetAsync(Request)).Collateral);
        Assert.Equal(3, source.Calls);

        // One second before nextUpdate is the last moment; at nextUpdate (QvE counts a deadline equal to the time as
        // expired) the cache fails closed and names the part.
        clock.Now = WindowEnd - TimeSpan.FromSeconds(1);
        Assert.Same(good.Collateral, (await cache.GetAsync(Request)).Collateral);
        clock.Now = WindowEnd;
        var e = await Assert.ThrowsAsync<CollateralExpiredException>(() => cache.GetAsync(Request));
        Assert.Equal(CollateralFetchFailure.Expired, e.Failure);
        Assert.Equal(CollateralValidity.Of(_collateral).Earliest.Part, e.Part);
        Assert.Equal(WindowEnd, e.ExpiredAt);
        Assert.Same(outage, e.InnerException);
        Assert.True(e.IsTransient);
        Assert.Contains(e.Part!, e.Message, StringComparison.Ordinal);
        Assert.Contains("PCS down", e.Message, StringComparison.Ordinal);

        // The source recovers: served again once the remembered failure has lapsed.
        source.Failure = null;
        await Assert.ThrowsAsync<CollateralExpiredException>(() => cache.GetAsync(Request));
        clock.Advance(options.FailureCacheInterval);
        var back = await cache.GetAsync(Request);
        Assert.Null(back.RefreshError);
        Assert.Equal(clock.Now, back.FetchedAt);
    }

    [Fact]
    public async Task With_nothing_cached_the_sources_error_is_passed_on()
    {
        var source = new FakeSource(_collateral) { Failure = new CollateralFetchException("404") { Failure = CollateralFetchFailure.HttpStatus } };
        var cache = new CachedCollateralSource(source, new ManualTimeProvider(_case.Time));

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() => cache.GetAsync(Request));
        Assert.Same(source.Failure, e);

        // Failures are not cached: the next call asks again.
        _ = await Assert.ThrowsAsync<CollateralFetchException>(() => cache.GetAsync(Request));
        Assert.Equal(2, source.Calls);
    }

    [Theory]
    [MemberData(nameof(PcsCollateralSourceTests.Garblings), MemberType = typeof(PcsCollateralSourceTests))]
    public async Task A_garbled_bundle_is_a_typed_error_and_never_replaces_a_good_one(string garbling)
    {
        var garbled = _collateral with { TcbInfo = PcsCollateralSourceTests.Garble(_collateral.TcbInfo, garbling) };

        // Nothing cached: a typed content error.
        var bad = new CachedCollateralSource(new FakeSource(garbled), new ManualTimeProvider(_case.Time));
        var e = await Assert.ThrowsAsync<CollateralFetchException>(() => bad.GetAsync(Request));
        Assert.Equal(CollateralFetchFailure.InvalidContent, e.Failure);
        Assert.IsType<DcapFormatException>(e.InnerException);
        Assert.Contains("TCB Info", e.Message, StringComparison.Ordinal);

        // A good bundle cached: the garbled refresh is treated as a failed refresh.
        var source = new FakeSource(_collateral);
        var clock = new ManualTimeProvider(_case.Time);
        var cache = new CachedCollateralSource(source, clock);
        var good = await cache.GetAsync(Request);
        source.Collateral = garbled;
        clock.Advance(TimeSpan.FromDays(1));
        var kept = await cache.GetAsync(Request);
        Assert.Same(good.Collateral, kept.Collateral);
        Assert.Equal(CollateralFetchFailure.InvalidContent, kept.RefreshError!.Failure);
    }

    [Fact]
    public async Task Concurrent_callers_for_one_key_share_one_fetch()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var source = new FakeSource(_collateral) { Gate = gate.Task };
        var cache = new CachedCollateralSource(source, new ManualTimeProvider(_case.Time));

        var callers = Enumerable.Range(0, 32).Select(_ => Task.Run(() => cache.GetAsync(Request))).ToArray();
        await source.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(100);
        gate.SetResult();
        var results = await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1, source.Calls);
        Assert.All(results, r => Assert.Same(results[0].Collateral, r.Collateral));

        // Another key is another fetch.
        var other = new CollateralRequest(Convert.FromHexString(Request.Fmspc), TeeType.Tdx, PckCaKind.Platform, CollateralUpdate.Early);
        _ = await cache.GetAsync(other);
        Assert.Equal(2, source.Calls);
    }

    [Fact]
    public async Task A_cancelled_caller_stops_waiting_without_cancelling_the_shared_fetch()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var source = new FakeSource(_collateral) { Gate = gate.Task };
        var cache = new CachedCollateralSource(source, new ManualTimeProvider(_case.Time));
        using var cts = new CancellationTokenSource();

        var impatient = cache.GetAsync(Request, cts.Token);
        var patient = cache.GetAsync(Request);
        await source.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => impatient);
        gate.SetResult();

        Assert.Same(_collateral, (await patient).Collateral);
        Assert.Equal(1, source.Calls);
        Assert.NotNull(cache.Peek(Request));
    }

    [Fact]
    public async Task A_bundle_already_expired_at_fetch_is_handed_out_and_asked_for_again_after_the_minimum_interval()
    {
        var source = new FakeSource(_collateral);
        var clock = new ManualTimeProvider(WindowEnd + TimeSpan.FromDays(3));
        var cache = new CachedCollateralSource(source, clock, new CachedCollateralSourceOptions { MinRefreshInterval = TimeSpan.FromMinutes(5) });

        var stale = await cache.GetAsync(Request);
        Assert.False(stale.Validity.IsValidAt(clock.Now));
        Assert.True(QuoteVerifier.VerifyCold(_case.Quote, stale.Collateral, TrustAnchor.IntelSgxRootCa, clock.Now).CollateralExpired);

        clock.Advance(TimeSpan.FromMinutes(4));
        _ = await cache.GetAsync(Request);
        Assert.Equal(1, source.Calls);
        clock.Advance(TimeSpan.FromMinutes(1));
        _ = await cache.GetAsync(Request);
        Assert.Equal(2, source.Calls);

        // And with the source down, an expired bundle is never served from the cache.
        source.Failure = new CollateralFetchException("down") { IsTransient = true };
        clock.Advance(TimeSpan.FromMinutes(5));
        await Assert.ThrowsAsync<CollateralExpiredException>(() => cache.GetAsync(Request));
    }

    [Fact]
    public async Task Nodes_sharing_a_store_share_bundles()
    {
        var store = new InMemoryCollateralCacheStore();
        var clock = new ManualTimeProvider(_case.Time);
        var options = new CachedCollateralSourceOptions { Store = store };
        var sourceA = new FakeSource(_collateral);
        var nodeA = new CachedCollateralSource(sourceA, clock, options);
        var fetched = await nodeA.GetAsync(Request);
        Assert.Equal(1, store.Count);

        // Node B starts later and finds A's bundle: no fetch of its own.
        clock.Advance(TimeSpan.FromHours(1));
        var sourceB = new FakeSource(_collateral);
        var nodeB = new CachedCollateralSource(sourceB, clock, options);
        var adopted = await nodeB.GetAsync(Request);
        Assert.Equal(0, sourceB.Calls);
        Assert.Equal(fetched.FetchedAt, adopted.FetchedAt);

        // Past max age, node A refreshes into the store; node B, due as well, takes A's newer bundle.
        clock.Advance(TimeSpan.FromHours(24));
        _ = await nodeA.GetAsync(Request);
        Assert.Equal(2, sourceA.Calls);
        var fromA = await nodeB.GetAsync(Request);
        Assert.Equal(0, sourceB.Calls);
        Assert.Equal(clock.Now, fromA.FetchedAt);
    }

    [Fact]
    public async Task A_cold_node_serves_a_valid_stored_bundle_while_the_source_is_down()
    {
        var store = new InMemoryCollateralCacheStore();
        var clock = new ManualTimeProvider(_case.Time);
        await store.PutAsync(Request.CacheKey, new StoredCollateral(_collateral, clock.Now - TimeSpan.FromDays(3)), CancellationToken.None);
        var down = new FakeSource(_collateral) { Failure = new CollateralFetchException("down") { IsTransient = true } };
        var cache = new CachedCollateralSource(down, clock, new CachedCollateralSourceOptions { Store = store });

        var served = await cache.GetAsync(Request);
        Assert.Equal(1, down.Calls);
        Assert.True(served.IsServedDuringOutage);
        Assert.Same(_collateral, served.Collateral);

        clock.Now = WindowEnd + TimeSpan.FromMinutes(1);
        var e = await Assert.ThrowsAsync<CollateralExpiredException>(() => cache.GetAsync(Request));
        Assert.Contains("nextUpdate", e.Part, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Store_failures_are_reported_and_do_not_fail_the_fetch()
    {
        var errors = new List<Exception>();
        var source = new FakeSource(_collateral);
        var cache = new CachedCollateralSource(source, new ManualTimeProvider(_case.Time), new CachedCollateralSourceOptions
        {
            Store = new BrokenStore(),
            StoreError = errors.Add,
        });

        var result = await cache.GetAsync(Request);
        Assert.Same(_collateral, result.Collateral);
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.IsType<InvalidOperationException>(e));
    }

    [Fact]
    public async Task The_cache_over_the_loopback_pcs_fetches_once_and_verifies()
    {
        await using var pcs = PcsFixture.ForCase(_case.Folder);
        using var http = new HttpClient();
        var source = new PcsCollateralSource(http, new PcsCollateralSourceOptions
        {
            BaseAddress = pcs.BaseAddress,
            RootCaCrl = new Uri(pcs.BaseAddress, PcsFixture.RootCrlPath),
        });
        var clock = new ManualTimeProvider(_case.Time);
        var cache = new CachedCollateralSource(source, clock);

        for (var i = 0; i < 5; i++)
        {
            var collateral = await cache.GetCollateralAsync(Request);
            Assert.True(QuoteVerifier.VerifyCold(_case.Quote, collateral, TrustAnchor.IntelSgxRootCa, clock.Now).IsVerified);
            clock.Advance(TimeSpan.FromMinutes(10));
        }

        Assert.Equal(4, pcs.Requests.Count);

        // The loopback PCS goes down (HTTP 503) after nextUpdate: the cache fails closed with the server's details.
        pcs.Handler = _ => FixtureResponse.Error(503, "Unavailable", "maintenance");
        clock.Now = WindowEnd + TimeSpan.FromSeconds(1);
        var e = await Assert.ThrowsAsync<CollateralExpiredException>(() => cache.GetAsync(Request));
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, e.StatusCode);
        Assert.Equal("Unavailable", e.ErrorCode);
        Assert.True(e.IsTransient);
    }

    private sealed class FakeSource(QuoteCollateral collateral) : ICollateralSource
    {
        private int _calls;

        public QuoteCollateral Collateral { get; set; } = collateral;

        public CollateralFetchException? Failure { get; set; }

        public Task? Gate { get; init; }

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Calls => Volatile.Read(ref _calls);

        public async Task<QuoteCollateral> GetCollateralAsync(CollateralRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            Started.TrySetResult();
            if (Gate is not null)
            {
                await Gate.WaitAsync(cancellationToken);
            }

            return Failure is { } failure ? throw failure : Collateral;
        }
    }

    private sealed class BrokenStore : ICollateralCacheStore
    {
        public Task<StoredCollateral?> GetAsync(string key, CancellationToken cancellationToken) => throw new InvalidOperationException("database down");

        public Task PutAsync(string key, StoredCollateral value, CancellationToken cancellationToken) => throw new InvalidOperationException("database down");
    }
}
