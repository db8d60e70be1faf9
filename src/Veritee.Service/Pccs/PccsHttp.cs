using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Veritee.Service.Pccs;

/// <summary>
/// An answer other than 200 on a PCCS route: Intel's status and exact plain-text body, optionally followed by
/// Veritee's reason (docs/pccs.md: scripts matching Intel's text still match its prefix).
/// </summary>
internal sealed class PccsException(int status, string reason = "") : Exception(Body(status, reason))
{
    public const string InvalidRequest = "Invalid request parameters.";
    public const string AuthenticationFailed = "Authentication failed.";
    public const string NoCacheData = "No cache data for this platform.";
    public const string V3Gone = "The Intel PCS API version 3 reached planned EOL. Accordingly, collateral from this API version cannot be retrieved any longer.";
    public const string TooLarge = "Content too large.";
    public const string IntegrityFailed = "The integrity of the data can't be verified.";
    public const string PlatformUnknown = "The platform was not found in the cache.";
    public const string Internal = "Internal server error occurred.";
    public const string PcsUnreachable = "Unable to retrieve the collateral from the Intel SGX PCS.";
    public const string Unavailable = "Server is currently unable to process the request.";

    public int Status { get; } = status;

    public string Reason { get; } = reason;

    public static PccsException BadRequest(string reason) => new(400, reason);

    public static PccsException NotCached(string reason) => new(404, reason);

    /// <summary>Intel's text for <paramref name="status"/>, then the reason on the same line.</summary>
    public static string Body(int status, string reason)
    {
        var text = status switch
        {
            400 => InvalidRequest,
            401 => AuthenticationFailed,
            404 => NoCacheData,
            410 => V3Gone,
            413 => TooLarge,
            460 => IntegrityFailed,
            461 => PlatformUnknown,
            502 => PcsUnreachable,
            503 => Unavailable,
            _ => Internal,
        };
        return reason.Length == 0 ? text : text + " " + reason;
    }
}

/// <summary>Request parsing and answers of the PCCS routes, as Intel's PCCS validates and writes them.</summary>
internal static class PccsHttp
{
    public const string RequestIdHeader = "Request-ID";
    public const string AgeHeader = "Veritee-Collateral-Age";

    /// <summary>A query parameter's first value (Intel's PCCS: a repeated key's first value wins), or null.</summary>
    public static string? Query(HttpContext context, string name)
    {
        var values = context.Request.Query[name];
        return values.Count == 0 ? null : values[0];
    }

    /// <summary>Exactly <paramref name="length"/> hex digits, upper-cased; otherwise 400 naming the parameter.</summary>
    public static string Hex(string? value, int length, string name)
    {
        if (value is null)
        {
            throw PccsException.BadRequest($"{name} is required ({length} hex digits).");
        }

        if (value.Length != length || !IsHex(value))
        {
            throw PccsException.BadRequest($"{name} must be exactly {length} hex digits (got {Describe(value)}).");
        }

        return value.ToUpperInvariant();
    }

    public static bool IsHex(string value)
    {
        foreach (var ch in value)
        {
            if (!char.IsAsciiHexDigit(ch))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A value for an error message: its length, and the text itself when short and printable.</summary>
    public static string Describe(string value) =>
        value.Length <= 40 && value.All(ch => ch is >= ' ' and <= '~') ? $"'{value}', {value.Length} characters" : $"{value.Length} characters";

    /// <summary><c>update</c>: standard (default) or early, any case; <paramref name="allowAll"/> for registration.</summary>
    public static string Update(HttpContext context, bool allowAll = false)
    {
        var value = Query(context, "update");
        return value?.ToUpperInvariant() switch
        {
            null => "STANDARD",
            "STANDARD" => "STANDARD",
            "EARLY" => "EARLY",
            "ALL" when allowAll => "ALL",
            _ => throw PccsException.BadRequest($"update must be standard or early{(allowAll ? " or all" : "")} (got {Describe(value!)})."),
        };
    }

    /// <summary>Echoes a client's 32-hex Request-ID, else sends a fresh one (lower-case hex, as Intel's PCCS).</summary>
    public static void SetRequestId(HttpContext context)
    {
        var given = context.Request.Headers[RequestIdHeader].ToString();
        context.Response.Headers[RequestIdHeader] = given.Length == 32 && IsHex(given) ? given : Guid.NewGuid().ToString("N");
    }

    public static Task WriteError(HttpContext context, PccsException error)
    {
        if (context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        var requestId = context.Response.Headers[RequestIdHeader];
        var warning = context.Response.Headers.Warning;
        context.Response.Clear();
        context.Response.Headers[RequestIdHeader] = requestId;
        if (warning.Count > 0)
        {
            context.Response.Headers.Warning = warning;
        }

        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(error.Message, Encoding.UTF8, CancellationToken.None);
    }

    public static Task WriteText(HttpContext context, string text, string contentType = "text/html; charset=utf-8")
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = contentType;
        return context.Response.WriteAsync(text, Encoding.UTF8, context.RequestAborted);
    }

    public static async Task WriteBytes(HttpContext context, byte[] body, string contentType)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = contentType;
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Seconds since the item was obtained (never negative).</summary>
    public static void SetAge(HttpContext context, DateTimeOffset fetchedAt, DateTimeOffset now) =>
        context.Response.Headers[AgeHeader] = Math.Max(0L, (long)(now - fetchedAt).TotalSeconds).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Whether the token header's SHA-512 equals the configured hash, compared in constant time; a missing or malformed
    /// configured hash refuses everyone.
    /// </summary>
    public static bool TokenMatches(string? token, string? configuredHashHex)
    {
        if (token is null || configuredHashHex is not { Length: 128 } || !IsHex(configuredHashHex))
        {
            return false;
        }

        var expected = Convert.FromHexString(configuredHashHex);
        var actual = SHA512.HashData(Encoding.UTF8.GetBytes(token));
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    public static void RequireToken(HttpContext context, string header, string? configuredHashHex)
    {
        var values = context.Request.Headers[header];
        if (!TokenMatches(values.Count == 0 ? null : values[0], configuredHashHex))
        {
            throw new PccsException((int)HttpStatusCode.Unauthorized, configuredHashHex is null
                ? $"This route needs the {header} header, and no hash for it is configured on this server (serve --pccs-{header}-hash)."
                : $"The {header} header is missing or wrong.");
        }
    }
}
