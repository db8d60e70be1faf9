using System.Net;

namespace Veritee.Dcap.Collateral;

/// <summary>What went wrong while obtaining collateral.</summary>
public enum CollateralFetchFailure
{
    /// <summary>Unclassified.</summary>
    Unknown,

    /// <summary>The server answered with a non-success HTTP status (<see cref="CollateralFetchException.StatusCode"/>).</summary>
    HttpStatus,

    /// <summary>No complete answer within the time allowed (HttpClient timeout or the request timeout option).</summary>
    Timeout,

    /// <summary>Connection refused/reset, DNS, TLS or a body cut short.</summary>
    Network,

    /// <summary>The response body exceeded the configured size limit.</summary>
    ResponseTooLarge,

    /// <summary>A required issuer-chain header was absent.</summary>
    MissingHeader,

    /// <summary>A part does not parse (e.g. a truncated TCB Info, a CRL in no known encoding).</summary>
    InvalidContent,

    /// <summary>The source failed and the cached collateral is past its nextUpdate/notAfter (<see cref="CollateralExpiredException"/>).</summary>
    Expired,

    /// <summary>
    /// The bundle parses but its chains or signatures do not verify to the trust anchor, or it describes another
    /// platform: refused before it is cached (a forgery, a misconfigured cache, or a service answering garbage).
    /// </summary>
    Untrusted,

    /// <summary>The server answered with a redirect; collateral requests never follow one (the subscription key would go along).</summary>
    Redirect,
}

/// <summary>
/// Collateral could not be obtained. The only exception type (besides <see cref="OperationCanceledException"/> for
/// the caller's own cancellation) that <see cref="PcsCollateralSource"/> and <see cref="CachedCollateralSource"/> throw
/// for remote or content failures; it carries the URL, HTTP status, Intel's <c>Error-Code</c>/<c>Error-Message</c>
/// and whether a retry may help.
/// </summary>
public class CollateralFetchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CollateralFetchException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public CollateralFetchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public CollateralFetchException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// A remembered failure answered again: the same details as <paramref name="remembered"/> (its cause), a new
    /// message, and the time until the source is asked again as <see cref="RetryAfter"/>.
    /// </summary>
    internal CollateralFetchException(string message, CollateralFetchException remembered, TimeSpan retryAfter)
        : base(message, remembered)
    {
        Failure = remembered.Failure;
        Url = remembered.Url;
        StatusCode = remembered.StatusCode;
        ErrorCode = remembered.ErrorCode;
        ErrorMessage = remembered.ErrorMessage;
        RequestId = remembered.RequestId;
        RetryAfter = retryAfter;
        IsTransient = true;
    }

    /// <summary>The kind of failure.</summary>
    public CollateralFetchFailure Failure { get; init; }

    /// <summary>The URL requested, when the failure concerns one request.</summary>
    public Uri? Url { get; init; }

    /// <summary>The HTTP status of the response, when there was one.</summary>
    public HttpStatusCode? StatusCode { get; init; }

    /// <summary>Intel PCS/PCCS <c>Error-Code</c> response header, when present.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Intel PCS/PCCS <c>Error-Message</c> response header, when present.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>The <c>Request-ID</c> response header, when present (quote it to Intel support).</summary>
    public string? RequestId { get; init; }

    /// <summary>The server's <c>Retry-After</c>, when given.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// True when a later retry may succeed: timeouts, network errors, HTTP 408/429/5xx, redirects (refused, and
    /// possibly temporary), and bundles the cache refused (garbled or failing verification: the service may answer
    /// correctly next time). False for other 4xx (404 unknown FMSPC, 410 evaluation number withdrawn, 401/403 key),
    /// size and header failures and unparseable parts from <see cref="PcsCollateralSource"/>.
    /// </summary>
    public bool IsTransient { get; init; }
}

/// <summary>
/// The source could not be reached (or answered garbage) and the cached collateral is no longer valid: the cache
/// fails closed. <see cref="Part"/> names the expired part.
/// </summary>
public sealed class CollateralExpiredException : CollateralFetchException
{
    /// <summary>Creates the exception.</summary>
    public CollateralExpiredException()
    {
        Failure = CollateralFetchFailure.Expired;
    }

    /// <summary>Creates the exception with a message.</summary>
    public CollateralExpiredException(string message)
        : base(message)
    {
        Failure = CollateralFetchFailure.Expired;
    }

    /// <summary>Creates the exception with a message and the refresh failure as cause.</summary>
    public CollateralExpiredException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Failure = CollateralFetchFailure.Expired;
    }

    /// <summary>A remembered expiry answered again (see the base class's constructor of the same shape).</summary>
    internal CollateralExpiredException(string message, CollateralExpiredException remembered, TimeSpan retryAfter)
        : base(message, remembered, retryAfter)
    {
        Part = remembered.Part;
        ExpiredAt = remembered.ExpiredAt;
    }

    /// <summary>The part that expired first, e.g. <c>TCB Info nextUpdate</c> or <c>PCK CRL nextUpdate</c>.</summary>
    public string? Part { get; init; }

    /// <summary>When that part expired.</summary>
    public DateTimeOffset? ExpiredAt { get; init; }
}
