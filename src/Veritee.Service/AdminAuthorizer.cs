using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Veritee.Service;

/// <summary>
/// Authorizes management requests by bearer token: the static development admin token, or an access token issued by
/// the configured OpenID Connect authority for the configured audience. Never anonymous when neither is configured.
/// </summary>
public sealed class AdminAuthorizer : IDisposable
{
    private readonly ServiceOptions _options;
    private readonly TimeProvider _clock;
    private readonly OidcMetadata? _authority;
    private readonly JsonWebTokenHandler _handler = new();

    /// <summary>
    /// Creates the authorizer; with an authority, its metadata is fetched on first use, cached and refreshed in the
    /// background (fetch failures are logged to <paramref name="logger"/>).
    /// </summary>
    public AdminAuthorizer(ServiceOptions options, TimeProvider clock, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _clock = clock;
        if (options.AdminAuthority is { } authority)
        {
            if (options.AdminAudience is not { Length: > 0 })
            {
                throw new InvalidOperationException("an admin authority needs an audience");
            }

            if (options.AdminRoles.Count == 0)
            {
                throw new InvalidOperationException("an admin authority needs at least one admin role or scope (any tenant member can get a token for an audience)");
            }

            _authority = new OidcMetadata(authority.TrimEnd('/') + "/.well-known/openid-configuration", options.AdminAuthorityRequireHttps,
                logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        }
    }

    /// <summary>True when some way to authorize is configured.</summary>
    public bool IsConfigured => _options.AdminToken is { Length: > 0 } || _authority is not null;

    /// <summary>Key in <c>HttpContext.Items</c> of the caller as the audit trail names it (set on success and refusal).</summary>
    internal const string CallerItem = "veritee.audit.caller";

    /// <summary>
    /// Throws 401 unless the request carries a valid bearer token; returns the caller as the audit trail names it
    /// (<c>admin-token:</c> + 16 hex digits of SHA-256 of the token, or <c>oidc:</c> subject <c>@</c> issuer), never the token.
    /// </summary>
    public async Task<string> AuthorizeAsync(Microsoft.AspNetCore.Http.HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        const string Scheme = "Bearer ";
        var header = context.Request.Headers.Authorization.ToString();
        if (!IsConfigured || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            context.Items[CallerItem] = "anonymous";
            throw new MaaException(HttpStatusCode.Unauthorized, MaaErrorCodes.Unauthorized, "policy management requires an administrator bearer token");
        }

        // A refused token is not fingerprinted: it may be another secret pasted by mistake.
        context.Items[CallerItem] = "invalid-bearer";
        var token = header[Scheme.Length..].Trim();
        if (_options.AdminToken is { Length: > 0 } expected &&
            CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(expected)))
        {
            return Remember(context, "admin-token:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)).AsSpan(0, 8)));
        }

        if (_authority is not null && await ValidateAsync(token, context.RequestAborted).ConfigureAwait(false) is { } subject)
        {
            return Remember(context, subject);
        }

        throw new MaaException(HttpStatusCode.Unauthorized, MaaErrorCodes.Unauthorized, "the bearer token is not valid for this instance");
    }

    private static string Remember(Microsoft.AspNetCore.Http.HttpContext context, string caller)
    {
        context.Items[CallerItem] = caller;
        return caller;
    }

    /// <summary>The caller (<c>oidc:</c> subject <c>@</c> issuer) of a valid access token with an admin role, else null.</summary>
    private async Task<string?> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        // Waits at most until the request is cancelled (its timeout); 503 when the authority cannot be read.
        var configuration = await _authority!.GetAsync(cancellationToken).ConfigureAwait(false);

        var parameters = new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = _options.AdminAudience,
            IssuerSigningKeys = configuration.SigningKeys,
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512, SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384],
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = TimeSpan.FromMinutes(2),
            LifetimeValidator = (notBefore, expires, _, p) =>
            {
                var now = _clock.GetUtcNow().UtcDateTime;
                return expires is { } exp && now <= exp + p.ClockSkew && (notBefore is not { } nbf || now >= nbf - p.ClockSkew);
            },
        };
        var result = await _handler.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // Keys may have rolled over: refresh the metadata (at most every few minutes) and retry.
            if (await _authority!.RefreshAsync(cancellationToken).ConfigureAwait(false) is { } refreshed)
            {
                parameters.ValidIssuer = refreshed.Issuer;
                parameters.IssuerSigningKeys = refreshed.SigningKeys;
                result = await _handler.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
            }
        }

        if (!result.IsValid || !HasAdminRole(result.ClaimsIdentity))
        {
            return null;
        }

        // Entra ID's object id names the principal stably across applications; sub is per application. Both bounded.
        var subject = result.ClaimsIdentity.FindFirst("oid")?.Value ?? result.ClaimsIdentity.FindFirst("sub")?.Value ?? "?";
        return "oidc:" + Clip(subject) + "@" + Clip(parameters.ValidIssuer ?? "?");
    }

    /// <summary>At most 200 characters, control characters replaced: the caller is stored and logged.</summary>
    private static string Clip(string value) => string.Concat((value.Length <= 200 ? value : value[..200]).Select(c => char.IsControl(c) ? '?' : c));

    private bool HasAdminRole(System.Security.Claims.ClaimsIdentity identity)
    {
        var granted = identity.Claims.Where(c => c.Type is "roles" or "role" or "http://schemas.microsoft.com/ws/2008/06/identity/claims/role").Select(c => c.Value)
            .Concat(identity.Claims.Where(c => c.Type is "scp" or "scope").SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        return granted.Any(g => _options.AdminRoles.Contains(g, StringComparer.Ordinal));
    }

    /// <inheritdoc />
    public void Dispose() => _authority?.Dispose();
}
