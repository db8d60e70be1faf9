namespace Veritee.Service.Store;

/// <summary>A policy as stored: the JWS exactly as uploaded and the policy text it carries.</summary>
/// <param name="AttestationType">Canonical attestation type (<c>SgxEnclave</c>, <c>OpenEnclave</c>).</param>
/// <param name="Jws">The compact JWS as received (returned verbatim by GET).</param>
/// <param name="PolicyText">The policy text inside it.</param>
/// <param name="SignerJwk">The signer's JWK JSON when the JWS was signed, else null.</param>
public sealed record StoredPolicy(string AttestationType, string Jws, string PolicyText, string? SignerJwk);

/// <summary>
/// Everything a node keeps: policies and the instance signing key. Writes are single statements or transactions, so a
/// reader sees either the old or the new value, whole.
/// </summary>
public interface IServiceStore
{
    /// <summary>A trivial query (<c>SELECT 1</c>) for the readiness check; throws when the store does not answer.</summary>
    Task PingAsync(CancellationToken cancellationToken);

    /// <summary>Creates or migrates the schema.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>The stored policy of a type, or null when the default applies.</summary>
    Task<StoredPolicy?> GetPolicyAsync(string attestationType, CancellationToken cancellationToken);

    /// <summary>
    /// A number that changes whenever any policy in the store changes, through any node, once that change has
    /// committed. Read before every attestation so that a node reads a policy again only after it changed; null (the
    /// default) when the store keeps none, and then every attestation reads its policy.
    /// </summary>
    ValueTask<long?> GetPolicyVersionAsync(CancellationToken cancellationToken) => ValueTask.FromResult<long?>(null);

    /// <summary>Stores (replaces) a policy; <see cref="StoredTextException"/> when a text has a NUL character (every store alike).</summary>
    Task SetPolicyAsync(StoredPolicy policy, CancellationToken cancellationToken) => SetPolicyAsync(policy, null, cancellationToken);

    /// <summary>
    /// Stores (replaces) a policy and, when given, its audit record (completed with the hash of the policy replaced) in
    /// one transaction: no change without its record.
    /// </summary>
    Task SetPolicyAsync(StoredPolicy policy, AuditRecord? audit, CancellationToken cancellationToken);

    /// <summary>Removes a stored policy; false when there was none.</summary>
    Task<bool> RemovePolicyAsync(string attestationType, CancellationToken cancellationToken) => RemovePolicyAsync(attestationType, null, cancellationToken);

    /// <summary>Removes a stored policy and appends its audit record (with the removed policy's hash) in one transaction; false when there was none.</summary>
    Task<bool> RemovePolicyAsync(string attestationType, AuditRecord? audit, CancellationToken cancellationToken);

    /// <summary>The instance signing key (PKCS#8, certificate DER), or null before the first start.</summary>
    Task<(byte[] Pkcs8, byte[] Certificate)?> GetInstanceKeyAsync(CancellationToken cancellationToken);

    /// <summary>Stores the instance key unless one exists (first writer wins, so nodes agree on one key).</summary>
    Task InsertInstanceKeyIfAbsentAsync(byte[] pkcs8, byte[] certificate, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the stored private key bytes when they still equal <paramref name="expected"/> (sealing a key an older
    /// Veritee stored in clear; the certificate stays); false when another node changed them first.
    /// </summary>
    Task<bool> ReplaceInstanceKeyAsync(byte[] expected, byte[] replacement, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the instance signing key when its stored private key bytes still equal
    /// <see cref="InstanceKeyRoll.ExpectedPkcs8"/>, and in the same transaction replaces the list of keys rolled out of
    /// service with <see cref="InstanceKeyRoll.Retired"/>. False, and nothing written, when another roll or a rekey
    /// changed the key first.
    /// </summary>
    Task<bool> RollInstanceKeyAsync(InstanceKeyRoll roll, CancellationToken cancellationToken);

    /// <summary>The keys rolled out of service, as the last roll wrote them (their signatures are checked by the reader).</summary>
    Task<IReadOnlyList<RetiredInstanceKey>> GetRetiredInstanceKeysAsync(CancellationToken cancellationToken);

    /// <summary>The policy-management (signer) certificates, DER, in the order they were added.</summary>
    Task<IReadOnlyList<byte[]>> GetSignersAsync(CancellationToken cancellationToken);

    /// <summary>Adds a signer certificate (no-op when present).</summary>
    Task AddSignerAsync(string thumbprint, byte[] certificate, CancellationToken cancellationToken) => AddSignerAsync(thumbprint, certificate, null, cancellationToken);

    /// <summary>Adds a signer certificate (no-op when present) and appends its audit record in one transaction.</summary>
    Task AddSignerAsync(string thumbprint, byte[] certificate, AuditRecord? audit, CancellationToken cancellationToken);

    /// <summary>
    /// Removes a signer certificate in one transaction that refuses to remove the last one.
    /// Returns false when it was absent; throws <see cref="InvalidOperationException"/> for the last signer.
    /// </summary>
    Task<bool> RemoveSignerAsync(string thumbprint, CancellationToken cancellationToken) => RemoveSignerAsync(thumbprint, null, cancellationToken);

    /// <summary>
    /// Removes a signer certificate and appends its audit record in one transaction that refuses to remove the last one
    /// (then nothing is written). Returns false when it was absent (the record is still written).
    /// </summary>
    Task<bool> RemoveSignerAsync(string thumbprint, AuditRecord? audit, CancellationToken cancellationToken);

    /// <summary>
    /// Appends an audit record on its own (a refused attempt). A refused record beyond the newest
    /// <paramref name="maxRefused"/> refused ones deletes the oldest refused records, counted in
    /// <see cref="AuditPage.RefusedPruned"/>; succeeded records are never deleted.
    /// </summary>
    Task AppendAuditAsync(AuditRecord record, int maxRefused, CancellationToken cancellationToken);

    /// <summary>Audit records matching <paramref name="query"/>, in id order.</summary>
    Task<AuditPage> GetAuditAsync(AuditQuery query, CancellationToken cancellationToken);

    /// <summary>A cached collateral bundle (the 7 parts in <see cref="Veritee.Dcap.Collateral.QuoteCollateral"/> order) and when it was fetched.</summary>
    Task<(byte[][] Parts, DateTimeOffset FetchedAt)?> GetCollateralAsync(string key, CancellationToken cancellationToken);

    /// <summary>Stores (replaces) a cached collateral bundle.</summary>
    Task PutCollateralAsync(string key, byte[][] parts, DateTimeOffset fetchedAt, CancellationToken cancellationToken);
}

/// <summary>
/// A signing key rolled out of service: its certificate stays in <c>/certs</c> until <paramref name="PublishedUntil"/>,
/// so tokens it signed still validate. The entry is signed by the instance key in force, so that a write to the store
/// without that key cannot put a key of its own into <c>/certs</c>.
/// </summary>
/// <param name="Kid">The key's <c>kid</c>.</param>
/// <param name="Certificate">Its self-signed certificate, DER (the private key is not kept).</param>
/// <param name="PublishedUntil">When it leaves <c>/certs</c> (whole seconds).</param>
/// <param name="Signature">RS256 by the instance key in force over the other three (<c>InstanceKeyRing.SignRetired</c>).</param>
public sealed record RetiredInstanceKey(string Kid, byte[] Certificate, DateTimeOffset PublishedUntil, byte[] Signature);

/// <summary>One roll of the instance signing key, written by <see cref="IServiceStore.RollInstanceKeyAsync"/>.</summary>
/// <param name="ExpectedPkcs8">The stored (sealed) private key bytes the roll replaces: the compare-and-set value.</param>
/// <param name="Pkcs8">The new key, sealed.</param>
/// <param name="Certificate">The new key's certificate, DER.</param>
/// <param name="Retired">Every key still published after the roll, signed by the new key; it replaces the stored list.</param>
public sealed record InstanceKeyRoll(byte[] ExpectedPkcs8, byte[] Pkcs8, byte[] Certificate, IReadOnlyList<RetiredInstanceKey> Retired);
