using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Veritee.Service.Store;

namespace Veritee.Service;

/// <summary>The audit trail of management operations: recording (with the change, or alone when refused) and <c>GET /audit</c>.</summary>
public static partial class VeriteeServer
{
    /// <summary>Largest page <c>GET /audit</c> answers.</summary>
    public const int MaxAuditPage = 1000;

    /// <summary>Page size of <c>GET /audit</c> without <c>limit</c>.</summary>
    public const int DefaultAuditPage = 100;

    /// <summary>Key in <c>HttpContext.Items</c> of the SHA-256 thumbprint of the certificate whose valid signature a request carried.</summary>
    private const string SignerItem = "veritee.audit.signer";

    /// <summary>How long the record of a refused attempt may take to write (it must not hold up the answer for long).</summary>
    private static readonly TimeSpan RefusedWriteTimeout = TimeSpan.FromSeconds(5);

    /// <summary>What a management handler learns about its operation as it goes, made into the record at the end.</summary>
    private sealed class AuditDraft(HttpContext context, string operation)
    {
        public HttpContext Context { get; } = context;

        public string Operation { get; } = operation;

        public string? AttestationType { get; set; }

        public string? NewPolicyHash { get; set; }

        public string? CertificateThumbprint { get; set; }

        /// <summary>True once the change committed with its record: a later failure (writing the answer) is no refusal.</summary>
        public bool Done { get; private set; }

        public AuditRecord Build(string outcome, string? errorCode)
        {
            var services = Context.RequestServices;
            var options = services.GetRequiredService<ServiceOptions>();
            var client = LoggedClient(Context, options.LogClientAddress);
            return new AuditRecord
            {
                Time = services.GetRequiredService<TimeProvider>().GetUtcNow(),
                Operation = Operation,
                AttestationType = AttestationType,
                Caller = Context.Items.TryGetValue(AdminAuthorizer.CallerItem, out var caller) ? caller as string : null,
                Signer = Context.Items.TryGetValue(SignerItem, out var signer) ? signer as string : null,
                TrustModel = options.TrustModel.ToString(),
                NewPolicyHash = NewPolicyHash,
                CertificateThumbprint = CertificateThumbprint,
                Outcome = outcome,
                ErrorCode = errorCode,
                RequestId = Context.TraceIdentifier,
                Client = client == "-" ? null : client,
            };
        }

        /// <summary>The record of the change about to be made (written by the store in the change's transaction).</summary>
        public AuditRecord Succeeded() => Build(AuditRecord.Succeeded, null);

        /// <summary>After the change committed: the log event and metric.</summary>
        public void Committed(AuditRecord record)
        {
            Done = true;
            var services = Context.RequestServices;
            services.GetRequiredService<ServiceTelemetry>().Audited(AuditRecord.Succeeded, stored: true);
            LogAudit(AuditLogger(services), record);
        }

        /// <summary>
        /// Records a refused attempt: its own write (bounded by retention), the log event and metric. A failure to write
        /// is logged, never turns the answer into another one; a request the client abandoned changed nothing and is not recorded.
        /// </summary>
        public async Task RefusedAsync(Exception failure)
        {
            if (failure is OperationCanceledException && Context.RequestAborted.IsCancellationRequested)
            {
                return;
            }

            var services = Context.RequestServices;
            var record = Build(AuditRecord.Refused, ErrorCodeOf(failure));
            var logger = AuditLogger(services);
            LogAudit(logger, record);
            var stored = true;

            // A store that just failed the operation itself cannot take its record either: the log event stands for it.
            if (failure is Microsoft.Data.Sqlite.SqliteException or Npgsql.NpgsqlException or TimeoutException)
            {
                services.GetRequiredService<ServiceTelemetry>().Audited(AuditRecord.Refused, stored: false);
                return;
            }

            try
            {
                using var timeout = new CancellationTokenSource(RefusedWriteTimeout);
                await services.GetRequiredService<IServiceStore>()
                    .AppendAuditAsync(record, services.GetRequiredService<ServiceOptions>().MaxRefusedAuditRecords, timeout.Token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Whatever the store throws, the caller's 4xx stays the answer; the failure is logged.
            catch (Exception e)
#pragma warning restore CA1031
            {
                stored = false;
                LogAuditWriteFailure(logger, record.Operation, record.RequestId, e);
            }

            services.GetRequiredService<ServiceTelemetry>().Audited(AuditRecord.Refused, stored);
        }
    }

    private static ILogger AuditLogger(IServiceProvider services) => services.GetRequiredService<ILoggerFactory>().CreateLogger("Veritee.Service.Audit");

    /// <summary>The MAA error code the client is answered with for <paramref name="failure"/> (as <see cref="ErrorEnvelope"/> maps it).</summary>
    private static string ErrorCodeOf(Exception failure) => failure switch
    {
        MaaException e => e.Code,
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => MaaErrorCodes.RequestTooLarge,
        BadHttpRequestException or StoredTextException => MaaErrorCodes.InvalidParameter,
        Npgsql.PostgresException e when e.SqlState.StartsWith("22", StringComparison.Ordinal) => MaaErrorCodes.InvalidParameter,
        Microsoft.Data.Sqlite.SqliteException or Npgsql.NpgsqlException or TimeoutException => MaaErrorCodes.ServiceUnavailable,
        OperationCanceledException => MaaErrorCodes.RequestTimeout,
        _ => MaaErrorCodes.InternalError,
    };

    /// <summary>Remembers the certificate whose signature verified (SHA-256 of its DER, hex) for the audit record.</summary>
    private static void RememberSigner(HttpContext context, byte[] certificate) =>
        context.Items[SignerItem] = Convert.ToHexStringLower(SHA256.HashData(certificate));

    /// <summary>
    /// <c>GET /audit</c> (a Veritee extension): administrators only, as policy management. Query: <c>since</c> (RFC 3339),
    /// <c>limit</c> (1–1000, default 100), <c>after</c> (the id to continue after); answer <c>{"value": […], "nextLink": …}</c>.
    /// </summary>
    private static async Task GetAudit(HttpContext context, IServiceStore store, TokenWriter tokens)
    {
        RequireApiVersion(context);
        await Authorize(context).ConfigureAwait(false);
        var query = context.Request.Query;
        DateTimeOffset? since = null;
        if (query.TryGetValue("since", out var sinceText))
        {
            since = ParseRfc3339(sinceText.ToString()) ??
                throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"since: '{Clip(sinceText.ToString())}' is not an RFC 3339 date-time (e.g. 2026-01-31T12:00:00Z)");
        }

        var limit = DefaultAuditPage;
        if (query.TryGetValue("limit", out var limitText) &&
            (!int.TryParse(limitText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxAuditPage))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"limit: '{Clip(limitText.ToString())}' is not a whole number from 1 to {MaxAuditPage}");
        }

        long after = 0;
        if (query.TryGetValue("after", out var afterText) &&
            !long.TryParse(afterText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out after))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"after: '{Clip(afterText.ToString())}' is not a record id (a whole number, from a nextLink)");
        }

        var page = await store.GetAuditAsync(new AuditQuery(since, after, limit), context.RequestAborted).ConfigureAwait(false);
        var value = new JsonArray();
        foreach (var record in page.Records)
        {
            value.Add(AuditJson(record));
        }

        var body = new JsonObject { ["value"] = value, ["refusedPruned"] = page.RefusedPruned };
        if (page.More)
        {
            var next = $"{tokens.Issuer}/audit?api-version={Uri.EscapeDataString(query["api-version"].ToString())}&limit={limit}&after={page.Records[^1].Id}";
            if (since is { } s)
            {
                next += "&since=" + Uri.EscapeDataString(s.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            }

            body["nextLink"] = next;
        }

        await WriteJson(context, body).ConfigureAwait(false);
    }

    /// <summary>An audit record as <c>GET /audit</c> shows it: every field, null when not applicable.</summary>
    internal static JsonObject AuditJson(AuditRecord record) => new()
    {
        ["id"] = record.Id,
        ["time"] = record.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
        ["operation"] = record.Operation,
        ["attestationType"] = record.AttestationType,
        ["outcome"] = record.Outcome,
        ["errorCode"] = record.ErrorCode,
        ["caller"] = record.Caller,
        ["signer"] = record.Signer,
        ["trustModel"] = record.TrustModel,
        ["oldPolicyHash"] = record.OldPolicyHash,
        ["newPolicyHash"] = record.NewPolicyHash,
        ["certificateThumbprint"] = record.CertificateThumbprint,
        ["requestId"] = record.RequestId,
        ["client"] = record.Client,
    };

    /// <summary>
    /// An RFC 3339 date-time (<c>T</c> or space, <c>Z</c> or a numeric offset, optional fraction), or null. A <c>+</c>
    /// offset typed unescaped in a URL arrives as a space and is read as <c>+</c>.
    /// </summary>
    internal static DateTimeOffset? ParseRfc3339(string text)
    {
        if (text.Length is < 20 or > 40)
        {
            return null;
        }

        if (text[^6] == ' ')
        {
            text = string.Concat(text.AsSpan(0, text.Length - 6), "+", text.AsSpan(text.Length - 5));
        }

        if (text[10] is not ('T' or 't' or ' ') || !(text[^1] is 'Z' or 'z' || (text[^6] is '+' or '-' && text[^3] == ':')) ||
            text[4] != '-' || text[7] != '-' || text.AsSpan(0, 10).IndexOfAnyExceptInRange('-', '9') >= 0)
        {
            return null;
        }

        var normalized = string.Concat(text.AsSpan(0, 10), "T", text.AsSpan(11));
        return DateTimeOffset.TryParse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var value) ? value : null;
    }

    /// <summary>A query value as an error message quotes it: at most 60 characters, control characters replaced.</summary>
    private static string Clip(string value)
    {
        var clipped = value.Length <= 60 ? value : value[..60] + "…";
        return string.Concat(clipped.Select(c => char.IsControl(c) ? '?' : c));
    }

    [LoggerMessage(EventId = 300, EventName = "ManagementOperation", Level = LogLevel.Information,
        Message = "audit {Operation} {AttestationType} {Outcome} error={ErrorCode} caller={Caller} signer={Signer} trust-model={TrustModel} old-policy-hash={OldPolicyHash} new-policy-hash={NewPolicyHash} certificate={CertificateThumbprint} request-id={RequestId} client={Client}")]
    private static partial void LogAudit(ILogger logger, string operation, string? attestationType, string outcome, string? errorCode, string? caller, string? signer,
        string trustModel, string? oldPolicyHash, string? newPolicyHash, string? certificateThumbprint, string? requestId, string? client);

    private static void LogAudit(ILogger logger, AuditRecord r) =>
        LogAudit(logger, r.Operation, r.AttestationType, r.Outcome, r.ErrorCode, r.Caller, r.Signer, r.TrustModel, r.OldPolicyHash, r.NewPolicyHash,
            r.CertificateThumbprint, r.RequestId, r.Client);

    [LoggerMessage(EventId = 301, EventName = "AuditWriteFailed", Level = LogLevel.Error,
        Message = "the audit record of a refused {Operation} (request-id={RequestId}) could not be written")]
    private static partial void LogAuditWriteFailure(ILogger logger, string operation, string? requestId, Exception exception);
}
