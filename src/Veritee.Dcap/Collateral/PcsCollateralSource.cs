using System.Globalization;
using System.Net;
using System.Text;
using Veritee.Dcap.X509;
using Veritee.Sgx;

namespace Veritee.Dcap.Collateral;

/// <summary>Something that yields the collateral for a platform: a PCS client, a cache over one, a test double.</summary>
public interface ICollateralSource
{
    /// <summary>The 7-part collateral for <paramref name="request"/>.</summary>
    /// <exception cref="CollateralFetchException">The collateral could not be obtained.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<QuoteCollateral> GetCollateralAsync(CollateralRequest request, CancellationToken cancellationToken = default);
}

/// <summary>Where and how <see cref="PcsCollateralSource"/> fetches.</summary>
public sealed class PcsCollateralSourceOptions
{
    /// <summary>4 MiB: far above any real collateral part (a Platform CA CRL is ~3 KiB, a TDX TCB Info ~15 KiB).</summary>
    public const long DefaultMaxResponseBytes = 4 * 1024 * 1024;

    /// <summary>Intel's production PCS.</summary>
    public static Uri IntelPcs { get; } = new("https://api.trustedservices.intel.com/");

    /// <summary>Azure THIM (Trusted Hardware Identity Management), Intel-signed collateral cached by Microsoft.</summary>
    public static Uri AzureThim { get; } = new("https://global.acccache.azure.net/");

    /// <summary>The Intel SGX Root CA CRL at the root certificate's CRL distribution point (DER).</summary>
    public static Uri IntelRootCaCrl { get; } = new("https://certificates.trustedservices.intel.com/IntelSGXRootCA.der");

    /// <summary>
    /// The PCS-compatible base: <see cref="IntelPcs"/>, a PCCS (e.g. <c>https://pccs.example:8081/</c>) or
    /// <see cref="AzureThim"/>; may carry a path prefix. Paths such as <c>sgx/certification/v4/tcb</c> are resolved under it.
    /// </summary>
    public Uri BaseAddress { get; set; } = IntelPcs;

    /// <summary>
    /// The root CA CRL. Absolute, or relative to <see cref="BaseAddress"/> (PCCS: <c>sgx/certification/v4/rootcacrl</c>,
    /// which serves hex). DER, PEM and hex are all accepted. Default <see cref="IntelRootCaCrl"/>.
    /// </summary>
    public Uri RootCaCrl { get; set; } = IntelRootCaCrl;

    /// <summary>PCS API version, 4 (default) or 3. Version 3 serves SGX only (TCB Info v2).</summary>
    public int ApiVersion { get; set; } = 4;

    /// <summary>Sent as <c>Ocp-Apim-Subscription-Key</c> on PCS API requests (not on the root CRL request), when set.</summary>
    public string? SubscriptionKey { get; set; }

    /// <summary>Extra query appended to every PCS API request, e.g. <c>api-version=…</c> for a service that wants one.</summary>
    public string? AdditionalQuery { get; set; }

    /// <summary>Largest accepted response body; longer bodies are refused while reading.</summary>
    public long MaxResponseBytes { get; set; } = DefaultMaxResponseBytes;

    /// <summary>
    /// After a 429 or 503 with <c>Retry-After</c>, nothing more is sent to the service for that long (at most this; the
    /// quota belongs to the subscription key, not to one platform). Default 10 minutes; zero turns the pause off.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The clock for <see cref="MaxRetryAfter"/> pauses (default the system clock).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Per-request time limit (headers and body) on top of the HttpClient's own <see cref="HttpClient.Timeout"/>, which
    /// covers only the headers; null for none.
    /// </summary>
    public TimeSpan? RequestTimeout { get; set; }
}

/// <summary>
/// Fetches collateral from an Intel PCS-compatible service (Intel PCS v4/v3, PCCS, Azure THIM) over a caller-supplied
/// <see cref="HttpClient"/> (docs/verification.md §4): TCB Info, QE Identity, PCK CRL with their issuer-chain headers, and the root
/// CA CRL. TCB Info and QE Identity bodies are returned byte for byte (their signatures cover the exact bytes); issuer
/// chains are percent-decoded with <see cref="Uri.UnescapeDataString(string)"/> (a literal <c>+</c> stays <c>+</c>);
/// CRLs are normalised to DER from DER, PEM or hex. Every remote failure is a <see cref="CollateralFetchException"/>.
/// Redirects are never followed: a 3xx answer is a <see cref="CollateralFetchFailure.Redirect"/> failure naming its
/// target, and an answer that came from another URL (a client that follows redirects) is refused the same way; give it a
/// client from <see cref="CreateHttpClient"/> so the subscription key never leaves for another origin. When one request
/// fails, the others of the bundle are cancelled. No caching: wrap in <see cref="CachedCollateralSource"/>.
/// </summary>
public sealed class PcsCollateralSource : ICollateralSource
{
    /// <summary>PCS v4 TCB Info issuer chain header.</summary>
    public const string TcbInfoIssuerChainHeader = "TCB-Info-Issuer-Chain";

    /// <summary>PCS v3 (and some PCCS) TCB Info issuer chain header.</summary>
    public const string SgxTcbInfoIssuerChainHeader = "SGX-TCB-Info-Issuer-Chain";

    /// <summary>QE Identity issuer chain header.</summary>
    public const string EnclaveIdentityIssuerChainHeader = "SGX-Enclave-Identity-Issuer-Chain";

    /// <summary>PCK CRL issuer chain header.</summary>
    public const string PckCrlIssuerChainHeader = "SGX-PCK-CRL-Issuer-Chain";

    /// <summary>The PCS subscription key header.</summary>
    public const string SubscriptionKeyHeader = "Ocp-Apim-Subscription-Key";

    private readonly HttpClient _http;
    private readonly PcsCollateralSourceOptions _options;
    private readonly Uri _base;
    private readonly Uri _rootCrl;
    private readonly Lock _pauseGate = new();
    private (DateTimeOffset Until, HttpStatusCode Status)? _pause;

    /// <summary>A source over <paramref name="http"/> with <paramref name="options"/> (default: Intel PCS v4).</summary>
    /// <exception cref="ArgumentException">The options are inconsistent (relative base, API version, size limit).</exception>
    public PcsCollateralSource(HttpClient http, PcsCollateralSourceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http;
        _options = options ?? new PcsCollateralSourceOptions();
        if (!_options.BaseAddress.IsAbsoluteUri)
        {
            throw new ArgumentException($"BaseAddress {_options.BaseAddress} is not absolute", nameof(options));
        }

        if (_options.ApiVersion is not (3 or 4))
        {
            throw new ArgumentException($"ApiVersion {_options.ApiVersion}: only 3 and 4 exist", nameof(options));
        }

        if (_options.MaxResponseBytes <= 0)
        {
            throw new ArgumentException("MaxResponseBytes must be positive", nameof(options));
        }

        var baseText = _options.BaseAddress.AbsoluteUri;
        _base = new Uri(baseText.EndsWith('/') ? baseText : baseText + "/");
        _rootCrl = _options.RootCaCrl.IsAbsoluteUri ? _options.RootCaCrl : new Uri(_base, _options.RootCaCrl.OriginalString.TrimStart('/'));
    }

    /// <summary>
    /// An HttpClient fit for collateral: redirects are not followed (the subscription key must never reach another
    /// origin), connections time out after <paramref name="timeout"/>, as do response headers.
    /// </summary>
    public static HttpClient CreateHttpClient(TimeSpan timeout)
    {
#pragma warning disable CA2000 // The client owns the handler (disposeHandler: true).
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectTimeout = timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
        };
        return new HttpClient(handler, disposeHandler: true) { Timeout = timeout };
#pragma warning restore CA2000
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">TDX with API version 3 (PCS v3 has no TDX routes).</exception>
    public async Task<QuoteCollateral> GetCollateralAsync(CollateralRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Tee == TeeType.Tdx && _options.ApiVersion < 4)
        {
            throw new ArgumentException("TDX collateral needs PCS API v4", nameof(request));
        }

        // The service asked for a pause (429/503 with Retry-After): honoured for every platform, nothing is sent.
        var now = _options.TimeProvider.GetUtcNow();
        (DateTimeOffset Until, HttpStatusCode Status)? pause;
        lock (_pauseGate)
        {
            pause = _pause;
        }

        if (pause is { } p && now < p.Until)
        {
            throw new CollateralFetchException($"{_base}: not asked: after HTTP {(int)p.Status} it asked for a pause until {p.Until:yyyy-MM-ddTHH:mm:ssZ} (Retry-After)")
            {
                Failure = CollateralFetchFailure.HttpStatus,
                Url = _base,
                StatusCode = p.Status,
                RetryAfter = p.Until - now,
                IsTransient = true,
            };
        }

        var tee = request.Tee == TeeType.Tdx ? "tdx" : "sgx";
        var v = "v" + _options.ApiVersion.ToString(CultureInfo.InvariantCulture);
        var update = request.Update is { } u ? "update=" + CollateralRequest.UpdateParameter(u) : null;

        // Start all four, then await all four: one failure does not leave the others running unobserved, and it
        // cancels them (a bundle with one part missing is no use, so a stalled sibling is not waited for).
        using var siblings = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<Response> Start(Uri url, string[] headers, bool api)
        {
            var task = FetchAsync(url, headers, api, siblings.Token);
            _ = task.ContinueWith(static (t, state) => ((CancellationTokenSource)state!).Cancel(), siblings,
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return task;
        }

        var tcbTask = Start(ApiUri($"{tee}/certification/{v}/tcb", "fmspc=" + request.Fmspc, update),
            [TcbInfoIssuerChainHeader, SgxTcbInfoIssuerChainHeader], api: true);
        var qeTask = Start(ApiUri($"{tee}/certification/{v}/qe/identity", update),
            [EnclaveIdentityIssuerChainHeader], api: true);
        var pckCrlTask = Start(ApiUri($"sgx/certification/{v}/pckcrl", "ca=" + CollateralRequest.CaKindParameter(request.CaKind), "encoding=der"),
            [PckCrlIssuerChainHeader], api: true);
        var rootCrlTask = Start(_rootCrl, [], api: false);
        try
        {
            await Task.WhenAll(tcbTask, qeTask, pckCrlTask, rootCrlTask).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Report the first failure in request order (WhenAll's own pick depends on completion order); siblings
            // cancelled because of it are not failures of their own.
            foreach (var task in new[] { tcbTask, qeTask, pckCrlTask, rootCrlTask })
            {
                if (task.IsFaulted && task.Exception!.InnerException is not OperationCanceledException)
                {
                    await task.ConfigureAwait(false);
                }
            }

            throw;
        }

        var tcb = await tcbTask.ConfigureAwait(false);
        var qe = await qeTask.ConfigureAwait(false);
        var pckCrl = await pckCrlTask.ConfigureAwait(false);
        var rootCrl = await rootCrlTask.ConfigureAwait(false);
        return new QuoteCollateral(
            pckCrl.Chain!,
            NormalizeCrl(rootCrl, "root CA CRL"),
            NormalizeCrl(pckCrl, "PCK CRL"),
            tcb.Chain!,
            tcb.Body,
            qe.Chain!,
            qe.Body);
    }

    /// <summary>
    /// Decodes a percent-encoded issuer-chain header value into PEM bytes. Uses <see cref="Uri.UnescapeDataString(string)"/>,
    /// which leaves a literal <c>+</c> alone (form decoding would turn it into a space and break the base64).
    /// </summary>
    public static byte[] DecodeIssuerChainHeader(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Encoding.UTF8.GetBytes(Uri.UnescapeDataString(value.Trim()));
    }

    private static byte[] NormalizeCrl(Response response, string what)
    {
        try
        {
            return CertificateRevocationList.Normalize(response.Body);
        }
        catch (DcapFormatException e)
        {
            throw new CollateralFetchException($"GET {response.Url}: {what} is in no known encoding: {e.Message}", e)
            {
                Failure = CollateralFetchFailure.InvalidContent,
                Url = response.Url,
                StatusCode = response.Status,
            };
        }
    }

    private Uri ApiUri(string path, params string?[] query)
    {
        var parts = query.Where(q => q is not null).ToList();
        if (!string.IsNullOrEmpty(_options.AdditionalQuery))
        {
            parts.Add(_options.AdditionalQuery.TrimStart('?', '&'));
        }

        return new Uri(_base, parts.Count == 0 ? path : path + "?" + string.Join('&', parts));
    }

    private async Task<Response> FetchAsync(Uri url, string[] chainHeaders, bool api, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_options.RequestTimeout is { } timeout)
        {
            limit.CancelAfter(timeout);
        }

        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (api && !string.IsNullOrEmpty(_options.SubscriptionKey))
            {
                request.Headers.TryAddWithoutValidation(SubscriptionKeyHeader, _options.SubscriptionKey);
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token).ConfigureAwait(false);
            if ((int)response.StatusCode is >= 300 and < 400)
            {
                var target = response.Headers.Location is { } location ? new Uri(url, location).AbsoluteUri : "(no Location header)";
                throw new CollateralFetchException($"GET {url}: HTTP {(int)response.StatusCode} redirect to {target}; collateral requests do not follow redirects")
                {
                    Failure = CollateralFetchFailure.Redirect,
                    Url = url,
                    StatusCode = response.StatusCode,
                    IsTransient = true,
                    RequestId = Header(response, "Request-ID"),
                };
            }

            // A client that follows redirects has already sent the request on; at least its answer is not used.
            if (response.RequestMessage?.RequestUri is { } final && final != url)
            {
                throw new CollateralFetchException($"GET {url}: the answer came from {final.AbsoluteUri} (a redirect was followed); collateral requests do not follow redirects")
                {
                    Failure = CollateralFetchFailure.Redirect,
                    Url = url,
                    StatusCode = response.StatusCode,
                    IsTransient = true,
                };
            }

            if (!response.IsSuccessStatusCode)
            {
                var error = StatusError(url, response);
                if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable && error.RetryAfter is { } wait && wait > TimeSpan.Zero)
                {
                    Pause(wait, response.StatusCode);
                }

                throw error;
            }

            byte[]? chain = null;
            if (chainHeaders.Length > 0)
            {
                var value = chainHeaders.Select(h => Header(response, h)).FirstOrDefault(h => h is not null)
                    ?? throw new CollateralFetchException($"GET {url}: response lacks the {chainHeaders[0]} header")
                    {
                        Failure = CollateralFetchFailure.MissingHeader,
                        Url = url,
                        StatusCode = response.StatusCode,
                        RequestId = Header(response, "Request-ID"),
                    };
                chain = DecodeIssuerChainHeader(value);
            }

            var body = await ReadBoundedAsync(url, response, limit.Token).ConfigureAwait(false);
            return new Response(url, response.StatusCode, body, chain);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException e)
        {
            // HttpClient.Timeout surfaces as TaskCanceledException (inner TimeoutException); ours as a cancelled linked token.
            throw new CollateralFetchException($"GET {url}: timed out", e)
            {
                Failure = CollateralFetchFailure.Timeout,
                Url = url,
                IsTransient = true,
            };
        }
        catch (HttpRequestException e)
        {
            throw new CollateralFetchException($"GET {url}: {e.Message}", e)
            {
                Failure = CollateralFetchFailure.Network,
                Url = url,
                StatusCode = e.StatusCode,
                IsTransient = true,
            };
        }
        catch (IOException e)
        {
            throw new CollateralFetchException($"GET {url}: response cut short: {e.Message}", e)
            {
                Failure = CollateralFetchFailure.Network,
                Url = url,
                IsTransient = true,
            };
        }
    }

    private Task<byte[]> ReadBoundedAsync(Uri url, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var max = _options.MaxResponseBytes;
        return BoundedContent.ReadAsync(response.Content, max, declared => new CollateralFetchException(
            $"GET {url}: response body {(declared is { } length ? $"of {length} bytes (Content-Length)" : "read so far")} exceeds the {max}-byte limit")
        {
            Failure = CollateralFetchFailure.ResponseTooLarge,
            Url = url,
            StatusCode = response.StatusCode,
            RequestId = Header(response, "Request-ID"),
        }, cancellationToken);
    }

    private void Pause(TimeSpan wait, HttpStatusCode status)
    {
        var capped = wait < _options.MaxRetryAfter ? wait : _options.MaxRetryAfter;
        var until = _options.TimeProvider.GetUtcNow() + capped;
        lock (_pauseGate)
        {
            if (_pause is not { } current || current.Until < until)
            {
                _pause = (until, status);
            }
        }
    }

    /// <summary>The error for a non-success answer to <paramref name="verb"/> <paramref name="url"/>: status, Error-Code, Retry-After, and whether a retry may help.</summary>
    internal static CollateralFetchException StatusError(Uri url, HttpResponseMessage response, string verb = "GET")
    {
        var status = response.StatusCode;
        var code = (int)status;
        var errorCode = Header(response, "Error-Code");
        var errorMessage = Header(response, "Error-Message");
        TimeSpan? retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - (response.Headers.Date ?? DateTimeOffset.UtcNow),
            _ => null,
        };
        if (retryAfter < TimeSpan.Zero)
        {
            retryAfter = TimeSpan.Zero;
        }

        var detail = new StringBuilder($"{verb} {url}: HTTP {code} {response.ReasonPhrase}");
        if (errorCode is not null || errorMessage is not null)
        {
            detail.Append(CultureInfo.InvariantCulture, $" (Error-Code: {errorCode ?? "-"}, Error-Message: {errorMessage ?? "-"})");
        }

        return new CollateralFetchException(detail.ToString())
        {
            Failure = CollateralFetchFailure.HttpStatus,
            Url = url,
            StatusCode = status,
            ErrorCode = errorCode,
            ErrorMessage = errorMessage,
            RequestId = Header(response, "Request-ID"),
            RetryAfter = retryAfter,
            IsTransient = code >= 500 || status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout,
        };
    }

    /// <summary>A response header by case-insensitive name, unvalidated (the percent-encoded chains are not tokens).</summary>
    internal static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.NonValidated.TryGetValues(name, out var values) ||
            response.Content.Headers.NonValidated.TryGetValues(name, out values))
        {
            foreach (var value in values)
            {
                return value;
            }
        }

        return null;
    }

    private sealed record Response(Uri Url, HttpStatusCode Status, byte[] Body, byte[]? Chain);
}
