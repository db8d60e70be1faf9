using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Veritee.Client;

/// <summary>One management operation in a Veritee instance's audit trail (<c>GET /audit</c>).</summary>
/// <param name="Id">Position in the trail (the continuation).</param>
/// <param name="Time">When the node handled it (UTC).</param>
/// <param name="Operation"><c>policy.set</c>, <c>policy.reset</c>, <c>signer.add</c> or <c>signer.remove</c>.</param>
/// <param name="AttestationType">The attestation type of a policy operation.</param>
/// <param name="Outcome"><c>succeeded</c> or <c>refused</c>.</param>
/// <param name="ErrorCode">The MAA error code of a refused attempt.</param>
/// <param name="Caller">Who: an admin-token fingerprint, <c>oidc:subject@issuer</c>, <c>anonymous</c> or <c>invalid-bearer</c>.</param>
/// <param name="Signer">SHA-256 thumbprint of the certificate that signed the request, if any.</param>
/// <param name="TrustModel">The instance's trust model.</param>
/// <param name="OldPolicyHash"><c>x-ms-policy-hash</c> of the policy replaced.</param>
/// <param name="NewPolicyHash"><c>x-ms-policy-hash</c> of the policy put in force.</param>
/// <param name="CertificateThumbprint">The certificate a signer operation names (SHA-1, as <c>x-ms-certificate-thumbprint</c>).</param>
/// <param name="RequestId">The request id the caller was answered with.</param>
/// <param name="Client">The client as the service logs it (address, keyed hash, or null).</param>
public sealed record AuditTrailRecord(
    long Id, DateTimeOffset Time, string Operation, string? AttestationType, string Outcome, string? ErrorCode, string? Caller, string? Signer,
    string? TrustModel, string? OldPolicyHash, string? NewPolicyHash, string? CertificateThumbprint, string? RequestId, string? Client);

/// <summary>A page of the audit trail.</summary>
/// <param name="Records">The records, oldest first.</param>
/// <param name="NextAfter">When more records follow: the id to continue after; else null.</param>
/// <param name="RefusedPruned">Refused records the service's retention has deleted so far.</param>
/// <param name="Json">The answer as received.</param>
public sealed record AuditTrailPage(IReadOnlyList<AuditTrailRecord> Records, long? NextAfter, long RefusedPruned, string Json)
{
    /// <summary>Reads the service's <c>{"value": […], "nextLink": …}</c> answer.</summary>
    internal static AuditTrailPage Parse(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var records = new List<AuditTrailRecord>();
            foreach (var r in root.GetProperty("value").EnumerateArray())
            {
                records.Add(new AuditTrailRecord(
                    r.GetProperty("id").GetInt64(),
                    DateTimeOffset.Parse(r.GetProperty("time").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal),
                    r.GetProperty("operation").GetString()!,
                    Text(r, "attestationType"),
                    r.GetProperty("outcome").GetString()!,
                    Text(r, "errorCode"),
                    Text(r, "caller"),
                    Text(r, "signer"),
                    Text(r, "trustModel"),
                    Text(r, "oldPolicyHash"),
                    Text(r, "newPolicyHash"),
                    Text(r, "certificateThumbprint"),
                    Text(r, "requestId"),
                    Text(r, "client")));
            }

            // Only the continuation id is taken from nextLink: the next request goes to the pinned endpoint, never to a named host.
            long? next = null;
            if (root.TryGetProperty("nextLink", out var link) && link.ValueKind == JsonValueKind.String)
            {
                next = records.Count > 0 ? records[^1].Id : throw new FormatException("a nextLink without records");
            }

            var pruned = root.TryGetProperty("refusedPruned", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt64() : 0;
            return new AuditTrailPage(records, next, pruned, body);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new AttestationException(HttpStatusCode.OK, null, null, "GET /audit: the answer is not an audit page: " + e.Message, e);
        }
    }

    private static string? Text(JsonElement record, string name) =>
        record.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
