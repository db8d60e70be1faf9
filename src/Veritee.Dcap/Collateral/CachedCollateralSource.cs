using System.Collections.Concurrent;

namespace Veritee.Dcap.Collateral;

/// <summary>A bundle as kept in a <see cref="ICollateralCacheStore"/>: the raw parts and when they were fetched.</summary>
/// <param name="Collateral">The 7 raw parts, as the source returned them.</param>
/// <param name="FetchedAt">When the source returned them (the cache's clock).</param>
public sealed record StoredCollateral(QuoteCollateral Collateral, DateTimeOffset FetchedAt);

/// <summary>
/// Persistence for <see cref="CachedCollateralSource"/>, so that nodes sharing a database share fetched bundles:
/// a node whose bundle is due first looks here for a newer one before asking the source, and a cold node can serve a
/// stored bundle (while valid) when the source is down. Keys are <see cref="CollateralRequest.CacheKey"/>.
/// Implementations must be thread-safe. Failures are reported to <see cref="CachedCollateralSourceOptions.StoreError"/>
/// and otherwise ignored: the store is an optimisation, never a reason to fail an attestation.
/// </summary>
public interface ICollateralCacheStore
{
    /// <summary>The stored bundle for <paramref name="key"/>, or null.</summary>
    Task<StoredCollateral?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, replacing an older one.</summary>
    Task PutAsync(string key, StoredCollateral value, CancellationToken cancellationToken);
}

/// <summary>An <see cref="ICollateralCacheStore"/> in process memory (single node, tests).</summary>
public sealed class InMemoryCollateralCacheStore : ICollateralCacheStore
{
    private readonly ConcurrentDictionary<string, StoredCollateral> _items = new(StringComparer.Ordinal);

    /// <summary>The number of stored bundles.</summary>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public Task<StoredCollateral?> GetAsync(string key, CancellationToken cancellationToken) =>
        Task.FromResult(_items.TryGetValue(key, out var value) ? value : null);

    /// <inheritdoc/>
    public Task PutAsync(string key, StoredCollateral value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);

        // Never let a slower node overwrite a newer bundle with an older one.
        _items.AddOrUpdate(key, value, (_, existing) => existing.FetchedAt > value.FetchedAt ? existing : value);
        return Task.CompletedTask;
    }
}

/// <summary>Timing of <see cref="CachedCollateralSource"/>.</summary>
public sealed class CachedCollateralSourceOptions
{
    /// <summary>Refresh this long before the bundle's earliest nextUpdate/notAfter. Default 1 hour.</summary>
    public TimeSpan RefreshMargin { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Refresh a bundle at the latest this long after it was fetched, even when its dates allow more (Intel re-issues
    /// TCB Info and CRLs long before nextUpdate, and a TCB recovery should be picked up). Default 24 hours.
    /// </summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// After a failed refresh that left a still-valid bundle in service, wait this long before trying the source again
    /// (so an outage costs one slow request per interval, not one per attestation). Default 1 minute.
    /// </summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A freshly fetched bundle is kept at least this long, even when it is already inside the refresh margin or past
    /// its dates (a source serving stale collateral is not asked again on every call). Default 5 minutes.
    /// </summary>
    public TimeSpan MinRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Shared persistence (database) for bundles; null for none.</summary>
    public ICollateralCacheStore? Store { get; set; }

    /// <summary>Called with any exception the <see cref="Store"/> throws (for logging); the cache carries on without it.</summary>
    public Action<Exception>? StoreError { get; set; }
}

/// <summary>What <see cref="CachedCollateralSource.GetAsync"/> hands out: the bundle and what the cache knows about it.</summary>
/// <param name="Collateral">The bundle.</param>
/// <param name="Validity">Its deadlines; <see cref="CollateralValidity.Earliest"/> is when it goes stale.</param>
/// <param name="FetchedAt">When the source returned it.</param>
/// <param name="RefreshDue">When the cache will next ask the source (or the store) for a newer one.</param>
/// <param name="RefreshError">
/// Non-null when the last refresh failed and this older, still-valid bundle is being served in its place.
/// </param>
public sealed record CachedCollateral(
    QuoteCollateral Collateral,
    CollateralValidity Validity,
    DateTimeOffset FetchedAt,
    DateTimeOffset RefreshDue,
    CollateralFetchException? RefreshError)
{
    /// <summary>True when served after a failed refresh (see <see cref="RefreshError"/>).</summary>
    public bool IsServedDuringOutage => RefreshError is not null;
}

/// <summary>
/// A cache over an <see cref="ICollateralSource"/> (normally <see cref="PcsCollateralSource"/>), keyed by
/// <see cref="CollateralRequest"/> (FMSPC, TEE, CA kind, update channel).
/// <list type="bullet">
/// <item>A bundle is served from memory until <see cref="CachedCollateralSourceOptions.RefreshMargin"/> before its
/// earliest nextUpdate (TCB Info, QE Identity, both CRLs) or certificate notAfter (issuer chains), or until
/// <see cref="CachedCollateralSourceOptions.MaxAge"/>, whichever is first; then it is refreshed.</item>
/// <item>When a refresh fails (or returns parts that do not parse), the cached bundle keeps being served while it is
/// within its dates; once it is not, the cache fails closed with <see cref="CollateralExpiredException"/> naming the
/// expired part. A bundle is never replaced by one that does not parse.</item>
/// <item>Concurrent callers for the same key share one fetch; a caller's cancellation stops its wait, not the fetch.</item>
/// <item>A bundle the source returns already past its dates is handed out as is (Intel's semantics: expiry is a
/// verification finding, <see cref="Verification.VerificationResult.CollateralExpired"/>, not a fetch failure).</item>
/// </list>
/// Signatures are not checked here; the verifier checks every bundle it is given.
/// </summary>
public sealed class CachedCollateralSource : ICollateralSource
{
    private readonly ICollateralSource _source;
    private readonly TimeProvider _time;
    private readonly CachedCollateralSourceOptions _options;
    private readonly ConcurrentDictionary<CollateralRequest, CachedCollateral> _entries = new();
    private readonly Dictionary<CollateralRequest, Task<CachedCollateral>> _inflight = [];
    private readonly Lock _gate = new();

    /// <summary>A cache over <paramref name="source"/>, on <paramref name="timeProvider"/>'s clock (default system).</summary>
    public CachedCollateralSource(ICollateralSource source, TimeProvider? timeProvider = null, CachedCollateralSourceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        _time = timeProvider ?? TimeProvider.System;
        _options = options ?? new CachedCollateralSourceOptions();
    }

    /// <inheritdoc/>
    public async Task<QuoteCollateral> GetCollateralAsync(CollateralRequest request, CancellationToken cancellationToken = default) =>
        (await GetAsync(request, cancellationToken).ConfigureAwait(false)).Collateral;

    /// <summary>The bundle for <paramref name="request"/>, from memory, the store or the source.</summary>
    /// <exception cref="CollateralFetchException">Nothing usable: the source failed and no valid bundle is cached
    /// (<see cref="CollateralExpiredException"/> when the cached one is past its dates).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (the shared fetch continues).</exception>
    public async Task<CachedCollateral> GetAsync(CollateralRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_entries.TryGetValue(request, out var entry) && _time.GetUtcNow() < entry.RefreshDue)
        {
            return entry;
        }

        Task<CachedCollateral>? shared;
        TaskCompletionSource<CachedCollateral>? owner = null;
        lock (_gate)
        {
            if (!_inflight.TryGetValue(request, out shared))
            {
                owner = new TaskCompletionSource<CachedCollateral>(TaskCreationOptions.RunContinuationsAsynchronously);
                shared = owner.Task;
                _inflight[request] = shared;
            }
        }

        if (owner is not null)
        {
            _ = RunRefreshAsync(request, owner);
        }

        return await shared.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The bundle in memory for <paramref name="request"/>, without any fetch; null when none.</summary>
    public CachedCollateral? Peek(CollateralRequest request) => _entries.TryGetValue(request, out var entry) ? entry : null;

    private async Task RunRefreshAsync(CollateralRequest request, TaskCompletionSource<CachedCollateral> owner)
    {
        try
        {
            owner.SetResult(await RefreshAsync(request).ConfigureAwait(false));
        }
#pragma warning disable CA1031 // Every outcome, whatever its type, goes to the waiting callers.
        catch (Exception e)
#pragma warning restore CA1031
        {
            owner.SetException(e);
        }
        finally
        {
            lock (_gate)
            {
                _inflight.Remove(request);
            }
        }
    }

    private async Task<CachedCollateral> RefreshAsync(CollateralRequest request)
    {
        var key = request.CacheKey;
        var current = Peek(request);

        // Another node may already have refreshed this bundle into the shared store.
        if (_options.Store is { } store && await StoreGetAsync(store, key).ConfigureAwait(false) is { } stored &&
            (current is null || stored.FetchedAt > current.FetchedAt))
        {
            var now = _time.GetUtcNow();
            try
            {
                var adopted = Entry(stored.Collateral, CollateralValidity.Of(stored.Collateral), stored.FetchedAt, fresh: false);
                if (now < adopted.RefreshDue)
                {
                    _entries[request] = adopted;
                    return adopted;
                }

                // Due as well, but newer than ours: the fallback if the source fails.
                current = adopted;
            }
            catch (DcapFormatException e)
            {
                _options.StoreError?.Invoke(e);
            }
        }

        try
        {
            var collateral = await _source.GetCollateralAsync(request, CancellationToken.None).ConfigureAwait(false);
            CollateralValidity validity;
            try
            {
                validity = CollateralValidity.Of(collateral);
            }
            catch (DcapFormatException e)
            {
                throw new CollateralFetchException($"collateral for {key}: the source returned a bundle that does not parse: {e.Message}", e)
                {
                    Failure = CollateralFetchFailure.InvalidContent,
                };
            }

            var fetchedAt = _time.GetUtcNow();
            var entry = Entry(collateral, validity, fetchedAt, fresh: true);
            _entries[request] = entry;
            if (_options.Store is { } target)
            {
                await StorePutAsync(target, key, new StoredCollateral(collateral, fetchedAt)).ConfigureAwait(false);
            }

            return entry;
        }
        catch (CollateralFetchException e)
        {
            var now = _time.GetUtcNow();
            if (current is null)
            {
                throw;
            }

            if (current.Validity.IsValidAt(now))
            {
                var retry = now + _options.RetryInterval;
                var kept = current with
                {
                    RefreshDue = retry < current.Validity.Earliest.Time ? retry : current.Validity.Earliest.Time,
                    RefreshError = e,
                };
                _entries[request] = kept;
                return kept;
            }

            var earliest = current.Validity.Earliest;
            throw new CollateralExpiredException(
                $"collateral for {key}: {earliest.Part} {earliest.Time:yyyy-MM-ddTHH:mm:ssZ} has passed and the refresh failed: {e.Message}", e)
            {
                Part = earliest.Part,
                ExpiredAt = earliest.Time,
                Url = e.Url,
                StatusCode = e.StatusCode,
                ErrorCode = e.ErrorCode,
                ErrorMessage = e.ErrorMessage,
                RequestId = e.RequestId,
                RetryAfter = e.RetryAfter,
                IsTransient = e.IsTransient,
            };
        }
    }

    /// <summary>A cache entry; <paramref name="fresh"/> bundles (just from the source) are kept at least MinRefreshInterval.</summary>
    private CachedCollateral Entry(QuoteCollateral collateral, CollateralValidity validity, DateTimeOffset fetchedAt, bool fresh)
    {
        var byDates = validity.Earliest.Time - _options.RefreshMargin;
        var byAge = fetchedAt + _options.MaxAge;
        var due = byDates < byAge ? byDates : byAge;
        var floor = fetchedAt + _options.MinRefreshInterval;
        return new CachedCollateral(collateral, validity, fetchedAt, fresh && due < floor ? floor : due, null);
    }

    private async Task<StoredCollateral?> StoreGetAsync(ICollateralCacheStore store, string key)
    {
        try
        {
            return await store.GetAsync(key, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The store is an optimisation; its failures are reported, not fatal.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _options.StoreError?.Invoke(e);
            return null;
        }
    }

    private async Task StorePutAsync(ICollateralCacheStore store, string key, StoredCollateral value)
    {
        try
        {
            await store.PutAsync(key, value, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The store is an optimisation; its failures are reported, not fatal.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _options.StoreError?.Invoke(e);
        }
    }
}
