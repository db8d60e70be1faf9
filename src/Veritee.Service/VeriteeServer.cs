using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Veritee.Service.OpenApi;
using Veritee.Service.Store;
using Veritee.Tokens;

namespace Veritee.Service;

/// <summary>Builds and runs the MAA-compatible HTTP service.</summary>
public static partial class VeriteeServer
{
    /// <summary>api-versions accepted on every versioned route (except <c>/attest/TdxVm</c> and <c>/tcbbaselines</c>).</summary>
    public static readonly IReadOnlySet<string> ApiVersions = new HashSet<string>(StringComparer.Ordinal) { "2020-10-01", "2022-08-01", "2025-06-01" };

    /// <summary>
    /// api-versions of <c>/attest/TdxVm</c> and <c>/tcbbaselines</c>: 2025-06-01, 2026-03-11-preview, and
    /// 2023-04-01-preview (not in Microsoft's specs, but what Microsoft's CVM attestation tools send). Older versions
    /// did not have these routes and get 404, as MAA is reported to answer.
    /// </summary>
    public static readonly IReadOnlySet<string> TdxApiVersions = new HashSet<string>(StringComparer.Ordinal) { "2023-04-01-preview", "2025-06-01", "2026-03-11-preview" };

    /// <summary>The file in the data folder holding the generated key-encryption key when none is configured.</summary>
    public const string KeyEncryptionKeyFileName = "key-encryption-key";

    /// <summary>
    /// Checks <paramref name="options"/> and <paramref name="urls"/> without touching the disk; throws
    /// <see cref="ArgumentException"/> naming the option, or <see cref="InvalidOperationException"/> for a secret file
    /// other users can open. Returns the listen addresses.
    /// </summary>
    public static IReadOnlyList<ListenAddress> Validate(ServiceOptions options, string urls)
    {
        ArgumentNullException.ThrowIfNull(options);
        var listen = ListenAddress.ParseList(urls);
        if (!Uri.TryCreate(options.InstanceUrl, UriKind.Absolute, out var instance) || instance.Scheme is not ("http" or "https") ||
            instance.Query.Length > 0 || instance.Fragment.Length > 0 || options.InstanceUrl.EndsWith('/'))
        {
            throw new ArgumentException($"--instance-url: '{options.InstanceUrl}' is not an http(s) URL without query or trailing slash");
        }

        // A token's iss and jku must name an address clients can reach; "any interface" is not one.
        var unspecified = IPAddress.TryParse(instance.Host.Trim('[', ']'), out var instanceIp) &&
            (instanceIp.Equals(IPAddress.Any) || instanceIp.Equals(IPAddress.IPv6Any));
        if (unspecified || (options.InstanceUrlFromListenAddress && listen[0].IsUnspecified))
        {
            throw new ArgumentException(options.InstanceUrlFromListenAddress
                ? $"--urls {listen[0].Text} listens on every interface, which is no address for the token issuer; give --instance-url with the URL clients use (e.g. https://attest.example.com)"
                : $"--instance-url {options.InstanceUrl} is an unspecified address; give the URL clients use (e.g. https://attest.example.com)");
        }

        if (!instance.IsDefaultPort && instance.Port == 0 && !(options.InstanceUrlFromListenAddress && options.PostgresConnectionString is null))
        {
            throw new ArgumentException(options.InstanceUrlFromListenAddress
                ? "nodes sharing a PostgreSQL store need --instance-url (port 0 differs on every node)"
                : $"--instance-url {options.InstanceUrl} has port 0; give the port clients use");
        }

        if (listen.Any(a => a.Scheme == "https") && options.TlsCertificate is null && options.TlsCertificatePath is null)
        {
            throw new ArgumentException("an https:// address needs --tls-cert");
        }

        if (options.KeyEncryptionKey is { Length: not 32 })
        {
            throw new ArgumentException("the key-encryption key must be 32 bytes (AES-256)");
        }

        // At most 5 minutes, so the default 15-minute margin of a roll covers nodes that have not read the new key yet.
        if (options.InstanceKeyRefreshInterval <= TimeSpan.Zero || options.InstanceKeyRefreshInterval > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentException("the instance key refresh interval must be positive and at most 5 minutes");
        }

        // A shared store has no private folder to hold a generated key-encryption key, and the key is never stored in clear.
        if (options.PostgresConnectionString is not null && options.KeyEncryptionKey is null && options.InstanceKeyCertificate is null)
        {
            throw new ArgumentException("a PostgreSQL store keeps the instance key sealed: give --key-encryption-key-file (or $VERITEE_KEK) with the same key on every node, or --instance-key");
        }

        if (options.AdminAuthority is not null && (options.AdminAudience is not { Length: > 0 } || options.AdminRoles.Count == 0))
        {
            throw new ArgumentException("--admin-authority needs --admin-audience and at least one --admin-role (any tenant member can get a token for an audience)");
        }

        if (options.PerClientRequestsPerSecond < 0 || options.PerClientBurst < 0 || options.MaxConcurrentRequests < 0 || options.MaxQueuedRequests < 0)
        {
            throw new ArgumentException("rate and concurrency limits must not be negative");
        }

        if (options.MaxRefusedAuditRecords < 1)
        {
            throw new ArgumentException("--audit-max-refused must be positive");
        }

        if (options.SimulationCollateralDirectory is { } sim && !File.Exists(Path.Combine(sim, "trust_anchor.pem")))
        {
            throw new ArgumentException($"--simulation-collateral: folder {sim} has no trust_anchor.pem");
        }

        foreach (var secret in SecretFilesRead(options))
        {
            if (File.Exists(secret) && PrivateFiles.Exposure(secret) is { } problem)
            {
                throw new InvalidOperationException(problem);
            }
        }

        return listen;
    }

    /// <summary>Secret files this node reads from its folders: the generated key-encryption key and the simulated platform's keys.</summary>
    private static IEnumerable<string> SecretFilesRead(ServiceOptions options)
    {
        if (options.KeyEncryptionKey is null && options.InstanceKeyCertificate is null)
        {
            yield return Path.Combine(options.DataDirectory, KeyEncryptionKeyFileName);
        }

        if (options.SimulationPlatformDirectory is { } platform)
        {
            foreach (var name in Veritee.Enclave.SimulatedPlatform.SecretFiles)
            {
                yield return Path.Combine(platform, name);
            }
        }
    }

    /// <summary>
    /// Validates the options (before anything touches the disk), creates the data folder (0700) and store, loads or
    /// creates the instance key (sealed), and builds the app listening on <paramref name="urls"/>.
    /// </summary>
    public static async Task<WebApplication> BuildAsync(ServiceOptions options, string urls, TimeProvider? clock = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var opsPorts = OpsPorts(options, urls);
        clock ??= TimeProvider.System;
        Validate(options, urls);
        var notes = new List<string>();
        PrivateFiles.CreateFolder(options.DataDirectory);
        IServiceStore store = options.PostgresConnectionString is { } postgres
            ? new PostgresServiceStore(postgres)
            : new SqliteServiceStore(Path.Combine(options.DataDirectory, "veritee.db"));
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        store = options.StoreDecorator?.Invoke(store) ?? store;
        if (options.TrustModel == TrustModel.Isolated && (await store.GetSignersAsync(cancellationToken).ConfigureAwait(false)).Count == 0)
        {
            if (options.InitialSigners.Count == 0)
            {
                throw new InvalidOperationException("an isolated instance needs at least one policy signer certificate");
            }

            foreach (var signer in options.InitialSigners)
            {
                await store.AddSignerAsync(Thumbprint(signer.RawData), signer.RawData, cancellationToken).ConfigureAwait(false);
            }
        }

        var (key, kek) = options.InstanceKeyCertificate is { } mounted
            ? (InstanceSigningKey.FromCertificate(mounted), null)
            : await LoadStoredKeyAsync(store, options, clock, notes, cancellationToken).ConfigureAwait(false);

        // Nodes sharing a store are one instance: a node configured with another URL would sign tokens under another
        // issuer with the same key. A single node on its own SQLite store whose URL is its listen address follows it.
        var keyInstance = key.Certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        var follows = options.InstanceUrlFromListenAddress && options.PostgresConnectionString is null;
        if (options.InstanceKeyCertificate is null && !follows && !string.Equals(keyInstance, options.InstanceUrl, StringComparison.Ordinal))
        {
            key.Dispose();
            throw new InvalidOperationException($"the store's instance key was created for instance '{keyInstance}', but this node is configured as '{options.InstanceUrl}'; start it with --instance-url {keyInstance}, or use another data folder or database");
        }

        // Keys rolled out of service stay in /certs until their time ends, across restarts too.
        var keys = new InstanceKeyRing(key, kek is null ? [] : await store.GetRetiredInstanceKeysAsync(cancellationToken).ConfigureAwait(false));
        var rolledMeanwhile = kek is not null && await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false) is { } now && !now.Certificate.AsSpan().SequenceEqual(key.Certificate.RawData);
        if (kek is not null)
        {
            keys.Followed(clock.GetUtcNow());
        }

        if (keys.Rejected.Count > 0 && !rolledMeanwhile)
        {
            notes.Add($"the store lists {keys.Rejected.Count} rolled-out key(s) the signing key did not sign; they are not published in /certs (was the store written to without Veritee?)");
        }

        var tlsFiles = options.TlsCertificatePath is { } tlsPath ? new TlsCertificateReloader(tlsPath, options.TlsKeyPath) : null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(opsPorts is null ? urls : urls + ";" + options.OpsUrls);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            // The largest of the endpoint limits; each endpoint lowers it to its own before the body is read.
            k.Limits.MaxRequestBodySize = Math.Max(Math.Max(options.MaxRequestBodyBytes, options.MaxManagementRequestBodyBytes), options.PccsMode == PccsFillMode.Off ? 0 : options.PccsMaxRequestBodyBytes);
            k.AddServerHeader = false;
            if (tlsFiles is not null)
            {
                // Each new connection gets the current certificate: a renewed file is served without restart.
                tlsFiles.Logger = k.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Service.Tls");
                k.ConfigureHttpsDefaults(https => https.ServerCertificateSelector = (_, _) => tlsFiles.Current);
            }
            else if (options.TlsCertificate is { } tls)
            {
                k.ConfigureHttpsDefaults(https => https.ServerCertificate = tls);
            }
        });
        ConfigureLogging(builder, options);
        var telemetry = new ServiceTelemetry();
        ConfigureLimits(builder, options, telemetry);
        ConfigureTelemetry(builder, options);
        builder.Services.AddSingleton(_ => telemetry);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<IServiceStore>(store);
        builder.Services.AddSingleton(new StoreProbe(store));
        builder.Services.AddSingleton(keys);
        if (kek is not null)
        {
            builder.Services.AddHostedService(sp => new InstanceKeyRefresher(store, keys, kek, options.InstanceKeyRefreshInterval, clock, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Service.InstanceKey")));
        }

        builder.Services.AddSingleton(clock);
        var instanceAddress = new InstanceAddress(options.InstanceUrl);
        builder.Services.AddSingleton(instanceAddress);
        builder.Services.AddSingleton(new TokenWriter(keys, instanceAddress));
        var engine = new AttestationEngine(options, clock, new StoreCollateralCache(store), telemetry: telemetry);
        builder.Services.AddSingleton(engine);
        builder.Services.AddSingleton<PolicyCache>();
        Pccs.PccsEndpoints.AddPccs(builder.Services, options, clock);
        builder.Services.AddServiceOpenApi(options);
        builder.Services.AddSingleton(sp => new AdminAuthorizer(options, clock, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Service.AdminAuthorizer")));
        var app = builder.Build();
        app.Lifetime.ApplicationStopped.Register(keys.Dispose);
        instanceAddress.Attach(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>());
        var startup = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Service");
        foreach (var note in notes)
        {
            LogStartupNote(startup, note);
        }

        engine.Logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Collateral");
        UseServiceMiddleware(app, options);
        MapOperationalRoutes(app, options);
        MapRoutes(app, options);
        return app;
    }

    /// <summary>The instance URL tokens are issued under (a configured port 0 resolved to the bound port once the app runs).</summary>
    public static string InstanceUrl(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Services.GetRequiredService<TokenWriter>().Issuer;
    }

    /// <summary>
    /// The store's instance key, created on first start; it is only ever stored sealed. A key an older Veritee stored in
    /// clear is sealed in place on start. Without a configured key-encryption key (SQLite only) the one in
    /// <c>DATA/key-encryption-key</c> is used, generated when the store has no sealed key yet.
    /// </summary>
    private static async Task<(InstanceSigningKey Key, byte[]? Kek)> LoadStoredKeyAsync(IServiceStore store, ServiceOptions options, TimeProvider clock, List<string> notes, CancellationToken cancellationToken)
    {
        var kekFile = Path.Combine(options.DataDirectory, KeyEncryptionKeyFileName);
        var kek = options.KeyEncryptionKey;
        var stored = await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false);
        if (stored is null || !InstanceKeyProtector.IsSealed(stored.Value.Pkcs8))
        {
            kek ??= GeneratedKek(kekFile, notes);
            if (stored is null)
            {
                using var created = InstanceSigningKey.Create(options.InstanceUrl, clock.GetUtcNow());
                var pkcs8 = created.ExportPkcs8();
                var sealedKey = InstanceKeyProtector.Seal(pkcs8, kek);
                CryptographicOperations.ZeroMemory(pkcs8);
                await store.InsertInstanceKeyIfAbsentAsync(sealedKey, created.Certificate.RawData, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // An older Veritee kept the key in clear: seal it now (same key, so issued tokens stay valid).
                var clear = stored.Value.Pkcs8;
                using (InstanceSigningKey.Load(clear, stored.Value.Certificate))
                {
                    // Only a key that loads is sealed.
                }

                if (await store.ReplaceInstanceKeyAsync(clear, InstanceKeyProtector.Seal(clear, kek), cancellationToken).ConfigureAwait(false))
                {
                    notes.Add("the instance key was stored in clear by an older Veritee and is now sealed with the key-encryption key; if a copy of the store may have been taken, roll it ('veritee store roll-key --publish-old-hours 0') and rekey ('veritee store rekey')");
                }
            }

            stored = await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (kek is null)
        {
            kek = File.Exists(kekFile)
                ? ReadKekFile(kekFile)
                : throw new InvalidOperationException("the stored instance key is sealed; configure the key-encryption key it was sealed with (--key-encryption-key-file or $VERITEE_KEK)");
        }

        var (sealedBytes, certificate) = stored!.Value;
        if (!InstanceKeyProtector.IsSealed(sealedBytes))
        {
            throw new InvalidOperationException("the stored instance key is not sealed; another node stored it in clear");
        }

        var plain = InstanceKeyProtector.Open(sealedBytes, kek);
        try
        {
            return (InstanceSigningKey.Load(plain, certificate), kek);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>The key-encryption key in <paramref name="file"/>, generated there (0600, from the first byte) when absent.</summary>
    private static byte[] GeneratedKek(string file, List<string> notes)
    {
        var fresh = RandomNumberGenerator.GetBytes(32);
        if (PrivateFiles.TryCreate(file, Encoding.ASCII.GetBytes(Convert.ToHexStringLower(fresh) + "\n")))
        {
            notes.Add($"generated a key-encryption key in {file}; it seals the instance signing key in the store. In production keep it in a secret store and pass it with --key-encryption-key-file or $VERITEE_KEK");
            return fresh;
        }

        CryptographicOperations.ZeroMemory(fresh);
        return ReadKekFile(file);
    }

    private static byte[] ReadKekFile(string file)
    {
        if (PrivateFiles.Exposure(file) is { } problem)
        {
            throw new InvalidOperationException(problem);
        }

        try
        {
            return InstanceKeyProtector.ParseKek(File.ReadAllBytes(file));
        }
        catch (FormatException e)
        {
            throw new InvalidOperationException($"{file}: {e.Message}", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Note}")]
    private static partial void LogStartupNote(ILogger logger, string note);

    private static async Task ErrorEnvelope(HttpContext context, RequestDelegate next)
    {
        context.Response.Headers["x-ms-request-id"] = context.TraceIdentifier;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (MaaException e)
        {
            await WriteError(context, e.Status, e.Code, e.Message, e.RetryAfterSeconds).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteError(context, HttpStatusCode.RequestEntityTooLarge, MaaErrorCodes.RequestTooLarge, "the request body is larger than the service accepts").ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            await WriteError(context, HttpStatusCode.BadRequest, MaaErrorCodes.InvalidParameter, e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (StoredTextException e)
        {
            await WriteError(context, HttpStatusCode.BadRequest, MaaErrorCodes.InvalidParameter, e.Message).ConfigureAwait(false);
        }
        catch (Npgsql.PostgresException e) when (e.SqlState.StartsWith("22", StringComparison.Ordinal))
        {
            // SQLSTATE class 22 (data exception): the request's data, not the store, is at fault; retrying cannot help.
            await WriteError(context, HttpStatusCode.BadRequest, MaaErrorCodes.InvalidParameter, $"the store refused a value of this request as invalid (SQLSTATE {e.SqlState})").ConfigureAwait(false);
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or Npgsql.NpgsqlException or TimeoutException)
        {
            LogStoreFailure(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Service"), e);
            await WriteError(context, HttpStatusCode.ServiceUnavailable, MaaErrorCodes.ServiceUnavailable, "the store is unavailable; retry later").ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Never a bare 500: the client gets the envelope, the log gets the exception (no request data, no secrets).
            LogUnexpected(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Service"), context.Request.Path, e);
            await WriteError(context, HttpStatusCode.InternalServerError, MaaErrorCodes.InternalError, "an unexpected error occurred; request id " + context.TraceIdentifier).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "unexpected failure on {Path}")]
    private static partial void LogUnexpected(ILogger logger, PathString path, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "store failure")]
    private static partial void LogStoreFailure(ILogger logger, Exception exception);

    /// <summary>
    /// Answers with MAA's error envelope (and <c>Retry-After</c> when given); <paramref name="cancellationToken"/>
    /// defaults to the request's (a timed-out request writes its answer with <see cref="CancellationToken.None"/>).
    /// </summary>
    internal static Task WriteError(HttpContext context, HttpStatusCode status, string code, string message, int? retryAfterSeconds = null, CancellationToken? cancellationToken = null)
    {
        context.Items[ErrorCodeItem] = code;
        if (context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        context.Response.Clear();
        context.Response.Headers["x-ms-request-id"] = context.TraceIdentifier;

        // Declared by the 2025-06-01 spec (Azure.Core ErrorResponse); sent on every api-version.
        context.Response.Headers["x-ms-error-code"] = code;
        if (retryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return WriteJson(context, MaaException.Envelope(code, message), status, cancellationToken);
    }

    internal static async Task WriteJson(HttpContext context, JsonNode body, HttpStatusCode status = HttpStatusCode.OK, CancellationToken? cancellationToken = null)
    {
        var bytes = CanonicalJson.Serialize(body);
        context.Response.StatusCode = (int)status;
        context.Response.ContentType = "application/json; charset=utf-8";

        // With the length known, the answer goes out in one write without chunked framing.
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, cancellationToken ?? context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// The body <c>{"token": "..."}</c> with a token issued for <paramref name="claims"/>, written straight into a
    /// pooled buffer (a token needs no JSON escaping: base64url and dots). The caller disposes it once written.
    /// </summary>
    private static PooledBufferWriter TokenBody(TokenWriter tokens, JsonObject claims, DateTimeOffset now, TimeSpan lifetime, bool unsigned = false)
    {
        var body = new PooledBufferWriter(8192);
        try
        {
            body.Write("{\"token\":\""u8);
            using (ServiceTelemetry.Activities.StartActivity("veritee.sign"))
            {
                tokens.Write(claims, now, lifetime, unsigned, body);
            }

            body.Write("\"}"u8);
            return body;
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    private static async Task WriteJson(HttpContext context, PooledBufferWriter body)
    {
        using (body)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.ContentLength = body.WrittenMemory.Length;
            await context.Response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private static void MapRoutes(WebApplication app, ServiceOptions options)
    {
        var attestLimit = new BodySizeLimit(options.MaxRequestBodyBytes);
        var managementLimit = new BodySizeLimit(options.MaxManagementRequestBodyBytes);
        app.MapGet("/certs", (HttpContext c, InstanceKeyRing keys, TimeProvider clock) => WriteJson(c, new JsonObject { ["keys"] = keys.Keys(clock.GetUtcNow()) })).DescribeCerts();
        app.MapGet("/.well-known/openid-configuration", (HttpContext c, TokenWriter t) => WriteJson(c, OpenIdConfiguration(t.Issuer))).DescribeOpenIdConfiguration();
        app.MapPost("/attest/{type}", Attest).WithMetadata(attestLimit).DescribeAttest();
        app.MapGet("/tcbbaselines/{type}", GetTcbBaselines).DescribeTcbBaselines();
        app.MapGet("/policies/{type}", GetPolicy).DescribeGetPolicy();
        app.MapPut("/policies/{type}", SetPolicy).WithMetadata(managementLimit).DescribeSetPolicy();
        app.MapPost("/policies/{type}", ResetPolicy).WithMetadata(managementLimit).DescribeResetPolicy();
        app.MapGet("/certificates", GetCertificates).DescribeGetCertificates();
        app.MapPost("/certificates:add", ModifyCertificates).WithMetadata(managementLimit).DescribeModifyCertificates(add: true);
        app.MapPost("/certificates:remove", ModifyCertificates).WithMetadata(managementLimit).DescribeModifyCertificates(add: false);
        app.MapGet("/audit", GetAudit).DescribeAudit();
        app.MapServiceOpenApi(options);
        Pccs.PccsEndpoints.MapPccs(app, options);
        // "{*path}", not MapFallback's default "{*path:nonfile}": a path that looks like a file (/openapi/v1.json with
        // --openapi off, /x.json) gets the envelope too, not a bare 404.
        app.MapFallback("{*path}", (HttpContext c) => throw new MaaException(HttpStatusCode.NotFound, MaaErrorCodes.NotFound, $"no operation at {c.Request.Method} {c.Request.Path}"));
    }

    private static JsonObject OpenIdConfiguration(string instance) => new()
    {
        ["response_types_supported"] = new JsonArray("token", "none"),
        ["id_token_signing_alg_values_supported"] = new JsonArray("RS256"),
        ["revocation_endpoint"] = instance + "/revoke",
        ["issuer"] = instance,
        ["jwks_uri"] = instance + "/certs",
        ["claims_supported"] = new JsonArray("cnf", "nonce", "x-ms-ver", "x-ms-attestation-type", "x-ms-policy-hash", "x-ms-policy-signer",
            "x-ms-sgx-is-debuggable", "x-ms-sgx-mrenclave", "x-ms-sgx-mrsigner", "x-ms-sgx-svn", "x-ms-sgx-ehd", "x-ms-sgx-collateral",
            "is-debuggable", "sgx-mrsigner", "sgx-mrenclave", "product-id", "svn", "tee"),
    };

    private static void RequireApiVersion(HttpContext context)
    {
        var version = context.Request.Query["api-version"].ToString();
        if (version.Length == 0)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "The api-version query parameter (?api-version=) is required for all requests");
        }

        if (!ApiVersions.Contains(version))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"The api-version '{version}' is not supported; supported: {string.Join(", ", ApiVersions)}");
        }
    }

    /// <summary>api-version check of a route that exists only from 2025-06-01 on: older known versions get 404.</summary>
    private static void RequireTdxApiVersion(HttpContext context)
    {
        var version = context.Request.Query["api-version"].ToString();
        if (version.Length == 0)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "The api-version query parameter (?api-version=) is required for all requests");
        }

        if (TdxApiVersions.Contains(version))
        {
            return;
        }

        if (ApiVersions.Contains(version))
        {
            throw new MaaException(HttpStatusCode.NotFound, MaaErrorCodes.NotFound, $"no operation at {context.Request.Method} {context.Request.Path} in api-version {version}; use {string.Join(", ", TdxApiVersions)}");
        }

        throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"The api-version '{version}' is not supported; supported here: {string.Join(", ", TdxApiVersions)}");
    }

    private static string RequireType(string type) =>
        DefaultPolicies.CanonicalType(type) ?? throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"attestation type '{type}' is not supported (SgxEnclave, OpenEnclave, TdxVm)");

    /// <summary>
    /// <c>GET /tcbbaselines/{type}</c>: Veritee states no TCB baselines (MAA's list names Azure's SGX platform software
    /// releases, which a self-hosted instance does not choose; none is published for TDX), so the list is empty.
    /// </summary>
    private static Task GetTcbBaselines(HttpContext context, string type)
    {
        RequireTdxApiVersion(context);
        _ = RequireType(type);
        return WriteJson(context, new JsonObject { ["tcbBaselines"] = new JsonArray() });
    }

    private static async Task<byte[]> ReadBody(HttpContext context)
    {
        // A declared length within the route's limit is read into one array of that size; a body that is shorter
        // fails the read, and one that claims more than the limit takes the path below, which answers 413.
        if (context.Request.ContentLength is { } declared &&
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize is { } limit &&
            declared <= limit)
        {
            var body = new byte[declared];
            await context.Request.Body.ReadExactlyAsync(body, context.RequestAborted).ConfigureAwait(false);
            return body;
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static async Task Attest(HttpContext context, string type, AttestationEngine engine, PolicyCache policies, TokenWriter tokens, TimeProvider clock, ServiceTelemetry telemetry)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var canonical = "unknown";
        var outcome = "error";
        try
        {
            var known = RequireType(type);
            if (known == DefaultPolicies.TdxVmType)
            {
                RequireTdxApiVersion(context);
            }
            else
            {
                RequireApiVersion(context);
            }

            canonical = known;
            var request = AttestRequest.Parse(await ReadBody(context).ConfigureAwait(false), canonical);
            var policy = await policies.GetAsync(canonical, context.RequestAborted).ConfigureAwait(false);
            var now = clock.GetUtcNow();
            var (claims, unsigned) = await engine.AttestAsync(canonical, request, policy.Compiled, policy.Text, policy.SignerJwk, now, context.RequestAborted).ConfigureAwait(false);
            var body = TokenBody(tokens, claims, now, TokenWriter.AttestationLifetime, unsigned);
            outcome = unsigned ? "issued_unsigned" : "issued";
            await WriteJson(context, body).ConfigureAwait(false);
        }
        catch (Exception e) when (outcome == "error")
        {
            outcome = Outcome(e);
            throw;
        }
        finally
        {
            telemetry.Attestation(canonical, outcome, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
    }

    private static async Task GetPolicy(HttpContext context, string type, PolicyCache policies, TokenWriter tokens, TimeProvider clock, ServiceOptions options)
    {
        RequireApiVersion(context);
        await Authorize(context).ConfigureAwait(false);
        var canonical = RequireType(type);
        var policy = await policies.GetAsync(canonical, context.RequestAborted).ConfigureAwait(false);
        var claims = new JsonObject { ["x-ms-policy"] = policy.Jws };
        await WriteJson(context, TokenBody(tokens, claims, clock.GetUtcNow(), TokenWriter.ResultLifetime)).ConfigureAwait(false);
    }

    private static async Task SetPolicy(HttpContext context, string type, PolicyCache policies, IServiceStore store, TokenWriter tokens, TimeProvider clock, ServiceOptions options)
    {
        var audit = new AuditDraft(context, "policy.set");
        try
        {
            RequireApiVersion(context);
            var canonical = RequireType(type);
            audit.AttestationType = canonical;

            // The caller is authenticated before the body is read, parsed or its signature verified (unauthenticated
            // requests cost no JWS or RSA work).
            await Authorize(context).ConfigureAwait(false);
            var jws = ParsePolicyJws(Encoding.UTF8.GetString(await ReadBody(context).ConfigureAwait(false)));
            await AuthorizeChange(context, options, store, jws.VerifySignature(), jws.SignerCertificate).ConfigureAwait(false);
            var text = jws.PolicyText ?? throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the policy token has an empty payload; use :reset to remove a policy");
            if (text.IndexOf('\0', StringComparison.Ordinal) is var nul and >= 0)
            {
                // Refused on every store alike (PostgreSQL cannot keep it): a permanent input error, not a store failure.
                throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"the policy text contains a NUL character (U+0000) at offset {nul}; policies must not contain NUL");
            }

            audit.NewPolicyHash = Veritee.Tokens.PolicyJws.PolicyHash(text);
            _ = PolicyCompiler.Compile(text);
            var signer = jws.SignerCertificate is { } cert ? PolicyCertificateJws.SignerJwk(cert) : null;
            var record = audit.Succeeded();
            await policies.SetAsync(new StoredPolicy(canonical, jws.Jws.Text, text, signer), record, context.RequestAborted).ConfigureAwait(false);
            audit.Committed(record);
            var claims = new JsonObject
            {
                ["x-ms-policy-result"] = "Updated",
                ["x-ms-policy-token-hash"] = jws.TokenHash,
            };
            if (signer is not null)
            {
                claims["x-ms-policy-signer"] = JsonNode.Parse(signer);
            }

            await WriteJson(context, TokenBody(tokens, claims, clock.GetUtcNow(), TokenWriter.ResultLifetime)).ConfigureAwait(false);
        }
        catch (Exception e) when (!audit.Done)
        {
            await audit.RefusedAsync(e).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task ResetPolicy(HttpContext context, string type, PolicyCache policies, IServiceStore store, TokenWriter tokens, TimeProvider clock, ServiceOptions options)
    {
        // ASP.NET routes "/policies/SgxEnclave:reset" here with type = "SgxEnclave:reset".
        const string Suffix = ":reset";
        if (!type.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase))
        {
            throw new MaaException(HttpStatusCode.NotFound, MaaErrorCodes.NotFound, $"no operation at POST {context.Request.Path}");
        }

        var audit = new AuditDraft(context, "policy.reset");
        try
        {
            RequireApiVersion(context);
            var canonical = RequireType(type[..^Suffix.Length]);
            audit.AttestationType = canonical;
            await Authorize(context).ConfigureAwait(false);
            var jws = ParsePolicyJws(Encoding.UTF8.GetString(await ReadBody(context).ConfigureAwait(false)));
            await AuthorizeChange(context, options, store, jws.VerifySignature(), jws.SignerCertificate).ConfigureAwait(false);
            if (jws.PolicyText is not null)
            {
                throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "a reset token must have an empty payload");
            }

            audit.NewPolicyHash = Veritee.Tokens.PolicyJws.PolicyHash(DefaultPolicies.For(canonical));
            var record = audit.Succeeded();
            await policies.RemoveAsync(canonical, record, context.RequestAborted).ConfigureAwait(false);
            audit.Committed(record);
            var claims = new JsonObject { ["x-ms-policy-result"] = "Removed" };
            await WriteJson(context, TokenBody(tokens, claims, clock.GetUtcNow(), TokenWriter.ResultLifetime)).ConfigureAwait(false);
        }
        catch (Exception e) when (!audit.Done)
        {
            await audit.RefusedAsync(e).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task GetCertificates(HttpContext context, IServiceStore store, TokenWriter tokens, TimeProvider clock, ServiceOptions options)
    {
        RequireApiVersion(context);
        await Authorize(context).ConfigureAwait(false);
        var keys = new JsonArray();
        foreach (var der in await store.GetSignersAsync(context.RequestAborted).ConfigureAwait(false))
        {
            using var cert = X509CertificateLoader.LoadCertificate(der);
            keys.Add(JsonNode.Parse(PolicyCertificateJws.SignerJwk(cert)));
        }

        var claims = new JsonObject { ["x-ms-policy-certificates"] = new JsonObject { ["keys"] = keys } };
        await WriteJson(context, TokenBody(tokens, claims, clock.GetUtcNow(), TokenWriter.ResultLifetime)).ConfigureAwait(false);
    }

    private static async Task ModifyCertificates(HttpContext context, IServiceStore store, TokenWriter tokens, TimeProvider clock, ServiceOptions options)
    {
        var add = context.Request.Path.Value!.EndsWith(":add", StringComparison.OrdinalIgnoreCase);
        var audit = new AuditDraft(context, add ? "signer.add" : "signer.remove");
        try
        {
            RequireApiVersion(context);
            await Authorize(context).ConfigureAwait(false);
            if (options.TrustModel != TrustModel.Isolated)
            {
                throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, "The operation is disallowed: policy management certificates exist only on isolated instances");
            }

            PolicyCertificateJws request;
            try
            {
                request = PolicyCertificateJws.Parse(CertificateRequestJws(await ReadBody(context).ConfigureAwait(false), add));
            }
            catch (TokenFormatException e)
            {
                throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, e.Message);
            }

            var thumbprint = request.Thumbprint;
            audit.CertificateThumbprint = thumbprint;
            await AuthorizeChange(context, options, store, request.VerifySignature(), request.SignerCertificate).ConfigureAwait(false);
            var record = audit.Succeeded();
            if (add)
            {
                await store.AddSignerAsync(thumbprint, request.Certificate.RawData, record, context.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                try
                {
                    await store.RemoveSignerAsync(thumbprint, record, context.RequestAborted).ConfigureAwait(false);
                }
                catch (InvalidOperationException e)
                {
                    throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, e.Message);
                }
            }

            audit.Committed(record);
            var claims = new JsonObject
            {
                ["x-ms-certificate-thumbprint"] = thumbprint,
                ["x-ms-policycertificates-result"] = add ? "IsPresent" : "IsAbsent",
            };
            await WriteJson(context, TokenBody(tokens, claims, clock.GetUtcNow(), TokenWriter.ResultLifetime)).ConfigureAwait(false);
        }
        catch (Exception e) when (!audit.Done)
        {
            await audit.RefusedAsync(e).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The JWS of a <c>certificates:add/remove</c> body: the JWS itself (bare or as a JSON string, 2020-10-01/2022-08-01)
    /// or the 2025-06-01 object <c>{"policyCertificateToAdd": "&lt;JWS&gt;"}</c> / <c>{"policyCertificateToRemove": …}</c>.
    /// </summary>
    private static string CertificateRequestJws(byte[] body, bool add)
    {
        var text = Encoding.UTF8.GetString(body);
        if (!text.TrimStart().StartsWith('{'))
        {
            return text;
        }

        var expected = add ? "policyCertificateToAdd" : "policyCertificateToRemove";
        JsonObject request;
        try
        {
            request = JsonNode.Parse(text, new JsonNodeOptions { PropertyNameCaseInsensitive = true }) as JsonObject
                ?? throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the request body is not a JSON object");
            return request[expected] is JsonValue value && value.TryGetValue<string>(out var jws)
                ? jws
                : throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"the request body has no string \"{expected}\" (the JWS of the certificate to {(add ? "add" : "remove")})");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException or InvalidOperationException)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"the request body is not valid JSON: {e.Message}");
        }
    }

    private static PolicyJws ParsePolicyJws(string body)
    {
        try
        {
            return Veritee.Tokens.PolicyJws.Parse(body);
        }
        catch (TokenFormatException e)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, e.Message);
        }
    }

    /// <summary>
    /// Who may change policies and signers: an authenticated administrator (bearer token, checked by the caller before
    /// the body is parsed) in both models; a signature, when present, must verify; isolated, the change must also be
    /// signed by a registered policy-management certificate.
    /// </summary>
    private static async Task AuthorizeChange(HttpContext context, ServiceOptions options, IServiceStore store, JwsSignatureStatus signature, X509Certificate2? signer)
    {
        if (signature == JwsSignatureStatus.Invalid)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, "the token signature does not verify with the certificate in its header");
        }

        if (signature == JwsSignatureStatus.Valid && signer is not null)
        {
            RememberSigner(context, signer.RawData);
        }

        if (options.TrustModel != TrustModel.Isolated)
        {
            return;
        }

        if (signature != JwsSignatureStatus.Valid || signer is null)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, "an isolated instance accepts only tokens signed by a policy management certificate");
        }

        var signers = await store.GetSignersAsync(context.RequestAborted).ConfigureAwait(false);
        if (!signers.Any(der => der.AsSpan().SequenceEqual(signer.RawData)))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, $"the token is signed by a certificate ({Thumbprint(signer.RawData)}) that is not a policy management certificate of this instance");
        }
    }

    private static string Thumbprint(byte[] der) => Convert.ToHexString(SHA1.HashData(der));

    /// <summary>
    /// Management always needs an authenticated caller, in both trust models (as MAA: authentication, plus the
    /// signature in the isolated model). MAA's signed requests carry no time or operation, so a captured one could be
    /// replayed (an old policy, or a remove token posted to :add); the bearer check is what stops strangers doing so.
    /// </summary>
    private static Task<string> Authorize(HttpContext context) =>
        context.RequestServices.GetRequiredService<AdminAuthorizer>().AuthorizeAsync(context);
}
