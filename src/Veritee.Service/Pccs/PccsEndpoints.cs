using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Pccs;

namespace Veritee.Service.Pccs;

/// <summary>
/// Intel's PCCS API (docs/pccs.md) under <c>/sgx/certification/v3|v4</c> and <c>/tdx/certification/v4</c>, when
/// <see cref="ServiceOptions.PccsMode"/> is not off. Answers are Intel's on the wire (plain-text errors, header names);
/// the routes are Intel's API, not MAA's, so they are not in the OpenAPI document (docs/pccs.md describes them).
/// </summary>
internal static partial class PccsEndpoints
{
    private const string V3Warning = "299 - \"PCS API version 3 is no longer available; use /sgx/certification/v4/\"";

    /// <summary>Root CA CRL distribution points Intel publishes (Intel PCCS accepts the same set).</summary>
    [GeneratedRegex(@"^https://([a-zA-Z0-9-]*certificates\.trustedservices\.intel\.com|certprx\.adsdcsp\.com)/IntelSGXRootCA\..*$", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex RootCrlUri();

    /// <summary>PCK CRL distribution points (PCS and Azure's caches).</summary>
    [GeneratedRegex(@"^https://([a-zA-Z0-9-]*\.?api\.trustedservices\.intel\.com|[a-zA-Z0-9-]+\.az\.sgx(prod|np)\.adsdcsp\.com)/sgx/certification/v([1-9][0-9]*)/pckcrl\?.*$", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex PckCrlUri();

    private sealed record Route(string Tee, int Version);

    /// <summary>Registers the PCCS store, service and scheduled refresh (nothing when off).</summary>
    public static void AddPccs(IServiceCollection services, ServiceOptions options, TimeProvider clock)
    {
        if (options.PccsMode == PccsFillMode.Off)
        {
            return;
        }

        services.AddSingleton(_ => options.PostgresConnectionString is { } postgres
            ? PccsStore.ForPostgres(postgres)
            : PccsStore.ForSqlite(Path.Combine(options.DataDirectory, "veritee.db")));
        services.AddSingleton(sp =>
        {
            PccsUpstream? upstream = null;
            if (options.PccsMode != PccsFillMode.Offline)
            {
                upstream = new PccsUpstream(PcsCollateralSource.CreateHttpClient(options.CollateralFetchTimeout),
                    options.CollateralServiceUrl ?? PcsCollateralSourceOptions.IntelPcs,
                    options.RootCaCrlUrl ?? PcsCollateralSourceOptions.IntelRootCaCrl,
                    options.CollateralSubscriptionKey);
            }

            return new PccsService(sp.GetRequiredService<PccsStore>(), options, clock, upstream, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Pccs"));
        });
        if (options.PccsMode != PccsFillMode.Offline && options.PccsRefreshInterval > TimeSpan.Zero)
        {
            services.AddHostedService(sp => new PccsRefreshService(sp.GetRequiredService<PccsService>(), options.PccsRefreshInterval, clock, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Pccs.Refresh")));
        }
    }

    /// <summary>Maps the routes (nothing when off).</summary>
    public static void MapPccs(WebApplication app, ServiceOptions options)
    {
        if (options.PccsMode == PccsFillMode.Off)
        {
            return;
        }

        var pccs = app.Services.GetRequiredService<PccsService>();
        var limit = new BodySizeLimit(options.PccsMaxRequestBodyBytes);
        foreach (var (prefix, route) in new[] { ("/sgx/certification/v4", new Route("SGX", 4)), ("/sgx/certification/v3", new Route("SGX", 3)), ("/tdx/certification/v4", new Route("TDX", 4)) })
        {
            void Get(string path, Func<HttpContext, Route, PccsService, Task> handler) =>
                app.MapGet(prefix + path, (HttpContext c) => Handle(c, route, pccs, handler)).ExcludeFromDescription();
            void With(string path, string[] methods, Func<HttpContext, Route, PccsService, Task> handler) =>
                app.MapMethods(prefix + path, methods, (HttpContext c) => Handle(c, route, pccs, handler)).WithMetadata(limit).ExcludeFromDescription();

            Get("/tcb", GetTcb);
            Get("/qe/identity", (c, r, s) => GetIdentity(c, r, s, r.Tee == "TDX" ? "TD_QE" : "QE"));
            if (route.Tee == "TDX")
            {
                continue;
            }

            Get("/qve/identity", (c, r, s) => GetIdentity(c, r, s, "QVE"));
            Get("/pckcert", GetPckCert);
            Get("/pckcrl", GetPckCrl);
            Get("/rootcacrl", GetRootCrl);
            Get("/crl", GetCrl);
            With("/platforms", ["POST"], PostPlatforms);
            With("/platforms", ["GET"], GetPlatforms);
            With("/platformcollateral", ["PUT"], PutPlatformCollateral);
            With("/refresh", ["GET", "POST"], Refresh);

            // QCNL asks pccs_url for the platform's default DCAP appraisal policy; Intel's PCCS answers 404 when it has
            // none, and Veritee keeps none, so it always says so in PCCS form (not as an unknown route).
            Get("/appraisalpolicy", (_, _, _) => throw PccsException.NotCached("Veritee does not store DCAP appraisal policies (PUT /appraisalpolicy is not supported)."));
        }
    }

    private static async Task Handle(HttpContext context, Route route, PccsService pccs, Func<HttpContext, Route, PccsService, Task> handler)
    {
        PccsHttp.SetRequestId(context);
        if (route.Version == 3)
        {
            context.Response.Headers.Warning = V3Warning;
        }

        try
        {
            await handler(context, route, pccs).ConfigureAwait(false);
        }
        catch (PccsException e)
        {
            await PccsHttp.WriteError(context, e).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await PccsHttp.WriteError(context, new PccsException(413, $"The limit on this route is {pccs.Options.PccsMaxRequestBodyBytes} bytes (serve --pccs-max-body-kib).")).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            await PccsHttp.WriteError(context, PccsException.BadRequest(e.Message)).ConfigureAwait(false);
        }
        catch (PccsUpstreamException e)
        {
            LogUpstream(Logger(context), e.Message);
            await PccsHttp.WriteError(context, new PccsException(502, e.Message)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception e)
        {
            LogFailure(Logger(context), context.Request.Path, e);
            await PccsHttp.WriteError(context, new PccsException(500, "Request-ID " + context.Response.Headers[PccsHttp.RequestIdHeader] + " is in the server log.")).ConfigureAwait(false);
        }
    }

    private static ILogger Logger(HttpContext context) => context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Pccs");

    // ---------------------------------------------------------------- collateral GETs

    private static async Task GetTcb(HttpContext c, Route r, PccsService s)
    {
        var fmspc = PccsHttp.Hex(PccsHttp.Query(c, "fmspc"), 12, "fmspc");
        var update = PccsHttp.Update(c);
        var item = await s.TcbAsync(r.Tee, fmspc, r.Version, update, c.RequestAborted).ConfigureAwait(false);
        await WriteSigned(c, s, item, r.Version == 3 ? PccsHeaders.SgxTcbInfoChain : PccsHeaders.TcbInfoChain).ConfigureAwait(false);
    }

    private static async Task GetIdentity(HttpContext c, Route r, PccsService s, string id)
    {
        var update = PccsHttp.Update(c);
        var item = await s.IdentityAsync(id, r.Version, update, c.RequestAborted).ConfigureAwait(false);
        await WriteSigned(c, s, item, PccsHeaders.IdentityChain).ConfigureAwait(false);
    }

    private static Task WriteSigned(HttpContext c, PccsService s, PccsItem item, string chainHeader)
    {
        c.Response.Headers[chainHeader] = WireChain(item.IssuerChain!);
        PccsHttp.SetAge(c, item.FetchedAt, s.Clock.GetUtcNow());
        return PccsHttp.WriteBytes(c, item.Body, "application/json; charset=utf-8");
    }

    /// <summary>A stored chain as a header value: PCS's encoding as received, re-encoded only when it would not end in an escape (QCNL drops two trailing characters otherwise).</summary>
    public static string WireChain(string stored) =>
        stored.Length >= 3 && stored[^3] == '%' ? stored : IssuerChainHeader.Encode(IssuerChainHeader.Decode(stored));

    private static string Ca(string? value) => value?.ToUpperInvariant() switch
    {
        "PROCESSOR" => "PROCESSOR",
        "PLATFORM" => "PLATFORM",
        _ => throw PccsException.BadRequest($"ca must be processor or platform (got {(value is null ? "none" : PccsHttp.Describe(value))})."),
    };

    private static async Task GetPckCrl(HttpContext c, Route r, PccsService s)
    {
        var ca = Ca(PccsHttp.Query(c, "ca"));
        var der = string.Equals(PccsHttp.Query(c, "encoding"), "der", StringComparison.OrdinalIgnoreCase);
        var item = await s.PckCrlAsync(ca, c.RequestAborted).ConfigureAwait(false);
        c.Response.Headers[PccsHeaders.PckCrlChain] = WireChain(item.IssuerChain!);
        PccsHttp.SetAge(c, item.FetchedAt, s.Clock.GetUtcNow());

        // Without encoding=der: Base16 text of the DER (the collateral format QCNL's pccs_api_version 3.0 expects).
        await (der
            ? PccsHttp.WriteBytes(c, item.Body, "application/pkix-crl")
            : PccsHttp.WriteText(c, PccsService.Hex(item.Body), "application/x-pem-file; charset=utf-8")).ConfigureAwait(false);
    }

    private static async Task GetRootCrl(HttpContext c, Route r, PccsService s)
    {
        var item = await s.RootCrlAsync(c.RequestAborted).ConfigureAwait(false);
        PccsHttp.SetAge(c, item.FetchedAt, s.Clock.GetUtcNow());
        await PccsHttp.WriteText(c, PccsService.Hex(item.Body), "application/pkix-crl; charset=utf-8").ConfigureAwait(false);
    }

    /// <summary>
    /// <c>crl?uri=</c>: the URI names the CRL (root CA CRL, or a PCK CRL by its <c>ca=</c>); it is answered from the
    /// same verified copy as <c>rootcacrl</c>/<c>pckcrl</c> and never fetched from the URI itself.
    /// </summary>
    private static async Task GetCrl(HttpContext c, Route r, PccsService s)
    {
        var uri = PccsHttp.Query(c, "uri");
        if (uri is null || uri.Length > 2048)
        {
            throw PccsException.BadRequest(uri is null ? "uri is required." : $"uri is {uri.Length} characters; at most 2048.");
        }

        PccsItem item;
        if (RootCrlUri().IsMatch(uri))
        {
            item = await s.RootCrlAsync(c.RequestAborted).ConfigureAwait(false);
        }
        else if (PckCrlUri().IsMatch(uri))
        {
            var query = uri[(uri.IndexOf('?', StringComparison.Ordinal) + 1)..];
            var ca = query.Split('&').Select(p => p.Split('=', 2)).FirstOrDefault(p => p[0].Equals("ca", StringComparison.OrdinalIgnoreCase) && p.Length == 2)?[1];
            item = await s.PckCrlAsync(Ca(ca), c.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            throw PccsException.BadRequest("uri is not an Intel CRL distribution point (the root CA CRL, or a PCS pckcrl URL).");
        }

        PccsHttp.SetAge(c, item.FetchedAt, s.Clock.GetUtcNow());
        await PccsHttp.WriteBytes(c, item.Body, "application/pkix-crl").ConfigureAwait(false);
    }

    private static async Task GetPckCert(HttpContext c, Route r, PccsService s)
    {
        var qeid = PccsHttp.Query(c, "qeid");
        if (qeid is not { Length: >= 1 and <= 260 })
        {
            throw PccsException.BadRequest(qeid is null ? "qeid is required." : $"qeid must be 1 to 260 characters (got {qeid.Length}).");
        }

        var cpusvn = PccsHttp.Hex(PccsHttp.Query(c, "cpusvn"), 32, "cpusvn");
        var pcesvn = PccsHttp.Hex(PccsHttp.Query(c, "pcesvn"), 4, "pcesvn");
        var pceid = PccsHttp.Hex(PccsHttp.Query(c, "pceid"), 4, "pceid");
        var ppid = PccsHttp.Query(c, "encrypted_ppid") is { } given ? PccsHttp.Hex(given, 768, "encrypted_ppid") : null;
        var raw = new PccsRawTcb(qeid.ToUpperInvariant(), pceid, cpusvn, pcesvn);
        var (cert, platform, chain) = await s.PckCertAsync(raw, ppid, c.RequestAborted).ConfigureAwait(false);
        c.Response.Headers[PccsHeaders.Tcbm] = cert.Tcbm;
        c.Response.Headers[PccsHeaders.Fmspc] = platform.Fmspc;
        c.Response.Headers[PccsHeaders.CaType] = platform.Ca;
        c.Response.Headers[PccsHeaders.PckCertChain] = WireChain(chain.IssuerChain!);
        PccsHttp.SetAge(c, platform.FetchedAt, s.Clock.GetUtcNow());
        await PccsHttp.WriteText(c, cert.CertificatePem, "application/x-pem-file").ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- registration and administration

    private static async Task<byte[]> ReadBody(HttpContext c)
    {
        using var buffer = new MemoryStream();
        await c.Request.Body.CopyToAsync(buffer, c.RequestAborted).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static JsonDocument Parse(byte[] body)
    {
        try
        {
            return JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw PccsException.BadRequest($"The body is not JSON: {e.Message}");
        }
    }

    private static async Task<JsonDocument> ReadJson(HttpContext c) => Parse(await ReadBody(c).ConfigureAwait(false));

    private static string? Field(JsonElement body, string name, int minLength, int maxLength, bool hex)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var text = value.ValueKind == JsonValueKind.String ? value.GetString()! : throw PccsException.BadRequest($"{name} must be a string.");
        if (text.Length < minLength || text.Length > maxLength || (hex && !PccsHttp.IsHex(text)))
        {
            throw PccsException.BadRequest(minLength == maxLength
                ? $"{name} must be exactly {minLength} {(hex ? "hex digits" : "characters")} (got {text.Length})."
                : $"{name} must be {minLength} to {maxLength} {(hex ? "hex digits" : "characters")} (got {text.Length}).");
        }

        return hex ? text.ToUpperInvariant() : text;
    }

    private static async Task PostPlatforms(HttpContext c, Route r, PccsService s)
    {
        PccsHttp.RequireToken(c, "user-token", s.Options.PccsUserTokenHash);
        var update = PccsHttp.Update(c, allowAll: true);
        using var document = await ReadJson(c).ConfigureAwait(false);
        var body = document.RootElement;
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw PccsException.BadRequest("The body must be a JSON object.");
        }

        var qeId = Field(body, "qe_id", 1, 260, hex: false)?.ToUpperInvariant() ?? throw PccsException.BadRequest("qe_id is required.");
        var pceId = Field(body, "pce_id", 4, 4, hex: true) ?? throw PccsException.BadRequest("pce_id is required.");
        var manifest = Field(body, "platform_manifest", 0, (int)Math.Min(int.MaxValue, s.Options.PccsMaxRequestBodyBytes), hex: true) ?? "";
        var cpuSvn = Field(body, "cpu_svn", 32, 32, hex: true);
        var pceSvn = Field(body, "pce_svn", 4, 4, hex: true);
        var encPpid = Field(body, "enc_ppid", 768, 768, hex: true);
        PccsRegistration registration;
        if (manifest.Length > 0)
        {
            // A manifest identifies the platform to PCS; the other fields are not used (as Intel's PCCS).
            registration = new PccsRegistration(qeId, pceId, "", "", "", manifest);
        }
        else
        {
            registration = new PccsRegistration(qeId, pceId,
                cpuSvn ?? throw PccsException.BadRequest("cpu_svn is required without a platform_manifest."),
                pceSvn ?? throw PccsException.BadRequest("pce_svn is required without a platform_manifest."),
                encPpid ?? throw PccsException.BadRequest("enc_ppid is required without a platform_manifest."),
                "");
        }

        await s.RegisterAsync(registration, update, c.RequestAborted).ConfigureAwait(false);
        await PccsHttp.WriteText(c, "Operation successful.").ConfigureAwait(false);
    }

    private static async Task GetPlatforms(HttpContext c, Route r, PccsService s)
    {
        PccsHttp.RequireToken(c, "admin-token", s.Options.PccsAdminTokenHash);
        var source = PccsHttp.Query(c, "source");
        List<(PccsRegistration Platform, bool Upper)> rows;
        if (source is null || source.Equals("reg", StringComparison.OrdinalIgnoreCase) || source.Equals("reg_na", StringComparison.OrdinalIgnoreCase))
        {
            var state = source is not null && source.Equals("reg_na", StringComparison.OrdinalIgnoreCase) ? PccsRegistrationState.NotAvailable : PccsRegistrationState.New;
            rows = [.. (await s.Store.TakeRegistrationsAsync(state, c.RequestAborted).ConfigureAwait(false)).Select(p => (p, false))];
        }
        else if (source.Length >= 2 && source[0] == '[' && source[^1] == ']')
        {
            var list = source[1..^1];
            var fmspcs = list.Length == 0 ? null : list.Split(',').Select(f => PccsHttp.Hex(f.Trim(), 12, "source FMSPC")).ToHashSet(StringComparer.Ordinal);
            var platforms = (await s.Store.ListPlatformsAsync(c.RequestAborted).ConfigureAwait(false)).ToDictionary(p => (p.QeId, p.PceId));
            rows = [];
            foreach (var (raw, fmspc) in await s.Store.ListRawTcbsAsync(null, null, c.RequestAborted).ConfigureAwait(false))
            {
                if (fmspcs is null || fmspcs.Contains(fmspc))
                {
                    var p = platforms[(raw.QeId, raw.PceId)];
                    rows.Add((new PccsRegistration(raw.QeId, raw.PceId, raw.CpuSvn, raw.PceSvn, p.EncPpid ?? "", p.PlatformManifest ?? ""), true));
                }
            }
        }
        else
        {
            throw PccsException.BadRequest("source must be reg, reg_na, or a bracketed FMSPC list such as [00906ED50000] ([] for all).");
        }

        using var buffer = new MemoryStream();
        await using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var (p, upper) in rows)
            {
                json.WriteStartObject();
                json.WriteString("qe_id", p.QeId);
                json.WriteString("pce_id", p.PceId);
                json.WriteString("cpu_svn", p.CpuSvn);
                json.WriteString("pce_svn", p.PceSvn);

                // As Intel's PCCS: lower-case for the queue, upper-case for the cache listing.
                json.WriteString("enc_ppid", upper ? p.EncPpid.ToUpperInvariant() : p.EncPpid.ToLowerInvariant());
                json.WriteString("platform_manifest", upper ? p.PlatformManifest.ToUpperInvariant() : p.PlatformManifest.ToLowerInvariant());
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        c.Response.Headers[PccsHeaders.PlatformCount] = rows.Count.ToString(CultureInfo.InvariantCulture);
        await PccsHttp.WriteBytes(c, buffer.ToArray(), "application/json; charset=utf-8").ConfigureAwait(false);
    }

    private static async Task PutPlatformCollateral(HttpContext c, Route r, PccsService s)
    {
        PccsHttp.RequireToken(c, "admin-token", s.Options.PccsAdminTokenHash);
        var body = await ReadBody(c).ConfigureAwait(false);
        using var document = Parse(body);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw PccsException.BadRequest("The body must be a JSON object (platform_collaterals.json).");
        }

        // The whole file through the verifier's ingest checks first (chains, CRLs and revocation, signatures, ids).
        PlatformCollateralFile file;
        try
        {
            file = PlatformCollateralFile.Read(body);
        }
        catch (Veritee.Dcap.DcapFormatException e)
        {
            throw PccsException.BadRequest(e.Message);
        }

        var verdict = PccsIngest.Verify(file, s.Anchor, s.Clock.GetUtcNow());
        if (!verdict.IsValid)
        {
            throw new PccsException(460, verdict.Message);
        }

        await s.ImportAsync(document.RootElement, file, c.RequestAborted).ConfigureAwait(false);
        await PccsHttp.WriteText(c, "Operation successful.").ConfigureAwait(false);
    }

    private static async Task Refresh(HttpContext c, Route r, PccsService s)
    {
        PccsHttp.RequireToken(c, "admin-token", s.Options.PccsAdminTokenHash);
        if (s.Mode == PccsFillMode.Offline)
        {
            throw new PccsException(503, "This server runs offline: refresh by importing a newer platform_collaterals.json (PUT /platformcollateral).");
        }

        var type = PccsHttp.Query(c, "type");
        if (type is null)
        {
            await s.RefreshCollateralAsync(c.RequestAborted).ConfigureAwait(false);
        }
        else if (type.Equals("certs", StringComparison.OrdinalIgnoreCase))
        {
            var fmspc = PccsHttp.Query(c, "fmspc");
            var set = string.IsNullOrEmpty(fmspc) || fmspc.Equals("all", StringComparison.OrdinalIgnoreCase)
                ? null
                : fmspc.Split(',').Select(f => PccsHttp.Hex(f.Trim(), 12, "fmspc")).ToHashSet(StringComparer.Ordinal);
            await s.RefreshCertificatesAsync(set, c.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            throw PccsException.BadRequest($"type must be absent (collateral) or certs (got {PccsHttp.Describe(type)}).");
        }

        await PccsHttp.WriteText(c, "Operation successful.").ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PCCS: upstream unreachable: {Reason}")]
    private static partial void LogUpstream(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "PCCS: unexpected failure on {Path}")]
    private static partial void LogFailure(ILogger logger, PathString path, Exception exception);
}

/// <summary>Refreshes cached PCCS collateral and certificates every interval (lazy and req modes); failures are logged and retried next time.</summary>
internal sealed partial class PccsRefreshService(PccsService pccs, TimeSpan interval, TimeProvider clock, ILogger logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                var items = await pccs.RefreshCollateralAsync(stoppingToken).ConfigureAwait(false);
                var platforms = await pccs.RefreshCertificatesAsync(null, stoppingToken).ConfigureAwait(false);
                LogRefreshed(logger, items, platforms);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogRefreshFailed(logger, e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "PCCS: scheduled refresh renewed {Items} items and {Platforms} platforms")]
    private static partial void LogRefreshed(ILogger logger, int items, int platforms);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PCCS: scheduled refresh failed, cache kept: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string reason);
}
