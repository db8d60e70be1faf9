using System.Collections.Concurrent;
using Veritee.Dcap.Verification;
using Veritee.Dcap.X509;
using Veritee.Sgx;

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

    /// <summary>
    /// Longest time one shared fetch (every request of the bundle, headers and bodies, and the store look-up) may take;
    /// past it the fetch is cancelled and its waiting callers get a transient <see cref="CollateralFetchFailure.Timeout"/>.
    /// Default 10 seconds.
    /// </summary>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// After a transient failure with no usable bundle (source down, timed out, or an answer that failed verification),
    /// callers get that failure again for this long without the source being asked (unless the source's
    /// <c>Retry-After</c> asks for longer, up to <see cref="MaxRetryAfter"/>). Default 10 seconds.
    /// </summary>
    public TimeSpan FailureCacheInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest <c>Retry-After</c> honoured (a longer one is cut to this). Default 10 minutes.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The root every bundle's chains must lead to before it is cached or stored (default the Intel SGX Root CA).
    /// </summary>
    public TrustAnchor TrustAnchor { get; set; } = TrustAnchor.IntelSgxRootCa;

    /// <summary>The verifier for bundles (share the one that verifies quotes, so its memo serves both); null: a private one.</summary>
    public QuoteVerifier? Verifier { get; set; }

    /// <summary>
    /// Called when a bundle is refused before it enters the cache (from the source, or read back from the store): it
    /// does not parse, its chains or signatures do not verify, or it describes another platform. For metrics and logs.
    /// </summary>
    public Action<CollateralRejection>? Rejected { get; set; }

    /// <summary>Shared persistence (database) for bundles; null for none.</summary>
    public ICollateralCacheStore? Store { get; set; }

    /// <summary>Called with any exception the <see cref="Store"/> throws (for logging); the cache carries on without it.</summary>
    public Action<Exception>? StoreError { get; set; }
}

/// <summary>A bundle <see cref="CachedCollateralSource"/> refused to cache.</summary>
/// <param name="Request">The platform it was for.</param>
/// <param name="Origin"><c>source</c> (just fetched) or <c>store</c> (read back from the shared store).</param>
/// <param name="Error">Why (<see cref="CollateralFetchFailure.Untrusted"/> or <see cref="CollateralFetchFailure.InvalidContent"/>).</param>
public sealed record CollateralRejection(CollateralRequest Request, string Origin, CollateralFetchException Error);

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
/// <item>Concurrent callers for the same key share one fetch; a caller's cancellation stops its wait, not the fetch.
/// The fetch itself has a deadline (<see cref="CachedCollateralSourceOptions.FetchTimeout"/>) and is cancelled there.</item>
/// <item>A transient failure with nothing usable cached is remembered briefly
/// (<see cref="CachedCollateralSourceOptions.FailureCacheInterval"/>, or the source's <c>Retry-After</c> up to
/// <see cref="CachedCollateralSourceOptions.MaxRetryAfter"/>): callers get it again without the source being asked.</item>
/// <item>A bundle the source returns already past its dates is handed out as is (Intel's semantics: expiry is a
/// verification finding, <see cref="Verification.VerificationResult.CollateralExpired"/>, not a fetch failure).</item>
/// <item>Before a bundle enters the cache or the store (from the source or read back from the store) its chains and
/// signatures are verified to <see cref="CachedCollateralSourceOptions.TrustAnchor"/> and it must describe the platform
/// asked for; a bundle that fails is refused like a failed fetch (<see cref="CollateralFetchFailure.Untrusted"/>,
/// transient) and reported to <see cref="CachedCollateralSourceOptions.Rejected"/>, and the previous good one stays.</item>
/// </list>
/// </summary>
public sealed class CachedCollateralSource : ICollateralSource
{
    private readonly ICollateralSource _source;
    private readonly TimeProvider _time;
    private readonly CachedCollateralSourceOptions _options;
    private readonly ConcurrentDictionary<CollateralRequest, CachedCollateral> _entries = new();
    private readonly Dictionary<CollateralRequest, Task<CachedCollateral>> _inflight = [];
    private readonly ConcurrentDictionary<CollateralRequest, (DateTimeOffset Until, CollateralFetchException Error)> _failures = new();
    private readonly Lock _gate = new();
    private readonly QuoteVerifier _verifier;

    /// <summary>A cache over <paramref name="source"/>, on <paramref name="timeProvider"/>'s clock (default system).</summary>
    public CachedCollateralSource(ICollateralSource source, TimeProvider? timeProvider = null, CachedCollateralSourceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        _time = timeProvider ?? TimeProvider.System;
        _options = options ?? new CachedCollateralSourceOptions();
        ArgumentNullException.ThrowIfNull(_options.TrustAnchor);
        if (_options.FetchTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("FetchTimeout must be positive", nameof(options));
        }

        _verifier = _options.Verifier ?? new QuoteVerifier(new VerificationCache(1024));
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
        var now = _time.GetUtcNow();
        if (_entries.TryGetValue(request, out var entry) && now < entry.RefreshDue)
        {
            return entry;
        }

        // A recent transient failure with nothing usable: answer it again rather than ask the source again.
        if (_failures.TryGetValue(request, out var failure) && now < failure.Until)
        {
            throw Remembered(failure.Error, failure.Until, now);
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
            var result = await RefreshAsync(request).ConfigureAwait(false);
            _failures.TryRemove(request, out _);
            owner.SetResult(result);
        }
#pragma warning disable CA1031 // Every outcome, whatever its type, goes to the waiting callers.
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (e is CollateralFetchException { IsTransient: true } transient)
            {
                var now = _time.GetUtcNow();
                if (_failures.Count > 10_000)
                {
                    // Many platforms failing at once (a bulk of made-up requests): forget rather than grow.
                    _failures.Clear();
                }

                _failures[request] = (now + Backoff(transient), transient);
            }

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

        // One deadline for the whole fetch (store look-up, every request, headers and bodies), on the wall clock. Its
        // start is also read on the clock .NET timers run on, so that a timeout of the source's own (a per-request
        // limit, HttpClient.Timeout) as long as this one, and so firing with it, is still reported as this deadline:
        // timers due together fire in no set order (all but one are queued to the thread pool).
        var started = Environment.TickCount64;
        using var deadline = new CancellationTokenSource(_options.FetchTimeout);

        // Another node may already have refreshed this bundle into the shared store.
        if (_options.Store is { } store && await StoreGetAsync(store, key, deadline.Token).ConfigureAwait(false) is { } stored &&
            (current is null || stored.FetchedAt > current.FetchedAt))
        {
            var now = _time.GetUtcNow();
            try
            {
                var adopted = Entry(stored.Collateral, Check(request, stored.Collateral, now), stored.FetchedAt, fresh: false);
                if (now < adopted.RefreshDue)
                {
                    _entries[request] = adopted;
                    return adopted;
                }

                // Due as well, but newer than ours: the fallback if the source fails.
                current = adopted;
            }
            catch (CollateralFetchException e)
            {
                // Not from this node's checks (an older node, a damaged row): never adopted, the source is asked instead.
                _options.Rejected?.Invoke(new CollateralRejection(request, "store", e));
                _options.StoreError?.Invoke(e);
            }
        }

        try
        {
            QuoteCollateral collateral;
            try
            {
                collateral = await _source.GetCollateralAsync(request, deadline.Token).WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (deadline.IsCancellationRequested)
            {
                throw FetchTimedOut(key, e, null);
            }
            catch (CollateralFetchException e) when (e.Failure == CollateralFetchFailure.Timeout &&
                (deadline.IsCancellationRequested || Environment.TickCount64 - started >= (long)_options.FetchTimeout.TotalMilliseconds))
            {
                // The source's own timer won the race with the deadline: still the fetch timeout, with its detail.
                throw FetchTimedOut(key, e, e.Message);
            }

            var fetchedAt = _time.GetUtcNow();
            CollateralValidity validity;
            try
            {
                validity = Check(request, collateral, fetchedAt);
            }
            catch (CollateralFetchException e)
            {
                _options.Rejected?.Invoke(new CollateralRejection(request, "source", e));
                throw;
            }

            var entry = Entry(collateral, validity, fetchedAt, fresh: true);
            _entries[request] = entry;
            if (_options.Store is { } target)
            {
                await StorePutAsync(target, key, new StoredCollateral(collateral, fetchedAt), deadline.Token).ConfigureAwait(false);
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
                var wait = Backoff(e) > _options.RetryInterval ? Backoff(e) : _options.RetryInterval;
                var retry = now + wait;
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

    /// <summary>
    /// The bundle's deadlines, once it parses, its chains and signatures verify to the trust anchor, and it is for the
    /// platform asked for (FMSPC, TEE, QE kind, PCK CA); otherwise a transient <see cref="CollateralFetchException"/>
    /// (a service answering garbage or forgeries may answer correctly on the next try).
    /// </summary>
    private CollateralValidity Check(CollateralRequest request, QuoteCollateral collateral, DateTimeOffset now)
    {
        var key = request.CacheKey;
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
                IsTransient = true,
            };
        }

        var result = _verifier.VerifyCollateral(collateral, _options.TrustAnchor, now);
        string? mismatch = null;
        if (result.IsVerified)
        {
            var tcb = result.TcbInfo!;
            var qeId = EnclaveIdentity.Parse(collateral.QeIdentity).Id;
            var crlIssuer = CertificateRevocationList.Parse(collateral.PckCrl).IssuerCommonName;
            var tdx = request.Tee == TeeType.Tdx;
            mismatch = !string.Equals(Hex.Upper(tcb.Fmspc), request.Fmspc, StringComparison.Ordinal) ? $"TCB Info is for FMSPC {Hex.Upper(tcb.Fmspc)}"
                : tcb.IsTdx != tdx ? $"TCB Info id {tcb.Id} does not describe a {request.Tee} platform"
                : qeId != (tdx ? "TD_QE" : "QE") ? $"QE Identity id {qeId} does not describe a {request.Tee} quoting enclave"
                : !crlIssuer.Contains(request.CaKind == PckCaKind.Platform ? "Platform" : "Processor", StringComparison.Ordinal) ? $"PCK CRL is issued by '{crlIssuer}'"
                : null;
        }

        if (!result.IsVerified || mismatch is not null)
        {
            var why = mismatch is null ? $"{result.Status.Name()}: {result.Detail}" : mismatch;
            throw new CollateralFetchException($"collateral for {key}: the bundle fails verification and was not cached ({why})")
            {
                Failure = CollateralFetchFailure.Untrusted,
                IsTransient = true,
            };
        }

        return validity;
    }

    /// <summary>The fetch deadline passed: transient, naming the limit (and what the source saw, when it said).</summary>
    private CollateralFetchException FetchTimedOut(string key, Exception cause, string? detail) =>
        new($"collateral for {key}: no complete answer within the {_options.FetchTimeout.TotalSeconds:0.###} s fetch timeout" +
            (detail is null ? string.Empty : $" ({detail})"), cause)
        {
            Failure = CollateralFetchFailure.Timeout,
            Url = (cause as CollateralFetchException)?.Url,
            IsTransient = true,
        };

    /// <summary>How long to leave the source alone after <paramref name="e"/>: its Retry-After (capped) or the failure interval.</summary>
    private TimeSpan Backoff(CollateralFetchException e)
    {
        var wait = e.RetryAfter is { } retryAfter && retryAfter > _options.FailureCacheInterval ? retryAfter : _options.FailureCacheInterval;
        return wait < _options.MaxRetryAfter ? wait : _options.MaxRetryAfter;
    }

    /// <summary>A remembered failure, answered again with when the source will next be asked.</summary>
    private static CollateralFetchException Remembered(CollateralFetchException e, DateTimeOffset until, DateTimeOffset now)
    {
        var message = $"{e.Message} (remembered; the source is asked again after {until:yyyy-MM-ddTHH:mm:ssZ})";
        return e is CollateralExpiredException expired
            ? new CollateralExpiredException(message, expired, until - now)
            : new CollateralFetchException(message, e, until - now);
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

    private async Task<StoredCollateral?> StoreGetAsync(ICollateralCacheStore store, string key, CancellationToken cancellationToken)
    {
        try
        {
            return await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The store is an optimisation; its failures are reported, not fatal.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _options.StoreError?.Invoke(e);
            return null;
        }
    }

    private async Task StorePutAsync(ICollateralCacheStore store, string key, StoredCollateral value, CancellationToken cancellationToken)
    {
        try
        {
            await store.PutAsync(key, value, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The store is an optimisation; its failures are reported, not fatal.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _options.StoreError?.Invoke(e);
        }
    }
}
