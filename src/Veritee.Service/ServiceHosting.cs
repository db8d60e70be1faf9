using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Veritee.Service.OpenApi;
using Veritee.Service.Store;

namespace Veritee.Service;

/// <summary>The largest request body an endpoint accepts (applied before the body is read).</summary>
/// <param name="Bytes">The limit in bytes.</param>
internal sealed record BodySizeLimit(long Bytes);

/// <summary>Limits, logging, telemetry and health endpoints of the host.</summary>
public static partial class VeriteeServer
{
    /// <summary>Path of the liveness probe.</summary>
    public const string LivePath = "/health/live";

    /// <summary>Path of the readiness probe.</summary>
    public const string ReadyPath = "/health/ready";

    private const string ErrorCodeItem = "veritee.error-code";

    /// <summary>How long a request that failed for want of collateral keeps the node "not ready".</summary>
    private static readonly TimeSpan CollateralFailureWindow = TimeSpan.FromSeconds(60);

    private static void ConfigureLogging(WebApplicationBuilder builder, ServiceOptions options)
    {
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.LogLevel);

        // ASP.NET Core's own per-request Information lines would double ours; its warnings and errors stay.
        builder.Logging.AddFilter("Microsoft", options.LogLevel > LogLevel.Warning ? options.LogLevel : LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", options.LogLevel);
        builder.Logging.AddFilter("System.Net.Http", options.LogLevel > LogLevel.Warning ? options.LogLevel : LogLevel.Warning);

        // A start-up failure (an address in use, …) is thrown to the caller, which reports it in one line; the host's
        // own "Hosting failed to start" error would repeat it with a stack trace. A faulted background service still
        // logs (Critical).
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", options.LogLevel > LogLevel.Critical ? options.LogLevel : LogLevel.Critical);
        if (options.JsonLogs)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            });
        }

        // A stdout nobody reads (a full pipe) must never hold up requests: lines are dropped instead.
        builder.Services.Configure<ConsoleLoggerOptions>(o =>
        {
            o.QueueFullMode = ConsoleLoggerQueueFullMode.DropWrite;
            o.MaxQueueLength = 10_000;
        });
        foreach (var provider in options.LoggerProviders)
        {
            builder.Logging.AddProvider(provider);
        }
    }

    private static void ConfigureLimits(WebApplicationBuilder builder, ServiceOptions options, ServiceTelemetry telemetry)
    {
        if (options.PerClientRequestsPerSecond < 0 || options.PerClientBurst < 0 || options.MaxConcurrentRequests < 0 || options.MaxQueuedRequests < 0 ||
            options.OpsRequestsPerSecond < 0 || options.OpsMaxConcurrentRequests < 0)
        {
            throw new ArgumentException("rate and concurrency limits must not be negative");
        }

        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.CreateChained(PerClientLimiter(options), ConcurrencyLimiter(options));
            o.OnRejected = (rejected, _) =>
            {
                var perClient = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter);
                telemetry.Rejected(perClient ? "rate" : "concurrency");
                var seconds = perClient ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
                var limit = IsOperational(rejected.HttpContext) ? options.OpsRequestsPerSecond : options.PerClientRequestsPerSecond;
                var message = perClient
                    ? $"too many requests from this client (limit {limit}/s); retry after {seconds} s"
                    : "the service is at its concurrency limit; retry later";
                return new ValueTask(WriteError(rejected.HttpContext, HttpStatusCode.TooManyRequests, MaaErrorCodes.TooManyRequests, message, seconds));
            };
        });
        builder.Services.AddRequestTimeouts(o =>
        {
            if (options.RequestTimeout is { } timeout && timeout > TimeSpan.Zero)
            {
                o.DefaultPolicy = new RequestTimeoutPolicy
                {
                    Timeout = timeout,
                    TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
                    WriteTimeoutResponse = context =>
                    {
                        telemetry.Rejected("timeout");
                        return WriteError(context, HttpStatusCode.ServiceUnavailable, MaaErrorCodes.RequestTimeout,
                            $"the request took longer than {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; retry later", retryAfterSeconds: 1, CancellationToken.None);
                    },
                };
            }
        });
    }

    private static PartitionedRateLimiter<HttpContext> PerClientLimiter(ServiceOptions options)
    {
        // /health/* and metrics have a budget of their own (OperationalEndpoint), so each client has two buckets.
        var main = Bucket(options.PerClientRequestsPerSecond, options.PerClientBurst);
        var ops = Bucket(options.OpsRequestsPerSecond, 0);
        return PartitionedRateLimiter.Create<HttpContext, (bool Ops, IPAddress Client)>(context =>
        {
            var operational = IsOperational(context);
            return (operational ? ops : main) is { } bucket
                ? RateLimitPartition.GetTokenBucketLimiter((operational, ClientAddress(context)), _ => bucket)
                : RateLimitPartition.GetNoLimiter((operational, IPAddress.None));
        });
    }

    /// <summary>A client's token bucket for <paramref name="rate"/> requests/s; null when the rate is 0 (off).</summary>
    private static TokenBucketRateLimiterOptions? Bucket(int rate, int burst)
    {
        if (rate == 0)
        {
            return null;
        }

        // Refilled ten times a second (once a second below 10/s) so a client's budget is smooth, not a per-second cliff.
        var perPeriod = rate >= 10 ? rate / 10 : rate;
        var period = rate >= 10 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1);
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst > 0 ? burst : rate,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }

    private static PartitionedRateLimiter<HttpContext> ConcurrencyLimiter(ServiceOptions options) =>
        PartitionedRateLimiter.Create<HttpContext, bool>(context =>
        {
            var operational = IsOperational(context);
            var (permits, queue) = operational ? (options.OpsMaxConcurrentRequests, 2 * options.OpsMaxConcurrentRequests) : (options.MaxConcurrentRequests, options.MaxQueuedRequests);
            return permits == 0
                ? RateLimitPartition.GetNoLimiter(operational)
                : RateLimitPartition.GetConcurrencyLimiter(operational, _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = permits,
                    QueueLimit = queue,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                });
        });

    /// <summary>True for <c>/health/*</c> and the metrics endpoint (limited apart, servable on their own port).</summary>
    private static bool IsOperational(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<OperationalEndpoint>() is not null;

    /// <summary>The client's address (IPv4-mapped IPv6 folded to IPv4); <see cref="IPAddress.None"/> when unknown.</summary>
    private static IPAddress ClientAddress(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address ? address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address : IPAddress.None;

    private static void ConfigureTelemetry(WebApplicationBuilder builder, ServiceOptions options)
    {
        var exportsMetrics = options.MetricsPath is not null || options.OtlpEndpoint is not null;
        if (!exportsMetrics)
        {
            return;
        }

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("veritee", serviceInstanceId: options.InstanceUrl + "#" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture)))
            .WithMetrics(m =>
            {
                m.AddMeter(ServiceTelemetry.Name, "Microsoft.AspNetCore.RateLimiting").AddAspNetCoreInstrumentation();
                if (options.MetricsPath is not null)
                {
                    m.AddPrometheusExporter();
                }

                if (options.OtlpEndpoint is { } otlp)
                {
                    m.AddOtlpExporter(e => e.Endpoint = otlp);
                }
            });

        // Spans go somewhere only with an OTLP endpoint; without one no listener is registered (no per-request cost).
        if (options.OtlpEndpoint is { } endpoint)
        {
            otel.WithTracing(t => t
                .AddSource(ServiceTelemetry.Name)
                .AddAspNetCoreInstrumentation(a => a.Filter = c => !IsOperationalPath(c.Request.Path, options))
                .AddOtlpExporter(e => e.Endpoint = endpoint));
        }
    }

    private static bool IsOperationalPath(PathString path, ServiceOptions options) =>
        path.StartsWithSegments("/health", StringComparison.Ordinal) || (options.MetricsPath is { } m && path.StartsWithSegments(m, StringComparison.Ordinal));

    private static void UseServiceMiddleware(WebApplication app, ServiceOptions options)
    {
        if (options.TrustedProxies.Count > 0)
        {
            var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor, ForwardLimit = 1 };
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in options.TrustedProxies)
            {
                forwarded.KnownProxies.Add(proxy);
            }

            app.UseForwardedHeaders(forwarded);
        }

        var requests = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Service.Requests");
        app.Use((context, next) => RequestLog(requests, context, next, options.LogClientAddress));
        app.Use(StrictTransportSecurity);
        app.Use(ErrorEnvelope);
        app.Use(ApplyBodySizeLimit);
        app.UseRateLimiter();
        if (OpsPorts(options) is { } opsPorts)
        {
            app.Use((context, next) => OpsPortFilter(context, next, opsPorts));
        }

        app.UseRequestTimeouts();
    }

    /// <summary>
    /// The ports of <see cref="ServiceOptions.OpsUrls"/> (explicit, none shared with <paramref name="urls"/>), or null
    /// when the main addresses serve the operational endpoints.
    /// </summary>
    private static HashSet<int>? OpsPorts(ServiceOptions options, string? urls = null)
    {
        if (options.OpsUrls is not { } opsUrls)
        {
            return null;
        }

        static IEnumerable<BindingAddress> Parse(string list) =>
            list.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(BindingAddress.Parse);
        HashSet<int> ports;
        try
        {
            ports = Parse(opsUrls).Select(a => a.Port).ToHashSet();
            if (ports.Count == 0 || ports.Contains(0))
            {
                throw new ArgumentException($"the operations address(es) '{opsUrls}' need explicit ports");
            }

            if (urls is not null && Parse(urls).FirstOrDefault(a => ports.Contains(a.Port)) is { } shared)
            {
                throw new ArgumentException($"the operations address(es) '{opsUrls}' must not share port {shared.Port} with the service address(es)");
            }
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"the operations address(es) '{opsUrls}' are not valid listen addresses: {e.Message}", e);
        }

        return ports;
    }

    /// <summary>With an operations port, each side serves only its own endpoints; the rest is 404 with the envelope.</summary>
    private static Task OpsPortFilter(HttpContext context, RequestDelegate next, HashSet<int> opsPorts)
    {
        if (IsOperational(context) != opsPorts.Contains(context.Connection.LocalPort))
        {
            throw new MaaException(HttpStatusCode.NotFound, MaaErrorCodes.NotFound, $"no operation at {SafeMethod(context.Request.Method)} {SafePath(context.Request.Path)} on this port");
        }

        return next(context);
    }

    private static Task ApplyBodySizeLimit(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<BodySizeLimit>() is { } limit &&
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit.Bytes;
        }

        return next(context);
    }

    /// <summary>
    /// One structured line per request: Debug when it succeeded or was refused by the rate or concurrency limit (metrics
    /// count those; a flood must not become a log flood), Information for other client errors, Warning for server
    /// errors. A line costs about a tenth of an attestation's CPU, so the full access log is opt-in (<c>--log-level debug</c>).
    /// </summary>
    private static async Task RequestLog(ILogger logger, HttpContext context, RequestDelegate next, ClientAddressLogging clientAddress)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            // Method, path (never the query), status, time, MAA error code and request id: no bodies, no headers.
            var aborted = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted;
            var status = aborted ? 499 : context.Response.StatusCode;
            var level = status switch
            {
                >= 500 => LogLevel.Warning,
                StatusCodes.Status429TooManyRequests or < 400 => LogLevel.Debug,
                _ => LogLevel.Information,
            };
            if (logger.IsEnabled(level))
            {
                LogRequest(logger, level, SafeMethod(context.Request.Method), SafePath(context.Request.Path), status,
                    Math.Round(Stopwatch.GetElapsedTime(start).TotalMilliseconds, 2),
                    context.Items.TryGetValue(ErrorCodeItem, out var code) ? code as string : null, context.TraceIdentifier, LoggedClient(context, clientAddress));
            }
        }
    }

    /// <summary>Key of the client-address hash in logs: random per process, so a logged tag cannot be mapped back to an address.</summary>
    private static readonly byte[] ClientHashKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    /// <summary>The client as request logs show it (<see cref="ServiceOptions.LogClientAddress"/>).</summary>
    private static string LoggedClient(HttpContext context, ClientAddressLogging mode) => mode switch
    {
        ClientAddressLogging.On => ClientAddress(context).ToString(),
        ClientAddressLogging.Off => "-",
        _ => "h:" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(ClientHashKey, ClientAddress(context).GetAddressBytes()).AsSpan(0, 8)),
    };

    /// <summary>
    /// HSTS on every answer over https, errors included (added as the response starts, after any clearing); not for
    /// <c>localhost</c>, where it would pin a developer's other local services to https. Browsers ignore it for IP addresses.
    /// </summary>
    private static Task StrictTransportSecurity(HttpContext context, RequestDelegate next)
    {
        if (context.Request.IsHttps && !string.Equals(context.Request.Host.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.OnStarting(static state =>
            {
                ((HttpContext)state).Response.Headers.StrictTransportSecurity = "max-age=31536000";
                return Task.CompletedTask;
            }, context);
        }

        return next(context);
    }

    [LoggerMessage(EventId = 100, EventName = "Request",
        Message = "{Method} {Path} {StatusCode} {DurationMs} ms error={ErrorCode} request-id={RequestId} client={Client}")]
    private static partial void LogRequest(ILogger logger, LogLevel level, string method, string path, int statusCode, double durationMs, string? errorCode, string requestId, string client);

    private static string SafeMethod(string method) => method.Length <= 16 && !method.Any(char.IsControl) ? method : "?";

    /// <summary>The path as logged: at most 200 characters, control characters replaced (no forged log lines).</summary>
    private static string SafePath(PathString path)
    {
        var value = path.Value ?? "/";
        if (value.Length <= 200 && !value.Any(char.IsControl))
        {
            return value;
        }

        var clipped = value.Length > 200 ? value[..200] + "…" : value;
        return string.Create(clipped.Length, clipped, (span, text) =>
        {
            for (var i = 0; i < text.Length; i++)
            {
                span[i] = char.IsControl(text[i]) ? '?' : text[i];
            }
        });
    }

    private static void MapOperationalRoutes(WebApplication app, ServiceOptions options)
    {
        // Limited by their own small budgets (OperationalEndpoint), not the main ones; the store probe has its own timeout.
        // A Func rather than a RequestDelegate, so that the OpenAPI generator sees the route (same behaviour).
        app.MapGet(LivePath, (Func<HttpContext, Task>)(c => WriteJson(c, new JsonObject { ["status"] = "live" })))
            .WithMetadata(OperationalEndpoint.Instance).DescribeLive().DisableRequestTimeout();
        app.MapGet(ReadyPath, Ready).WithMetadata(OperationalEndpoint.Instance).DescribeReady().DisableRequestTimeout();
        if (options.MetricsPath is { } metrics)
        {
            app.MapPrometheusScrapingEndpoint(metrics).WithMetadata(OperationalEndpoint.Instance).DisableRequestTimeout();
        }
    }

    /// <summary>
    /// Ready when the store answered a trivial query within 2 s (at most a second ago) and, where configured, the collateral folders exist and
    /// the collateral service has not just failed a request for want of collateral (judged from real requests: a
    /// probe never calls Intel). 200 or 503 with the checks as JSON.
    /// </summary>
    private static async Task Ready(HttpContext context, StoreProbe probe, AttestationEngine engine, ServiceOptions options, TimeProvider clock, InstanceKeyRing keys)
    {
        var ready = true;
        var checks = new JsonObject();
        // One ping at most about once a second, shared by every probe meanwhile (StoreProbe).
        var kind = options.PostgresConnectionString is null ? "sqlite" : "postgresql";
        var store = await probe.CheckAsync().WaitAsync(context.RequestAborted).ConfigureAwait(false);
        ready &= store.Ok;
        checks["store"] = store.Ok
            ? new JsonObject { ["status"] = "ok", ["kind"] = kind, ["durationMs"] = store.DurationMs }
            : new JsonObject { ["status"] = "unreachable", ["kind"] = kind, ["durationMs"] = store.DurationMs, ["error"] = store.Error };

        var collateral = new JsonObject();
        foreach (var (name, folder) in new[] { ("folder", options.CollateralDirectory), ("simulationFolder", options.SimulationCollateralDirectory), ("simulatedPlatform", options.SimulationPlatformDirectory) })
        {
            if (folder is not null)
            {
                var exists = Directory.Exists(folder);
                ready &= exists;
                collateral[name] = exists ? "ok" : "missing";
            }
        }

        if (engine.CollateralHealth(clock.GetUtcNow(), CollateralFailureWindow) is { } service)
        {
            ready &= service.Status != "unreachable";
            collateral["service"] = new JsonObject
            {
                ["status"] = service.Status,
                ["lastSuccess"] = service.LastSuccess?.ToString("O", CultureInfo.InvariantCulture),
                ["lastFailure"] = service.LastFailure?.ToString("O", CultureInfo.InvariantCulture),
            };
            if (service.LastRejection is { } rejectedAt)
            {
                collateral["service"]!["lastRejection"] = rejectedAt.ToString("O", CultureInfo.InvariantCulture);
                collateral["service"]!["rejection"] = service.Rejection;
            }
        }

        checks["collateral"] = collateral.Count == 0 ? new JsonObject { ["status"] = "not-configured" } : collateral;

        // A node that has not read the stored key for three refresh intervals may be signing with a key rolled out
        // because it leaked: it stops taking traffic until it reads the store again.
        if (options.InstanceKeyCertificate is null && keys.Following is { } follow)
        {
            var current = clock.GetUtcNow() - follow.LastSuccess <= (3 * options.InstanceKeyRefreshInterval) + TimeSpan.FromSeconds(1);
            ready &= current;
            var key = new JsonObject
            {
                ["status"] = current ? "ok" : "stale",
                ["kid"] = keys.Signing.Kid,
                ["lastRead"] = follow.LastSuccess.ToString("O", CultureInfo.InvariantCulture),
            };
            if (follow.LastFailure is { } failedAt && failedAt > follow.LastSuccess)
            {
                key["lastFailure"] = failedAt.ToString("O", CultureInfo.InvariantCulture);
                key["error"] = follow.Error;
            }

            checks["instanceKey"] = key;
        }
        else
        {
            checks["instanceKey"] = new JsonObject { ["status"] = "mounted", ["kid"] = keys.Signing.Kid };
        }
        await WriteJson(context, new JsonObject { ["status"] = ready ? "ready" : "unavailable", ["checks"] = checks },
            ready ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable).ConfigureAwait(false);
    }

    private static double ElapsedMs(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2);

    /// <summary>The metric outcome of a failed attestation (a small fixed set, never request data).</summary>
    private static string Outcome(Exception e) => e switch
    {
        MaaException { Code: MaaErrorCodes.PolicyEvaluationError } => "policy_denied",
        MaaException { Status: HttpStatusCode.ServiceUnavailable } => "unavailable",
        MaaException { Status: < HttpStatusCode.InternalServerError } => "rejected",
        OperationCanceledException => "cancelled",
        BadHttpRequestException => "rejected",
        _ => "error",
    };
}

/// <summary>Marks <c>/health/*</c> and the metrics endpoint: their own rate and concurrency limits, their own port.</summary>
internal sealed class OperationalEndpoint
{
    public static readonly OperationalEndpoint Instance = new();
}

/// <summary>The result of one store ping.</summary>
/// <param name="Ok">The store answered.</param>
/// <param name="DurationMs">How long the ping took.</param>
/// <param name="Error">Why it failed (an exception type or the timeout), else null.</param>
internal sealed record StoreCheck(bool Ok, double DurationMs, string? Error);

/// <summary>
/// The readiness probe's store check: one ping in flight at a time, its result reused for <see cref="CacheFor"/>, so
/// however many probes arrive the store sees about one query a second.
/// </summary>
internal sealed class StoreProbe(IServiceStore store)
{
    /// <summary>How long a ping's result answers probes.</summary>
    internal static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    /// <summary>How long a ping waits for the store.</summary>
    internal static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private readonly Lock _gate = new();
    private Task<StoreCheck>? _last;
    private long _completedAt;

    /// <summary>The cached result, the ping in flight, or a new ping.</summary>
    public Task<StoreCheck> CheckAsync()
    {
        lock (_gate)
        {
            if (_last is { IsCompleted: false } || (_last is not null && Stopwatch.GetElapsedTime(_completedAt) < CacheFor))
            {
                return _last;
            }

            _last = Task.Run(PingAsync);
            return _last;
        }
    }

    private async Task<StoreCheck> PingAsync()
    {
        var started = Stopwatch.GetTimestamp();
        StoreCheck result;
        using (var timeout = new CancellationTokenSource(Timeout))
        {
            try
            {
                await store.PingAsync(timeout.Token).ConfigureAwait(false);
                result = new StoreCheck(true, Elapsed(started), null);
            }
            catch (Exception e)
            {
                result = new StoreCheck(false, Elapsed(started),
                    e is OperationCanceledException ? "no answer within " + Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s" : e.GetType().Name);
            }
        }

        lock (_gate)
        {
            _completedAt = Stopwatch.GetTimestamp();
        }

        return result;
    }

    private static double Elapsed(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2);
}
