namespace Veritee.Tokens;

/// <summary>Why an attestation token was rejected. The names are a stable contract (CLI, JSON output, logs).</summary>
public enum MaaTokenFailure
{
    /// <summary>The token is valid.</summary>
    None = 0,

    /// <summary>Not a compact JWS with JSON-object header and claims, or a header the validator does not understand (<c>crit</c>).</summary>
    Malformed,

    /// <summary>The header <c>alg</c> is not exactly <c>RS256</c> (<c>none</c>, HMAC, ECDSA, PSS and everything else are refused).</summary>
    AlgorithmNotAllowed,

    /// <summary>An instance is pinned and the header <c>jku</c> is absent or is not <c>{instance}/certs</c>.</summary>
    JkuMismatch,

    /// <summary>The header <c>kid</c> is absent or not in the pinned key set (the caller may refresh the set and retry).</summary>
    UnknownKid,

    /// <summary>The pinned key with that <c>kid</c> is not an RSA key.</summary>
    KeyNotUsable,

    /// <summary>The pinned signing key's certificate is not issued by the pinned signing-certificate issuer.</summary>
    SigningCertificateMismatch,

    /// <summary>The RS256 signature does not verify with the pinned key.</summary>
    BadSignature,

    /// <summary>The <c>iss</c> claim is absent or not the pinned issuer.</summary>
    IssuerMismatch,

    /// <summary>The token has no <c>exp</c> claim, or <c>nbf</c>/<c>exp</c> are not numbers or are in the wrong order.</summary>
    MissingOrInvalidLifetime,

    /// <summary><c>exp</c> plus the allowed skew is before the validation time.</summary>
    Expired,

    /// <summary><c>nbf</c> minus the allowed skew is after the validation time.</summary>
    NotYetValid,
}

/// <summary>What an attestation token must satisfy. Nothing here comes from the token itself.</summary>
public sealed class MaaTokenValidationOptions
{
    /// <summary>The largest clock skew accepted in the options.</summary>
    public static readonly TimeSpan MaximumClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>The expected <c>iss</c>, compared by exact string equality (MAA: the instance URI without trailing slash).</summary>
    public required string Issuer { get; init; }

    /// <summary>
    /// The pinned instance URI (e.g. <c>https://sharedwus.wus.attest.azure.net</c>). When set, the header <c>jku</c>
    /// must equal <c>{Instance}/certs</c>; it is never fetched either way. Usually equal to <see cref="Issuer"/>.
    /// </summary>
    public string? Instance { get; init; }

    /// <summary>Allowed clock difference for <c>exp</c> and <c>nbf</c> (default 10 s, at most <see cref="MaximumClockSkew"/>).</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>When set, the signing key's certificate issuer name (e.g. <c>CN=https://sharedwus.wus.attest.azure.net</c>) must equal this.</summary>
    public string? SigningCertificateIssuer { get; init; }

    /// <summary>The clock the lifetime is checked against.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The <c>jku</c> an instance-pinned token must carry, or null when no instance is pinned.</summary>
    public string? ExpectedJku => Instance is null ? null : Instance.TrimEnd('/') + "/certs";

    internal void Check()
    {
        if (string.IsNullOrEmpty(Issuer))
        {
            throw new ArgumentException("an issuer must be pinned", nameof(Issuer));
        }

        if (Instance is not null && !Uri.TryCreate(Instance, UriKind.Absolute, out _))
        {
            throw new ArgumentException("the pinned instance must be an absolute URI", nameof(Instance));
        }

        if (ClockSkew < TimeSpan.Zero || ClockSkew > MaximumClockSkew)
        {
            throw new ArgumentOutOfRangeException(nameof(ClockSkew), ClockSkew, "clock skew must be between 0 and 5 minutes");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider);
    }
}

/// <summary>The outcome of validating one attestation token.</summary>
public sealed record MaaTokenValidationResult
{
    /// <summary>True only when every check passed.</summary>
    public bool IsValid => Failure == MaaTokenFailure.None;

    /// <summary>The first check that failed, or <see cref="MaaTokenFailure.None"/>.</summary>
    public required MaaTokenFailure Failure { get; init; }

    /// <summary>A one-line human explanation (no secrets; may quote token header values).</summary>
    public required string Message { get; init; }

    /// <summary>The time the lifetime was (or would have been) checked against.</summary>
    public required DateTimeOffset ValidatedAt { get; init; }

    /// <summary>The header <c>kid</c>, when the header could be read.</summary>
    public string? Kid { get; init; }

    /// <summary>The decoded header, when it could be read.</summary>
    public System.Text.Json.JsonElement? Header { get; init; }

    /// <summary>The verified claims; only set when the token is valid.</summary>
    public System.Text.Json.JsonElement? Claims { get; init; }

    /// <summary>The pinned key that verified the signature; only set when the token is valid.</summary>
    public MaaSigningKey? SigningKey { get; init; }
}
