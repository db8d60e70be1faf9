using System.Security.Cryptography.X509Certificates;

namespace Veritee.Client;

/// <summary>
/// Options shared by <see cref="AttestationClient"/> and <see cref="AttestationAdministrationClient"/>. Nothing here
/// loosens token validation: tokens are always checked against the pinned instance's <c>/certs</c>.
/// </summary>
public sealed record AttestationClientOptions
{
    /// <summary>The api-version sent when none is chosen (MAA's current GA version).</summary>
    public const string DefaultApiVersion = "2022-08-01";

    /// <summary>The api-version sent to <c>/attest/TdxVm</c> when none is chosen (the first GA version with TdxVm).</summary>
    public const string DefaultTdxApiVersion = "2025-06-01";

    /// <summary>The api-version Microsoft's CVM attestation tools send to <c>/attest/TdxVm</c> (not in the published specs).</summary>
    public const string CvmToolsTdxApiVersion = "2023-04-01-preview";

    /// <summary>The largest accepted clock skew (the token validator refuses more).</summary>
    public static readonly TimeSpan MaximumClockSkew = Veritee.Tokens.MaaTokenValidationOptions.MaximumClockSkew;

    /// <summary>The <c>api-version</c> query parameter (default <see cref="DefaultApiVersion"/>).</summary>
    public string ApiVersion { get; init; } = DefaultApiVersion;

    /// <summary>
    /// The <c>api-version</c> of <c>POST /attest/TdxVm</c> (default <see cref="DefaultTdxApiVersion"/>; MAA serves TdxVm
    /// only from 2023-04-01-preview on). <see cref="CvmToolsTdxApiVersion"/> sends what Microsoft's CVM tools send.
    /// </summary>
    public string TdxApiVersion { get; init; } = DefaultTdxApiVersion;

    /// <summary>
    /// An HttpClient to send requests with (its lifetime stays with the caller). When null the client creates its own,
    /// from <see cref="Handler"/> when set.
    /// </summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>A handler for the client's own HttpClient (ignored when <see cref="HttpClient"/> is set; not disposed by the client).</summary>
    public HttpMessageHandler? Handler { get; init; }

    /// <summary>
    /// Extra certificate authorities (or self-signed server certificates) trusted for the endpoint's TLS certificate,
    /// in addition to the system store; the host name must still match. Only used when the client builds its own handler.
    /// </summary>
    public IReadOnlyList<X509Certificate2>? TrustedServerCertificates { get; init; }

    /// <summary>The clock tokens' <c>exp</c>/<c>nbf</c> are checked against.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Allow plain http to a non-loopback host (the signing keys then travel unprotected). Off by default.</summary>
    public bool AllowInsecureHttp { get; init; }

    /// <summary>Allowed clock difference for <c>exp</c>/<c>nbf</c> (default 10 s, at most 5 minutes).</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>When set, the token signing certificate's issuer name must equal this (e.g. <c>CN=https://x.wus.attest.azure.net</c>).</summary>
    public string? SigningCertificateIssuer { get; init; }

    /// <summary>Timeout of one HTTP request when the client builds its own HttpClient (default 100 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    internal void Check()
    {
        if (!IsApiVersionToken(ApiVersion))
        {
            throw new ArgumentException("api-version must be a non-empty token such as 2022-08-01", nameof(ApiVersion));
        }

        if (!IsApiVersionToken(TdxApiVersion))
        {
            throw new ArgumentException("the TdxVm api-version must be a non-empty token such as 2025-06-01", nameof(TdxApiVersion));
        }

        if (ClockSkew < TimeSpan.Zero || ClockSkew > MaximumClockSkew)
        {
            throw new ArgumentOutOfRangeException(nameof(ClockSkew), ClockSkew, "clock skew must be between 0 and 5 minutes");
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, "the request timeout must be positive");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    private static bool IsApiVersionToken(string? version) =>
        !string.IsNullOrWhiteSpace(version) && version.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '.');
}

/// <summary>
/// Supplies the bearer token sent in <c>Authorization</c> for policy and signer management (an AAD access token for
/// scope <c>https://attest.azure.net/.default</c> on Azure, the administrator token on <c>veritee serve</c>).
/// </summary>
public abstract class AttestationCredential
{
    /// <summary>Returns the bearer token for the next request.</summary>
    public abstract ValueTask<string> GetTokenAsync(CancellationToken cancellationToken);

    /// <summary>A credential that always returns <paramref name="token"/>.</summary>
    public static AttestationCredential FromToken(string token)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(token);
        return new Callback(_ => ValueTask.FromResult(token));
    }

    /// <summary>A credential that asks <paramref name="getToken"/> for each request (e.g. to refresh an AAD token).</summary>
    public static AttestationCredential FromCallback(Func<CancellationToken, ValueTask<string>> getToken)
    {
        ArgumentNullException.ThrowIfNull(getToken);
        return new Callback(getToken);
    }

    private sealed class Callback(Func<CancellationToken, ValueTask<string>> getToken) : AttestationCredential
    {
        public override ValueTask<string> GetTokenAsync(CancellationToken cancellationToken) => getToken(cancellationToken);
    }
}
