using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Veritee.Service;

/// <summary>
/// The admin authority's OpenID metadata and signing keys, cached. At most one fetch is in flight, it runs detached from
/// any request under its own deadline, and a request waits for it only until the request's own cancellation (the
/// request timeout): a slow authority never holds a request or its concurrency slot longer than that. Cached metadata
/// older than <see cref="RefreshAfter"/> is still served while a background fetch replaces it.
/// </summary>
internal sealed partial class OidcMetadata : IDisposable
{
    /// <summary>Age after which cached metadata is refreshed in the background (as IdentityModel's default).</summary>
    internal static readonly TimeSpan RefreshAfter = TimeSpan.FromHours(12);

    /// <summary>Shortest interval between forced refreshes (a token with an unknown key id asks for one).</summary>
    internal static readonly TimeSpan ForcedRefreshInterval = TimeSpan.FromMinutes(5);

    /// <summary>After a failed fetch with nothing cached, requests are refused without a new fetch for this long.</summary>
    internal static readonly TimeSpan FailureBackoff = TimeSpan.FromSeconds(5);

    /// <summary>Longest time one fetch (metadata and keys) may take.</summary>
    internal static readonly TimeSpan FetchDeadline = TimeSpan.FromSeconds(30);

    /// <summary>Largest metadata or key-set document accepted.</summary>
    private const int MaxDocumentBytes = 1024 * 1024;

    private readonly string _address;
    private readonly HttpClient _http;
    private readonly HttpDocumentRetriever _retriever;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private OpenIdConnectConfiguration? _current;
    private long _fetchedAt;
    private long _lastFailure;
    private Task<OpenIdConnectConfiguration?>? _inflight;

    public OidcMetadata(string metadataAddress, bool requireHttps, ILogger logger)
    {
        _address = metadataAddress;
        _logger = logger;
        _http = new HttpClient { Timeout = FetchDeadline, MaxResponseContentBufferSize = MaxDocumentBytes };
        _retriever = new HttpDocumentRetriever(_http) { RequireHttps = requireHttps };
    }

    /// <summary>
    /// The metadata: cached, or from the fetch in flight (started when none is). Throws 503 ServiceUnavailable when the
    /// authority could not be read, and <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/>
    /// fires first (the fetch goes on for the next request).
    /// </summary>
    public async Task<OpenIdConnectConfiguration> GetAsync(CancellationToken cancellationToken)
    {
        Task<OpenIdConnectConfiguration?> fetch;
        lock (_gate)
        {
            if (_current is { } current)
            {
                if (Stopwatch.GetElapsedTime(_fetchedAt) > RefreshAfter)
                {
                    _ = StartFetch();
                }

                return current;
            }

            if (_inflight is null && _lastFailure != 0 && Stopwatch.GetElapsedTime(_lastFailure) < FailureBackoff)
            {
                throw Unreachable();
            }

            fetch = StartFetch();
        }

        return await fetch.WaitAsync(cancellationToken).ConfigureAwait(false) ?? throw Unreachable();
    }

    /// <summary>
    /// Fetches again (keys may have rolled over) unless the last fetch is recent; the new metadata, or null when no
    /// refresh was allowed or it failed.
    /// </summary>
    public async Task<OpenIdConnectConfiguration?> RefreshAsync(CancellationToken cancellationToken)
    {
        Task<OpenIdConnectConfiguration?> fetch;
        lock (_gate)
        {
            if (_inflight is null && _current is not null && Stopwatch.GetElapsedTime(_fetchedAt) < ForcedRefreshInterval)
            {
                return null;
            }

            fetch = StartFetch();
        }

        return await fetch.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _http.Dispose();

    private static MaaException Unreachable() =>
        new(HttpStatusCode.ServiceUnavailable, MaaErrorCodes.ServiceUnavailable, "the OpenID Connect authority is unreachable; retry later");

    /// <summary>The fetch in flight, or a new one; called under the gate.</summary>
    private Task<OpenIdConnectConfiguration?> StartFetch()
    {
        if (_inflight is { } running)
        {
            return running;
        }

        _inflight = Task.Run(FetchAsync);
        return _inflight;
    }

    private async Task<OpenIdConnectConfiguration?> FetchAsync()
    {
        using var deadline = new CancellationTokenSource(FetchDeadline);
        OpenIdConnectConfiguration? configuration = null;
        try
        {
            configuration = await OpenIdConnectConfigurationRetriever.GetAsync(_address, _retriever, deadline.Token).ConfigureAwait(false);
            if (configuration.SigningKeys.Count == 0)
            {
                throw new InvalidOperationException("the authority's key set has no signing keys");
            }
        }
        catch (Exception e)
        {
            // Whatever went wrong (network, deadline, a malformed document), waiting requests get 503, not a fault.
            configuration = null;
            LogFetchFailed(_logger, _address, e.GetType().Name, e.Message);
        }
        finally
        {
            lock (_gate)
            {
                if (configuration is not null)
                {
                    _current = configuration;
                    _fetchedAt = Stopwatch.GetTimestamp();
                }
                else
                {
                    _lastFailure = Stopwatch.GetTimestamp();
                }

                _inflight = null;
            }
        }

        return configuration;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not read the OpenID Connect metadata at {Address}: {ErrorType} {Error}")]
    private static partial void LogFetchFailed(ILogger logger, string address, string errorType, string error);
}
