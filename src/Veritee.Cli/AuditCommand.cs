using System.CommandLine;
using System.Globalization;
using Veritee.Client;

namespace Veritee.Cli;

/// <summary><c>veritee audit list</c>: the audit trail of management operations of a Veritee instance (<c>GET /audit</c>).</summary>
internal static class AuditCommand
{
    public static Command Create(CliIo io)
    {
        var command = new Command("audit", "The audit trail of a Veritee instance's management operations (policy set/reset, signer add/remove, refused attempts).");
        command.Subcommands.Add(CreateList(io));
        return command;
    }

    private static Command CreateList(CliIo io)
    {
        var endpoint = new EndpointOptions(admin: true);
        var since = new Option<string?>("--since") { Description = "Only records at or after TIME: unix seconds or ISO-8601 / RFC 3339 (e.g. 2026-01-31T12:00:00Z)." };
        var limit = new Option<int?>("--limit") { Description = "At most N records, 1–1000 (default: the service's, 100)." };
        var after = new Option<long?>("--after") { Description = "Continue after record ID (printed when more records follow)." };
        var json = new Option<bool>("--json") { Description = "Print the service's JSON answer instead of the table." };
        var command = new Command(
            "list",
            "List audit records, oldest first (GET /audit, a Veritee extension; administrators only, as policy management). " +
            "Never shows policy text or tokens: callers are fingerprints, policies their x-ms-policy-hash. Exit 0 listed, 2 input, usage, authentication or connection error.");
        endpoint.AddTo(command);
        command.Options.Add(since);
        command.Options.Add(limit);
        command.Options.Add(after);
        command.Options.Add(json);
        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            var from = parse.GetValue(since) is { } text ? ParseSince(text) : (DateTimeOffset?)null;
            var count = parse.GetValue(limit);
            if (count is < 1 or > 1000)
            {
                throw new CliException($"--limit: {count} is not from 1 to 1000");
            }

            var continuation = parse.GetValue(after);
            if (continuation is < 0)
            {
                throw new CliException($"--after: {continuation} is not a record id");
            }

            using var admin = endpoint.CreateAdmin(parse);
            var page = await admin.GetAuditRecordsAsync(from, count, continuation, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(page.Json);
            }
            else
            {
                WriteTable(io.Out, page.Records);
            }

            if (page.NextAfter is { } next)
            {
                io.Error.WriteLine($"more records follow: continue with --after {next.ToString(CultureInfo.InvariantCulture)}");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static DateTimeOffset ParseSince(string text)
    {
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var unix))
        {
            return unix is >= 0 and <= 253402300799
                ? DateTimeOffset.FromUnixTimeSeconds(unix)
                : throw new CliException($"--since: {text} is out of range for unix seconds");
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : throw new CliException($"--since: '{text}' is neither unix seconds nor an ISO-8601 time");
    }

    private static void WriteTable(TextWriter output, IReadOnlyList<AuditTrailRecord> records)
    {
        if (records.Count == 0)
        {
            output.WriteLine("no audit records");
            return;
        }

        var rows = new List<string[]> { new[] { "ID", "TIME (UTC)", "OPERATION", "TYPE", "OUTCOME", "CALLER", "DETAIL", "REQUEST-ID" } };
        foreach (var r in records)
        {
            var detail = r.Operation.StartsWith("policy.", StringComparison.Ordinal)
                ? $"{Short(r.OldPolicyHash)} -> {Short(r.NewPolicyHash)}"
                : "cert " + (r.CertificateThumbprint ?? "-");
            if (r.Signer is { } signer)
            {
                detail += " signed-by " + Short(signer);
            }

            rows.Add([
                r.Id.ToString(CultureInfo.InvariantCulture),
                r.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                r.Operation,
                r.AttestationType ?? "-",
                r.ErrorCode is null ? r.Outcome : $"{r.Outcome} {r.ErrorCode}",
                r.Caller ?? "-",
                detail,
                r.RequestId ?? "-",
            ]);
        }

        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        foreach (var row in rows)
        {
            output.WriteLine(string.Join("  ", row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c]))).TrimEnd());
        }
    }

    /// <summary>The first 12 characters of a hash: enough to tell policies apart in a table (--json has them whole).</summary>
    private static string Short(string? hash) => hash is null ? "-" : hash.Length <= 12 ? hash : hash[..12];
}
