using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.X509;

namespace Veritee.Dcap.Verification;

/// <summary>
/// Memoises the pure steps of verification: parsing (bytes to certificate, CRL, TCB Info, QE Identity, key) and
/// signature checks (key, message, signature to bool), each keyed by a SHA-256 of its full input. The verifier runs
/// every step in the same order with or without the cache, so a cache can make verification cheaper but never
/// change a verdict. The quote's own signature is not memoised: each quote is new evidence.
/// A collateral bundle whose quote-independent checks passed is also remembered whole (by a private copy of its
/// bytes and the trust anchor), so a repeat bundle is recognised by comparing bytes instead of hashing and
/// re-walking every part; each quote's PCK chain is remembered under it by its exact bytes.
/// Thread-safe. Bounded: when an area exceeds its capacity it is emptied.
/// </summary>
public sealed class VerificationCache
{
    /// <summary>At most this many collateral bundles are remembered (one per FMSPC and TEE type in practice).</summary>
    private const int MaxBundles = 1024;

    private readonly ConcurrentDictionary<Key, object> _parsed = new();
    private readonly ConcurrentDictionary<Key, bool> _signatures = new();
    private readonly ConcurrentDictionary<Key, CollateralMemo> _bundles = new();
    private readonly ConditionalWeakTable<QuoteCollateral, CollateralMemo> _bundleOf = new();
    private readonly int _capacity;

    /// <summary>The memo of a cache for one verification on one thread (see <see cref="ForOneCall"/>), else null.</summary>
    private readonly List<OneCallEntry>? _oneCall;

    /// <summary>The kinds of step a one-call cache remembers (the others happen once per call).</summary>
    private readonly byte[] _oneCallKinds = [];

    /// <summary>Creates a cache holding at most <paramref name="capacity"/> entries per area.</summary>
    public VerificationCache(int capacity = 100_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    private VerificationCache(List<OneCallEntry> oneCall, byte[] kinds)
        : this(oneCall.Capacity)
    {
        _oneCall = oneCall;
        _oneCallKinds = kinds;
    }

    /// <summary>Number of memoised parse results.</summary>
    public int ParsedCount => _parsed.Count;

    /// <summary>Number of memoised signature checks.</summary>
    public int SignatureCount => _signatures.Count;

    /// <summary>
    /// A cache for one cold verification on one thread: it only spares the repeats within that call (Intel's root
    /// appears in four chains, its CRL and self-signature are checked three times), so instead of hashing every
    /// input it keeps a copy of each and finds a repeat by comparing bytes over the few dozen entries. Only the
    /// <paramref name="kinds"/> of step that can repeat are kept (and every parsed key, to release it after the call).
    /// </summary>
    internal static VerificationCache ForOneCall(params byte[] kinds) => new(new List<OneCallEntry>(32), kinds);

    internal T Parse<T>(byte kind, ReadOnlySpan<byte> input, Func<T> parse)
        where T : class
    {
        if (_oneCall is not null)
        {
            if (!_oneCallKinds.AsSpan().Contains(kind))
            {
                return parse();
            }

            if (FindOneCall(kind, [], input, []) is T known)
            {
                return known;
            }

            var parsed = parse();
            _oneCall.Add(new OneCallEntry(kind, [], input.ToArray(), [], parsed));
            return parsed;
        }

        var key = Key.Of(kind, input, [], []);
        if (_parsed.TryGetValue(key, out var hit) && hit is T typed)
        {
            return typed;
        }

        var value = parse();
        Trim(_parsed);
        _parsed[key] = value;
        return value;
    }

    internal bool Verify(EcPublicKey key, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature, DSASignatureFormat format, byte kind)
    {
        if (_oneCall is not null)
        {
            if (!_oneCallKinds.AsSpan().Contains(kind))
            {
                return key.Verify(message, signature, format);
            }

            if (FindOneCall(kind, key.Point, message, signature) is bool known)
            {
                return known;
            }

            var verified = key.Verify(message, signature, format);
            _oneCall.Add(new OneCallEntry(kind, key.Point.ToArray(), message.ToArray(), signature.ToArray(), verified));
            return verified;
        }

        var cacheKey = Key.Of(kind, key.Point, message, signature);
        if (_signatures.TryGetValue(cacheKey, out var hit))
        {
            return hit;
        }

        var ok = key.Verify(message, signature, format);
        Trim(_signatures);
        _signatures[cacheKey] = ok;
        return ok;
    }

    /// <summary>Number of remembered collateral bundles.</summary>
    internal int BundleCount => _bundles.Count;

    /// <summary>
    /// The memo of a bundle with exactly <paramref name="collateral"/>'s bytes verified under <paramref name="anchor"/>,
    /// or null. The same instance is found by identity, another instance by the SHA-256 of its bytes; either way
    /// every byte is compared with the memo's own copy before it is used.
    /// </summary>
    internal CollateralMemo? FindBundle(QuoteCollateral collateral, TrustAnchor anchor)
    {
        if (_bundleOf.TryGetValue(collateral, out var known) && known.Matches(collateral, anchor.Point))
        {
            return known;
        }

        if (_bundles.IsEmpty)
        {
            return null;
        }

        var digest = CollateralMemo.DigestOf(collateral, anchor.Point);
        if (_bundles.TryGetValue(Key.Of(digest), out var found) && found.Matches(collateral, anchor.Point))
        {
            _bundleOf.AddOrUpdate(collateral, found);
            return found;
        }

        return null;
    }

    /// <summary>Remembers <paramref name="memo"/> (built from a private copy of <paramref name="collateral"/>'s bytes) for that instance and its content.</summary>
    internal void AddBundle(QuoteCollateral collateral, CollateralMemo memo)
    {
        if (_bundles.Count >= Math.Min(_capacity, MaxBundles))
        {
            _bundles.Clear();
        }

        _bundles[Key.Of(memo.Digest)] = memo;
        _bundleOf.AddOrUpdate(collateral, memo);
    }

    /// <summary>Releases the platform key handles of everything parsed (for a cache that lives for one call).</summary>
    internal void ReleaseKeys()
    {
        foreach (var value in _oneCall is null ? _parsed.Values : _oneCall.Select(e => e.Value))
        {
            switch (value)
            {
                case DcapCertificate certificate:
                    certificate.PublicKey.Dispose();
                    break;
                case EcPublicKey key:
                    key.Dispose();
                    break;
            }
        }

        _parsed.Clear();
        _oneCall?.Clear();
    }

    private object? FindOneCall(byte kind, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c)
    {
        foreach (var entry in _oneCall!)
        {
            // Lengths first: most entries differ there, and equal ones cost one memory comparison.
            if (entry.Kind == kind && entry.A.Length == a.Length && entry.B.Length == b.Length && entry.C.Length == c.Length &&
                entry.B.AsSpan().SequenceEqual(b) && entry.A.AsSpan().SequenceEqual(a) && entry.C.AsSpan().SequenceEqual(c))
            {
                return entry.Value;
            }
        }

        return null;
    }

    private void Trim<TValue>(ConcurrentDictionary<Key, TValue> area)
    {
        if (area.Count >= _capacity)
        {
            area.Clear();
        }
    }

    /// <summary>One memoised step of a one-call cache: its kind, copies of its inputs, and its result.</summary>
    private sealed record OneCallEntry(byte Kind, byte[] A, byte[] B, byte[] C, object Value);

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Key(ulong A, ulong B, ulong C, ulong D)
    {
        public static Key Of(ReadOnlySpan<byte> digest)
        {
            var words = MemoryMarshal.Cast<byte, ulong>(digest);
            return new Key(words[0], words[1], words[2], words[3]);
        }

        public static Key Of(byte kind, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c)
        {
            // Hash of (kind, H(a), H(b), H(c)): one-shot hashes avoid creating a hash context per lookup.
            Span<byte> parts = stackalloc byte[1 + (3 * 32)];
            parts[0] = kind;
            SHA256.HashData(a, parts.Slice(1, 32));
            SHA256.HashData(b, parts.Slice(33, 32));
            SHA256.HashData(c, parts.Slice(65, 32));
            Span<byte> digest = stackalloc byte[32];
            SHA256.HashData(parts, digest);
            var words = MemoryMarshal.Cast<byte, ulong>(digest);
            return new Key(words[0], words[1], words[2], words[3]);
        }
    }
}
