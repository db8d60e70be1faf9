using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Veritee.Service.Store;

namespace Veritee.Service;

/// <summary>
/// The key tokens are signed with now, and the keys <c>/certs</c> publishes: the signing key first, then keys rolled out
/// of service until their time ends (docs/operations.md, key rotation). A roll read from the store swaps both at once;
/// a token being signed keeps the key it started with.
/// </summary>
public sealed class InstanceKeyRing : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<InstanceSigningKey> _owned = [];
    private Generation _current;

    /// <summary>
    /// A ring of <paramref name="signing"/> and the <paramref name="retired"/> keys it signed (entries it did not sign are
    /// left out: <see cref="Rejected"/> names them).
    /// </summary>
    public InstanceKeyRing(InstanceSigningKey signing, IReadOnlyList<RetiredInstanceKey>? retired = null)
    {
        ArgumentNullException.ThrowIfNull(signing);
        _owned.Add(signing);
        _current = Build(signing, retired ?? []);
    }

    /// <summary>The kids of stored entries the last update left out because the signing key did not sign them.</summary>
    public IReadOnlyList<string> Rejected => Volatile.Read(ref _current).Rejected;

    /// <summary>
    /// How this node follows the store's key (null when it does not: a mounted key file): the time of the last read that
    /// succeeded, and of the last that failed with its reason.
    /// </summary>
    internal (DateTimeOffset LastSuccess, DateTimeOffset? LastFailure, string? Error)? Following => Volatile.Read(ref _followBox)?.Value;

    private StrongBox<(DateTimeOffset, DateTimeOffset?, string?)>? _followBox;

    /// <summary>Records a read of the store that succeeded.</summary>
    internal void Followed(DateTimeOffset at)
    {
        var previous = Following;
        Volatile.Write(ref _followBox, new((at, previous?.LastFailure, previous?.Error)));
    }

    /// <summary>Records a read of the store that failed, keeping the time of the last success.</summary>
    internal void FollowFailed(DateTimeOffset at, string error)
    {
        var previous = Following;
        Volatile.Write(ref _followBox, new((previous?.LastSuccess ?? DateTimeOffset.MinValue, at, error)));
    }

    /// <summary>True when <paramref name="kid"/> names a key this ring signed with before the current one.</summary>
    internal bool HeldBefore(string kid)
    {
        lock (_gate)
        {
            return !string.Equals(kid, Signing.Kid, StringComparison.Ordinal) && _owned.Any(k => string.Equals(k.Kid, kid, StringComparison.Ordinal));
        }
    }

    /// <summary>The key new tokens are signed with.</summary>
    public InstanceSigningKey Signing => Volatile.Read(ref _current).Signing;

    /// <summary>
    /// The JWKS <c>keys</c> as MAA publishes them (<c>x5c</c>, <c>kid</c>, <c>kty</c>): the signing key, then each
    /// rolled-out key whose time in <c>/certs</c> has not ended at <paramref name="now"/>.
    /// </summary>
    public JsonArray Keys(DateTimeOffset now)
    {
        var generation = Volatile.Read(ref _current);
        var keys = new JsonArray(generation.Signing.Jwk());
        foreach (var (kid, certificate, until) in generation.Retired)
        {
            if (until > now)
            {
                keys.Add(InstanceSigningKey.Jwk(kid, certificate));
            }
        }

        return keys;
    }

    /// <summary>
    /// Puts <paramref name="signing"/> (when given: a key read after a roll) and the store's <paramref name="retired"/>
    /// list in force. The ring disposes of every key it was given, when it is disposed itself.
    /// </summary>
    internal void Update(InstanceSigningKey? signing, IReadOnlyList<RetiredInstanceKey> retired)
    {
        lock (_gate)
        {
            if (signing is not null)
            {
                // Kept, not disposed: a request that read the old key may still be signing with it.
                _owned.Add(signing);
            }

            Volatile.Write(ref _current, Build(signing ?? _current.Signing, retired));
        }
    }

    private static Generation Build(InstanceSigningKey signing, IReadOnlyList<RetiredInstanceKey> retired)
    {
        var published = new List<(string, byte[], DateTimeOffset)>();
        var rejected = new List<string>();
        foreach (var entry in retired)
        {
            if (!VerifyRetired(signing, entry))
            {
                rejected.Add(entry.Kid);
                continue;
            }

            // The kid comes from the certificate, so /certs cannot publish a kid that names another key.
            var kid = InstanceSigningKey.KidOf(entry.Certificate);
            if (!string.Equals(kid, signing.Kid, StringComparison.Ordinal))
            {
                published.Add((kid, entry.Certificate, entry.PublishedUntil));
            }
        }

        return new Generation(signing, [.. published], rejected);
    }

    /// <summary>
    /// The entry for a key rolled out of service, signed by <paramref name="signer"/> (the key in force after the roll).
    /// Nodes publish only entries their signing key signed: the store alone cannot add a key to <c>/certs</c>.
    /// </summary>
    public static RetiredInstanceKey SignRetired(InstanceSigningKey signer, string kid, byte[] certificate, DateTimeOffset publishedUntil)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(certificate);
        var until = DateTimeOffset.FromUnixTimeSeconds(publishedUntil.ToUnixTimeSeconds());
        var signature = signer.Key.SignData(RetiredSigningInput(kid, certificate, until), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return new RetiredInstanceKey(kid, certificate, until, signature);
    }

    /// <summary>True when <paramref name="signer"/> signed <paramref name="entry"/> as it stands.</summary>
    public static bool VerifyRetired(InstanceSigningKey signer, RetiredInstanceKey entry)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(entry);
        return signer.Key.VerifyData(RetiredSigningInput(entry.Kid, entry.Certificate, entry.PublishedUntil), entry.Signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    /// <summary>A domain tag, then the kid, the end time and the certificate, each length-delimited, so no two entries share an input.</summary>
    private static byte[] RetiredSigningInput(string kid, byte[] certificate, DateTimeOffset until)
    {
        var tag = "veritee retired instance key v1\n"u8;
        var kidBytes = System.Text.Encoding.UTF8.GetBytes(kid);
        var input = new byte[tag.Length + 4 + kidBytes.Length + 8 + 4 + certificate.Length];
        var span = input.AsSpan();
        tag.CopyTo(span);
        span = span[tag.Length..];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(span, kidBytes.Length);
        kidBytes.CopyTo(span[4..]);
        span = span[(4 + kidBytes.Length)..];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(span, until.ToUnixTimeSeconds());
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(span[8..], certificate.Length);
        certificate.CopyTo(span[12..]);
        return input;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var key in _owned)
            {
                key.Dispose();
            }

            _owned.Clear();
        }
    }

    private sealed record Generation(InstanceSigningKey Signing, (string Kid, byte[] Certificate, DateTimeOffset Until)[] Retired, IReadOnlyList<string> Rejected);
}

/// <summary>
/// Reads the stored instance key every <paramref name="interval"/>; when another process rolled it (its certificate
/// changed), opens the new key with this node's key-encryption key and signs with it from then on. A failure keeps the
/// key in force and is logged: a node never stops signing because the store was briefly unreachable. Rolled-out keys
/// the signing key did not sign are left out of <c>/certs</c> and logged.
/// </summary>
internal sealed partial class InstanceKeyRefresher(IServiceStore store, InstanceKeyRing ring, byte[] kek, TimeSpan interval, TimeProvider clock, ILogger logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The key was read from the store at start.
        ring.Followed(clock.GetUtcNow());
        using var timer = new PeriodicTimer(interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await RefreshAsync(stoppingToken).ConfigureAwait(false);
                ring.Followed(clock.GetUtcNow());
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                ring.FollowFailed(clock.GetUtcNow(), e.Message);
                LogRefreshFailed(logger, ring.Signing.Kid, e.Message);
            }
        }
    }

    /// <summary>
    /// One read of the store: the retired list always, the key only when its certificate changed. The key is read
    /// before and after the list; when a roll landed between the reads, nothing changes until the next read, so a
    /// list is never checked against the key it was not signed by.
    /// </summary>
    internal async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var stored = await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false);
        var retired = await store.GetRetiredInstanceKeysAsync(cancellationToken).ConfigureAwait(false);
        var again = await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false);
        if (stored is null || again is null || !stored.Value.Certificate.AsSpan().SequenceEqual(again.Value.Certificate))
        {
            return;
        }

        InstanceSigningKey? rolled = null;
        var current = ring.Signing;
        if (stored is { } row && !row.Certificate.AsSpan().SequenceEqual(current.Certificate.RawData))
        {
            if (!InstanceKeyProtector.IsSealed(row.Pkcs8))
            {
                throw new InvalidOperationException("the stored instance key is not sealed");
            }

            byte[] plain;
            try
            {
                plain = InstanceKeyProtector.Open(row.Pkcs8, kek);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidOperationException("this node's key-encryption key does not open the rolled instance key (was the store rekeyed and this node not restarted?): " + e.Message, e);
            }

            try
            {
                rolled = InstanceSigningKey.Load(plain, row.Certificate);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(plain);
            }

            var instance = rolled.Certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            var was = current.Certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            if (!string.Equals(instance, was, StringComparison.Ordinal))
            {
                rolled.Dispose();
                throw new InvalidOperationException($"the rolled instance key was created for instance '{instance}', not '{was}'");
            }

            // A roll only moves forward: going back to a key rolled away from (a restored backup, or a write without
            // Veritee putting back a leaked key) is refused.
            if (ring.HeldBefore(rolled.Kid))
            {
                var kid = rolled.Kid;
                rolled.Dispose();
                throw new InvalidOperationException($"the store's instance key is kid {kid}, a key this node rolled away from; refusing to go back to it (a store restored from a backup, or written without Veritee?)");
            }
        }

        ring.Update(rolled, retired);
        if (rolled is not null)
        {
            LogRolled(logger, current.Kid, rolled.Kid);
        }

        if (ring.Rejected.Count > 0)
        {
            // Names from the store, so bounded before they reach a log.
            LogRejected(logger, string.Join(", ", ring.Rejected.Take(8).Select(k => k.Length <= 64 ? k : k[..64] + "…")));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the store lists rolled-out keys the signing key did not sign; they are not published in /certs: {Kids}")]
    private static partial void LogRejected(ILogger logger, string kids);

    [LoggerMessage(Level = LogLevel.Information, Message = "instance key rolled: signing with kid {NewKid} instead of {OldKid}")]
    private static partial void LogRolled(ILogger logger, string oldKid, string newKid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "instance key refresh failed, still signing with kid {Kid}: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string kid, string reason);
}
