using System.Globalization;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Veritee.Tokens;

/// <summary>
/// Validates MAA attestation (and policy/certificate result) tokens and fails closed: RS256 only, keys only from the
/// pinned <see cref="MaaSigningKeys"/> chosen by exact <c>kid</c> (the token's <c>jku</c>, <c>x5c</c> and <c>jwk</c>
/// are never used to find keys), <c>jku</c> pinned to the instance, issuer pinned, <c>exp</c> required and
/// <c>exp</c>/<c>nbf</c> checked with a small skew against the options' clock. Header checks run first, then the
/// signature (Microsoft.IdentityModel.JsonWebTokens), then the claims; the first failure is reported by name.
/// </summary>
public sealed class MaaTokenValidator
{
    /// <summary>The only JWS algorithm accepted for tokens issued by an attestation service.</summary>
    public const string Algorithm = "RS256";

    /// <summary>
    /// The largest token (compact serialization, in bytes) Veritee's service issues and its validator accepts: 1 MiB.
    /// Binary runtimeData is copied into three claims, so about 190 KiB of it fit.
    /// </summary>
    public const int MaxTokenLength = 1024 * 1024;

    private readonly MaaSigningKeys _keys;
    private readonly MaaTokenValidationOptions _options;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false, MaximumTokenSizeInBytes = MaxTokenLength };

    /// <summary>Creates a validator over a pinned key set.</summary>
    /// <exception cref="ArgumentException">No issuer, an invalid instance URI or an out-of-range skew.</exception>
    public MaaTokenValidator(MaaSigningKeys keys, MaaTokenValidationOptions options)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options);
        options.Check();
        _keys = keys;
        _options = options;
    }

    /// <summary>Validates a compact token. Never throws for a bad token: the result names the failure.</summary>
    public async Task<MaaTokenValidationResult> ValidateAsync(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var now = _options.TimeProvider.GetUtcNow();
        var length = token.AsSpan().Trim().Trim('"').Length;
        if (length > MaxTokenLength)
        {
            return Fail(MaaTokenFailure.Malformed, $"the token is {length} bytes, more than the maximum token size of {MaxTokenLength} bytes", now);
        }

        CompactJws jws;
        try
        {
            jws = CompactJws.Parse(token);
        }
        catch (TokenFormatException e)
        {
            return Fail(MaaTokenFailure.Malformed, e.Message, now);
        }

        string? alg, jku, kid;
        try
        {
            alg = jws.Algorithm;
            jku = jws.HeaderString("jku");
            kid = jws.HeaderString("kid");
        }
        catch (TokenFormatException e)
        {
            return Fail(MaaTokenFailure.Malformed, e.Message, now, jws);
        }

        if (jws.Header.TryGetProperty("crit", out _))
        {
            return Fail(MaaTokenFailure.Malformed, "the header has 'crit' members this validator does not understand", now, jws, kid);
        }

        if (!string.Equals(alg, Algorithm, StringComparison.Ordinal))
        {
            return Fail(MaaTokenFailure.AlgorithmNotAllowed, $"header alg '{alg ?? "(absent)"}' is not allowed; attestation tokens must be RS256", now, jws, kid);
        }

        if (_options.ExpectedJku is { } expectedJku && !string.Equals(jku, expectedJku, StringComparison.Ordinal))
        {
            return Fail(MaaTokenFailure.JkuMismatch, $"header jku '{jku ?? "(absent)"}' is not the pinned instance's '{expectedJku}'", now, jws, kid);
        }

        if (kid is null)
        {
            return Fail(MaaTokenFailure.UnknownKid, "the header has no kid", now, jws, kid);
        }

        if (!_keys.TryGet(kid, out var key))
        {
            return Fail(MaaTokenFailure.UnknownKid, $"kid '{kid}' is not in the pinned signing keys", now, jws, kid);
        }

        if (key.RsaPublicKey is not { } rsa)
        {
            return Fail(MaaTokenFailure.KeyNotUsable, $"pinned key '{kid}' has kty '{key.KeyType}', not RSA", now, jws, kid);
        }

        if (_options.SigningCertificateIssuer is { } pinnedIssuer &&
            !string.Equals(key.Certificate?.Issuer, pinnedIssuer, StringComparison.Ordinal))
        {
            return Fail(MaaTokenFailure.SigningCertificateMismatch, $"signing certificate issuer '{key.Certificate?.Issuer ?? "(no certificate)"}' is not '{pinnedIssuer}'", now, jws, kid);
        }

        var parameters = new TokenValidationParameters
        {
            IssuerSigningKey = new RsaSecurityKey(rsa) { KeyId = kid },
            TryAllIssuerSigningKeys = false,
            ValidAlgorithms = [Algorithm],
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = false,
            ValidateIssuer = true,
            ValidIssuer = _options.Issuer,
            ValidateAudience = false,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = _options.ClockSkew,
            LifetimeValidator = (notBefore, expires, _, _) => CheckLifetime(notBefore, expires, now, _options.ClockSkew),
            ValidateTokenReplay = false,
        };

        TokenValidationResult result;
        try
        {
            result = await _handler.ValidateTokenAsync(jws.Text, parameters).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            return Fail(MaaTokenFailure.Malformed, e.Message, now, jws, kid);
        }

        if (!result.IsValid)
        {
            var (failure, message) = Classify(result.Exception, jws);
            return Fail(failure, message, now, jws, kid);
        }

        return new MaaTokenValidationResult
        {
            Failure = MaaTokenFailure.None,
            Message = string.Create(CultureInfo.InvariantCulture, $"valid: RS256 signature by pinned key '{kid}', issuer '{_options.Issuer}'"),
            ValidatedAt = now,
            Kid = kid,
            Header = jws.Header,
            Claims = jws.PayloadJson(),
            SigningKey = key,
        };
    }

    /// <summary>Validates synchronously (the keys are in memory, so nothing waits on I/O).</summary>
    public MaaTokenValidationResult Validate(string token) => ValidateAsync(token).GetAwaiter().GetResult();

    private (MaaTokenFailure, string) Classify(Exception? e, CompactJws jws)
    {
        var claims = SafePayload(jws);
        return e switch
        {
            SecurityTokenInvalidSignatureException => (MaaTokenFailure.BadSignature, "the RS256 signature does not verify with the pinned key"),
            SecurityTokenInvalidAlgorithmException => (MaaTokenFailure.AlgorithmNotAllowed, "the algorithm is not allowed"),
            SecurityTokenInvalidIssuerException => (MaaTokenFailure.IssuerMismatch, $"issuer '{ClaimText(claims, "iss")}' is not the pinned '{_options.Issuer}'"),
            SecurityTokenExpiredException => (MaaTokenFailure.Expired, $"expired at {ClaimTime(claims, "exp")} (skew {_options.ClockSkew.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s)"),
            SecurityTokenNotYetValidException => (MaaTokenFailure.NotYetValid, $"not valid before {ClaimTime(claims, "nbf")} (skew {_options.ClockSkew.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s)"),
            SecurityTokenNoExpirationException => (MaaTokenFailure.MissingOrInvalidLifetime, "the token has no exp claim"),
            SecurityTokenInvalidLifetimeException => (MaaTokenFailure.MissingOrInvalidLifetime, "nbf is after exp"),
            SecurityTokenMalformedException => (MaaTokenFailure.Malformed, e.Message),
            _ => (MaaTokenFailure.Malformed, "rejected: " + (e?.Message ?? "unknown reason")),
        };
    }

    private static System.Text.Json.JsonElement? SafePayload(CompactJws jws)
    {
        try
        {
            return jws.PayloadJson();
        }
        catch (TokenFormatException)
        {
            return null;
        }
    }

    private static string ClaimText(System.Text.Json.JsonElement? claims, string name) =>
        claims is { } c && c.TryGetProperty(name, out var v) ? v.ToString() : "(absent)";

    private static string ClaimTime(System.Text.Json.JsonElement? claims, string name) =>
        claims is { } c && c.TryGetProperty(name, out var v) && v.TryGetInt64(out var seconds) && seconds is >= -62135596800 and <= 253402300799
            ? DateTimeOffset.FromUnixTimeSeconds(seconds).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)
            : "(absent)";

    private static MaaTokenValidationResult Fail(MaaTokenFailure failure, string message, DateTimeOffset now, CompactJws? jws = null, string? kid = null) => new()
    {
        Failure = failure,
        Message = message,
        ValidatedAt = now,
        Kid = kid,
        Header = jws?.Header,
    };

    /// <summary>exp is required; exp + skew must not be before now; nbf - skew must not be after now; nbf ≤ exp.</summary>
    private static bool CheckLifetime(DateTime? notBefore, DateTime? expires, DateTimeOffset now, TimeSpan skew)
    {
        if (expires is not { } exp)
        {
            throw new SecurityTokenNoExpirationException("the token has no exp claim");
        }

        var expUtc = new DateTimeOffset(DateTime.SpecifyKind(exp, DateTimeKind.Utc));
        if (notBefore is { } nbf)
        {
            var nbfUtc = new DateTimeOffset(DateTime.SpecifyKind(nbf, DateTimeKind.Utc));
            if (nbfUtc > expUtc)
            {
                throw new SecurityTokenInvalidLifetimeException("nbf is after exp");
            }

            if (nbfUtc - skew > now)
            {
                throw new SecurityTokenNotYetValidException("not yet valid");
            }
        }

        return expUtc + skew >= now ? true : throw new SecurityTokenExpiredException("expired");
    }
}
