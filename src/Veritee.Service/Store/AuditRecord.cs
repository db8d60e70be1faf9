namespace Veritee.Service.Store;

/// <summary>
/// One management operation (policy set/reset, signer add/remove), succeeded or refused. Holds identifiers and
/// hashes only: never a policy text, a JWS, a bearer token or another secret.
/// </summary>
public sealed record AuditRecord
{
    /// <summary>Position in the store's log (assigned by the store; increasing in insertion order).</summary>
    public long Id { get; init; }

    /// <summary>When the node handled it (UTC, the service's clock; stored with microsecond precision).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary><c>policy.set</c>, <c>policy.reset</c>, <c>signer.add</c> or <c>signer.remove</c>.</summary>
    public required string Operation { get; init; }

    /// <summary>Canonical attestation type of a policy operation (null for signers, or when the path named no supported type).</summary>
    public string? AttestationType { get; init; }

    /// <summary>
    /// The authenticated caller: <c>admin-token:</c> and the first 16 hex digits of SHA-256 of the token,
    /// <c>oidc:</c> subject (<c>oid</c>, else <c>sub</c>) <c>@</c> issuer; <c>anonymous</c> (no bearer) or
    /// <c>invalid-bearer</c> for a refused authentication; null when refused before authentication.
    /// </summary>
    public string? Caller { get; init; }

    /// <summary>SHA-256 thumbprint (hex) of the certificate whose valid signature the request's JWS carried, if any.</summary>
    public string? Signer { get; init; }

    /// <summary>The instance's trust model (<c>Aad</c> or <c>Isolated</c>).</summary>
    public required string TrustModel { get; init; }

    /// <summary>
    /// <c>x-ms-policy-hash</c> of the policy in force before a policy operation (the default when none was stored); set by
    /// the store as it writes the change, from the policy the change replaced in the same transaction.
    /// </summary>
    public string? OldPolicyHash { get; set; }

    /// <summary><c>x-ms-policy-hash</c> of the policy a set or reset puts in force (or would have, when refused after parsing).</summary>
    public string? NewPolicyHash { get; init; }

    /// <summary>SHA-1 thumbprint (hex, as MAA's <c>x-ms-certificate-thumbprint</c>) of the certificate a signer operation adds or removes.</summary>
    public string? CertificateThumbprint { get; init; }

    /// <summary><c>succeeded</c> or <c>refused</c>.</summary>
    public required string Outcome { get; init; }

    /// <summary>The MAA error code of a refused operation.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>The request id the service answered with (<c>x-ms-request-id</c>).</summary>
    public string? RequestId { get; init; }

    /// <summary>The client as request logs show it (<c>--log-client-address</c>: address, keyed hash, or null when off).</summary>
    public string? Client { get; init; }

    /// <summary>Outcome of a change that was made.</summary>
    public const string Succeeded = "succeeded";

    /// <summary>Outcome of an attempt that changed nothing.</summary>
    public const string Refused = "refused";

    /// <summary>Sets <see cref="OldPolicyHash"/> from <paramref name="previousText"/> (the default policy when null) and returns the record.</summary>
    internal AuditRecord WithPreviousPolicy(string? previousText)
    {
        if (AttestationType is { } type)
        {
            OldPolicyHash = Veritee.Tokens.PolicyJws.PolicyHash(previousText ?? DefaultPolicies.For(type));
        }

        return this;
    }
}

/// <summary>Which audit records to read.</summary>
/// <param name="Since">Only records at or after this time, when given.</param>
/// <param name="After">Only records with a larger <see cref="AuditRecord.Id"/> (the continuation).</param>
/// <param name="Limit">At most this many records (1–1000).</param>
public sealed record AuditQuery(DateTimeOffset? Since, long After, int Limit);

/// <summary>A page of audit records in id order.</summary>
/// <param name="Records">The records.</param>
/// <param name="More">True when more records match after the last one.</param>
/// <param name="RefusedPruned">How many refused records retention has deleted so far (over the store's life).</param>
public sealed record AuditPage(IReadOnlyList<AuditRecord> Records, bool More, long RefusedPruned);
