using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Veritee.Policy;
using Veritee.Service.Store;

namespace Veritee.Service;

/// <summary>The effective policy of a type: stored or default, compiled once per text.</summary>
public sealed record EffectivePolicy(string Text, string Jws, CompiledPolicy Compiled, JsonObject? SignerJwk);

/// <summary>
/// Reads policies from the store and keeps them, with their compiled form, until the store's policy version
/// (<see cref="IServiceStore.GetPolicyVersionAsync"/>) moves: a change through any node governs that node's next
/// attestation. A store without a version is read on every request. At most one entry per attestation type, and at
/// most 1,000 compiled texts.
/// </summary>
public sealed class PolicyCache(IServiceStore store)
{
    private const int MaxCompiledTexts = 1000;
    private readonly ConcurrentDictionary<string, CompiledPolicy> _compiled = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry> _current = new(StringComparer.Ordinal);

    /// <summary>The effective policy for <paramref name="type"/>.</summary>
    public async Task<EffectivePolicy> GetAsync(string type, CancellationToken cancellationToken)
    {
        // The version is read before the policy: a change committed between the two reads leaves an entry newer than
        // its version says, which the next request reads again; never an entry older than its version.
        var version = await store.GetPolicyVersionAsync(cancellationToken).ConfigureAwait(false);
        if (version is { } seen && _current.TryGetValue(type, out var hit) && hit.Version == seen)
        {
            return hit.Effective();
        }

        var stored = await store.GetPolicyAsync(type, cancellationToken).ConfigureAwait(false);
        var text = stored?.PolicyText ?? DefaultPolicies.For(type);
        var compiled = _compiled.GetOrAdd(text, PolicyCompiler.Compile);
        if (_compiled.Count > MaxCompiledTexts)
        {
            _compiled.Clear();
        }

        var entry = new Entry(version ?? 0, text, stored?.Jws ?? Veritee.Tokens.PolicyJws.CreateUnsigned(text), compiled, stored?.SignerJwk);
        if (version is not null && type is "SgxEnclave" or "OpenEnclave" or DefaultPolicies.TdxVmType)
        {
            _current[type] = entry;
        }

        return entry.Effective();
    }

    /// <summary>Stores a policy with its audit record (one transaction).</summary>
    public Task SetAsync(StoredPolicy policy, AuditRecord? audit, CancellationToken cancellationToken) => store.SetPolicyAsync(policy, audit, cancellationToken);

    /// <summary>Removes a stored policy, with its audit record (one transaction).</summary>
    public Task RemoveAsync(string type, AuditRecord? audit, CancellationToken cancellationToken) => store.RemovePolicyAsync(type, audit, cancellationToken);

    /// <summary>A policy as read at <paramref name="Version"/>; the signer JWK stays text so each request gets its own object.</summary>
    private sealed record Entry(long Version, string Text, string Jws, CompiledPolicy Compiled, string? SignerJwk)
    {
        public EffectivePolicy Effective() => new(Text, Jws, Compiled, SignerJwk is { } jwk ? JsonNode.Parse(jwk) as JsonObject : null);
    }
}
