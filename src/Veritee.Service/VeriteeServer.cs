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
using Veritee.Policy;
using Veritee.Service.Store;
using Veritee.Tokens;

namespace Veritee.Service;

/// <summary>Builds and runs the MAA-compatible HTTP service.</summary>
public static partial class VeriteeServer
{
    /// <summary>api-versions accepted on every versioned route.</summary>
    public static readonly IReadOnlySet<string> ApiVersions = new HashSet<string>(StringComparer.Ordinal) { "2020-10-01", "2022-08-01" };

    /// <summary>Creates the store, loads or creates the instance key, and builds the app listening on <paramref name="urls"/>.</summary>
    public static async Task<WebApplication> BuildAsync(ServiceOptions options, string urls, TimeProvider? clock = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        clock ??= TimeProvider.System;
        Directory.CreateDirectory(options.DataDirectory);
        IServiceStore store = options.PostgresConnectionString is { } postgres
            ? new PostgresServiceStore(postgres)
            : new SqliteServiceStore(Path.Combine(options.DataDirectory, "veritee.db"));
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        if (options.InstanceKeyCertificate is null && await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            using var created = InstanceSigningKey.Create(options.InstanceUrl, clock.GetUtcNow());
            var pkcs8 = created.ExportPkcs8();
            var stored = pkcs8;
            if (options.KeyEncryptionKey is { } kek)
            {
                stored = InstanceKeyProtector.Seal(pkcs8, kek);
                CryptographicOperations.ZeroMemory(pkcs8);
            }

            await store.InsertInstanceKeyIfAbsentAsync(stored, created.Certificate.RawData, cancellationToken).ConfigureAwait(false);
        }

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

        var key = options.InstanceKeyCertificate is { } mounted
            ? InstanceSigningKey.FromCertificate(mounted)
            : await LoadStoredKeyAsync(store, options, cancellationToken).ConfigureAwait(false);

        // Nodes sharing a store are one instance: a node configured with another URL would sign tokens under another
        // issuer with the same key.
        var keyInstance = key.Certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (options.InstanceKeyCertificate is null && !string.Equals(keyInstance, options.InstanceUrl, StringComparison.Ordinal))
        {
            key.Dispose();
            throw new InvalidOperationException($"the store's instance key was created for instance '{keyInstance}', but this node is configured as '{options.InstanceUrl}'; start it with --instance-url {keyInstance}, or use another data folder or database");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(urls);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            // The largest of the endpoint limits; each endpoint lowers it to its own before the body is read.
            k.Limits.MaxRequestBodySize = Math.Max(options.MaxRequestBodyBytes, options.MaxManagementRequestBodyBytes);
            k.AddServerHeader = true;
            if (options.TlsCertificate is { } tls)
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
        builder.Services.AddSingleton(key);
        builder.Services.AddSingleton(clock);
        builder.Services.AddSingleton(new TokenWriter(key, options.InstanceUrl));
        var engine = new AttestationEngine(options, clock, new StoreCollateralCache(store), telemetry: telemetry);
        builder.Services.AddSingleton(engine);
        builder.Services.AddSingleton<PolicyCache>();
        builder.Services.AddSingleton(new AdminAuthorizer(options, clock));
        var app = builder.Build();
        engine.Logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Collateral");
        UseServiceMiddleware(app, options);
        MapOperationalRoutes(app, options);
        MapRoutes(app, options);
        return app;
    }

    private static async Task<InstanceSigningKey> LoadStoredKeyAsync(IServiceStore store, ServiceOptions options, CancellationToken cancellationToken)
    {
        var (stored, certificate) = (await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false))!.Value;
        var isSealed = InstanceKeyProtector.IsSealed(stored);
        if (isSealed && options.KeyEncryptionKey is null)
        {
            throw new InvalidOperationException("the stored instance key is sealed; configure the key-encryption key it was sealed with");
        }

        if (!isSealed && options.KeyEncryptionKey is not null)
        {
            throw new InvalidOperationException("the stored instance key is not sealed, but a key-encryption key is configured; start without it, or with a new store");
        }

        var pkcs8 = isSealed ? InstanceKeyProtector.Open(stored, options.KeyEncryptionKey!) : stored;
        try
        {
            return InstanceSigningKey.Load(pkcs8, certificate);
        }
        finally
        {
            // Only the copy this method decrypted; a plain key's bytes belong to the store's answer.
            if (isSealed)
            {
                CryptographicOperations.ZeroMemory(pkcs8);
            }
        }
    }

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
        if (retryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return WriteJson(context, MaaException.Envelope(code, message), status, cancellationToken);
    }

    internal static async Task WriteJson(HttpContext context, JsonNode body, HttpStatusCode status = HttpStatusCode.OK, CancellationToken? cancellationToken = null)
    {
        context.Response.StatusCode = (int)status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.Body.WriteAsync(CanonicalJson.Serialize(body), cancellationToken ?? context.RequestAborted).ConfigureAwait(false);
    }

    private static void MapRoutes(WebApplication app, ServiceOptions options)
    {
        var attestLimit = new BodySizeLimit(options.MaxRequestBodyBytes);
        var managementLimit = new BodySizeLimit(options.MaxManagementRequestBodyBytes);
        app.MapGet("/certs", (HttpContext c, InstanceSigningKey key) => WriteJson(c, new JsonObject { ["keys"] = new JsonArray(key.Jwk()) }));
        app.MapGet("/.well-known/openid-configuration", (HttpContext c, ServiceOptions o) => WriteJson(c, OpenIdConfiguration(o.InstanceUrl)));
        app.MapPost("/attest/{type}", Attest).WithMetadata(attestLimit);
        app.MapGet("/policies/{type}", GetPolicy);
        app.MapPut("/policies/{type}", SetPolicy).WithMetadata(managementLimit);
        app.MapPost("/policies/{type}", ResetPolicy).WithMetadata(managementLimit);
        app.MapGet("/certificates", GetCertificates);
        app.MapPost("/certificates:add", ModifyCertificates).WithMetadata(managementLimit);
        app.MapPost("/certificates:remove", ModifyCertificates).WithMetadata(managementLimit);
        app.MapFallback((HttpContext c) => throw new MaaException(HttpStatusCode.NotFound, MaaErrorCodes.NotFound, $"no operation at {c.Request.Method} {c.Request.Path}"));
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

    private static string RequireType(string type) =>
        DefaultPolicies.CanonicalType(type) ?? throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"attestation type '{type}' is not supported (SgxEnclave, OpenEnclave)");

    private static async Task<byte[]> ReadBody(HttpContext context)
    {
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
            RequireApiVersion(context);
            canonical = RequireType(type);
            var request = AttestRequest.Parse(await ReadBody(context).ConfigureAwait(false), canonical);
            var policy = await policies.GetAsync(canonical, context.RequestAborted).ConfigureAwait(false);
            var now = clock.GetUtcNow();
            var (claims, unsigned) = await engine.AttestAsync(canonical, request, policy.Compiled, policy.Text, policy.SignerJwk, now, context.RequestAborted).ConfigureAwait(false);
            string token;
            using (ServiceTelemetry.Activities.StartActivity("veritee.sign"))
            {
                token = tokens.Issue(claims, now, TokenWriter.AttestationLifetime, unsigned);
            }

            outcome = unsigned ? "issued_unsigned" : "issued";
            await WriteJson(context, new JsonObject { ["token"] = token }).ConfigureAwait(false);
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
        await WriteJson(context, new JsonObject { ["token"] = tokens.Issue(claims, clock.GetUtcNow(), TokenWriter.ResultLifetime) }).ConfigureAwait(false);
    }

    private static async Task SetPolicy(HttpContext context, string type, PolicyCache policies, IServiceStore store, TokenWriter tokens, TimeProvider clock, ServiceOptions options)
    {
        RequireApiVersion(context);
        var canonical = RequireType(type);
        var jws = ParsePolicyJws(Encoding.UTF8.GetString(await ReadBody(context).ConfigureAwait(false)));
        await AuthorizeChange(context, options, store, jws.VerifySignature(), jws.SignerCertificate).ConfigureAwait(false);
        var text = jws.PolicyText ?? throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the policy token has an empty payload; use :reset to remove a policy");
        _ = PolicyCompiler.Compile(text);
        var signer = jws.SignerCertificate is { } cert ? PolicyCertificateJws.SignerJwk(cert) : null;
        await policies.SetAsync(new StoredPolicy(canonical, jws.Jws.Text, text, signer), context.RequestAborted).ConfigureAwait(false);
        var claims = new JsonObject
        {
            ["x-ms-policy-result"] = "Updated",
            ["x-ms-policy-token-hash"] = jws.TokenHash,
        };
        if (signer is not null)
        {
            claims["x-ms-policy-signer"] = JsonNode.Parse(signer);
        }

        await WriteJson(context, new JsonObject { ["token"] = tokens.Issue(claims, clock.GetUtcNow(), TokenWriter.ResultLifetime) }).ConfigureAwait(false);
    }

    private static async Task ResetPolicy(HttpContext context, string type, PolicyCache policies, IServiceStore store, TokenWriter tokens, TimeProvider clock, ServiceOptions options)
    {
        // ASP.NET routes "/policies/SgxEnclave:reset" here with type = "SgxEnclave:reset".
        const string Suffix = ":reset";
        if (!type.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase))
        {
            throw new MaaException(HttpStatusCode.NotFound, MaaErrorCodes.NotFound, $"no operation at POST {context.Request.Path}");
        }

        RequireApiVersion(context);
        var canonical = RequireType(type[..^Suffix.Length]);
        var jws = ParsePolicyJws(Encoding.UTF8.GetString(await ReadBody(context).ConfigureAwait(false)));
        await AuthorizeChange(context, options, store, jws.VerifySignature(), jws.SignerCertificate).ConfigureAwait(false);
        if (jws.PolicyText is not null)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "a reset token must have an empty payload");
        }

        await policies.RemoveAsync(canonical, context.RequestAborted).ConfigureAwait(false);
        var claims = new JsonObject { ["x-ms-policy-result"] = "Removed" };
        await WriteJson(context, new JsonObject { ["token"] = tokens.Issue(claims, clock.GetUtcNow(), TokenWriter.ResultLifetime) }).ConfigureAwait(false);
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
        await WriteJson(context, new JsonObject { ["token"] = tokens.Issue(claims, clock.GetUtcNow(), TokenWriter.ResultLifetime) }).ConfigureAwait(false);
    }

    private static async Task ModifyCertificates(HttpContext context, IServiceStore store, TokenWriter tokens, TimeProvider clock, ServiceOptions options)
    {
        RequireApiVersion(context);
        if (options.TrustModel != TrustModel.Isolated)
        {
            await Authorize(context).ConfigureAwait(false);
            throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, "The operation is disallowed: policy management certificates exist only on isolated instances");
        }

        var add = context.Request.Path.Value!.EndsWith(":add", StringComparison.OrdinalIgnoreCase);
        PolicyCertificateJws request;
        try
        {
            request = PolicyCertificateJws.Parse(Encoding.UTF8.GetString(await ReadBody(context).ConfigureAwait(false)));
        }
        catch (TokenFormatException e)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, e.Message);
        }

        await AuthorizeChange(context, options, store, request.VerifySignature(), request.SignerCertificate).ConfigureAwait(false);
        var thumbprint = request.Thumbprint;
        if (add)
        {
            await store.AddSignerAsync(thumbprint, request.Certificate.RawData, context.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            try
            {
                await store.RemoveSignerAsync(thumbprint, context.RequestAborted).ConfigureAwait(false);
            }
            catch (InvalidOperationException e)
            {
                throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, e.Message);
            }
        }

        var claims = new JsonObject
        {
            ["x-ms-certificate-thumbprint"] = thumbprint,
            ["x-ms-policycertificates-result"] = add ? "IsPresent" : "IsAbsent",
        };
        await WriteJson(context, new JsonObject { ["token"] = tokens.Issue(claims, clock.GetUtcNow(), TokenWriter.ResultLifetime) }).ConfigureAwait(false);
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
    /// Who may change policies and signers: an authenticated administrator (bearer token) in both models; a signature,
    /// when present, must verify; isolated, the change must also be signed by a registered policy-management certificate.
    /// </summary>
    private static async Task AuthorizeChange(HttpContext context, ServiceOptions options, IServiceStore store, JwsSignatureStatus signature, X509Certificate2? signer)
    {
        await Authorize(context).ConfigureAwait(false);
        if (signature == JwsSignatureStatus.Invalid)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidOperation, "the token signature does not verify with the certificate in its header");
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
    private static Task Authorize(HttpContext context) =>
        context.RequestServices.GetRequiredService<AdminAuthorizer>().AuthorizeAsync(context);
}

/// <summary>The effective policy of a type: stored or default, compiled once per text.</summary>
public sealed record EffectivePolicy(string Text, string Jws, CompiledPolicy Compiled, JsonObject? SignerJwk);

/// <summary>Reads policies from the store and keeps their compiled form keyed by text.</summary>
public sealed class PolicyCache(IServiceStore store)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, CompiledPolicy> _compiled = new(StringComparer.Ordinal);

    /// <summary>The effective policy for <paramref name="type"/>.</summary>
    public async Task<EffectivePolicy> GetAsync(string type, CancellationToken cancellationToken)
    {
        var stored = await store.GetPolicyAsync(type, cancellationToken).ConfigureAwait(false);
        var text = stored?.PolicyText ?? DefaultPolicies.Sgx;
        var compiled = _compiled.GetOrAdd(text, PolicyCompiler.Compile);
        if (_compiled.Count > 1000)
        {
            _compiled.Clear();
        }

        return new EffectivePolicy(text, stored?.Jws ?? Veritee.Tokens.PolicyJws.CreateUnsigned(text), compiled,
            stored?.SignerJwk is { } jwk ? JsonNode.Parse(jwk) as JsonObject : null);
    }

    /// <summary>Stores a policy.</summary>
    public Task SetAsync(StoredPolicy policy, CancellationToken cancellationToken) => store.SetPolicyAsync(policy, cancellationToken);

    /// <summary>Removes a stored policy.</summary>
    public Task RemoveAsync(string type, CancellationToken cancellationToken) => store.RemovePolicyAsync(type, cancellationToken);
}
