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

    /// <summary>A ring of <paramref name="signing"/> and the certificates of <paramref name="retired"/> keys.</summary>
    public InstanceKeyRing(InstanceSigningKey signing, IReadOnlyList<RetiredInstanceKey>? retired = null)
    {
        ArgumentNullException.ThrowIfNull(signing);
        _owned.Add(signing);
        _current = Build(signing, retired ?? []);
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
        // The kid comes from the certificate, not from the row, so /certs cannot publish a kid that names another key.
        var published = retired
            .Select(r => (Kid: InstanceSigningKey.KidOf(r.Certificate), r.Certificate, r.PublishedUntil))
            .Where(r => !string.Equals(r.Kid, signing.Kid, StringComparison.Ordinal))
            .ToArray();
        return new Generation(signing, published);
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

    private sealed record Generation(InstanceSigningKey Signing, (string Kid, byte[] Certificate, DateTimeOffset Until)[] Retired);
}

/// <summary>
/// Reads the stored instance key every <paramref name="interval"/>; when another process rolled it (its certificate
/// changed), opens the new key with this node's key-encryption key and signs with it from then on. A failure keeps the
/// key in force and is logged: a node never stops signing because the store was briefly unreachable.
/// </summary>
internal sealed partial class InstanceKeyRefresher(IServiceStore store, InstanceKeyRing ring, byte[] kek, TimeSpan interval, TimeProvider clock, ILogger logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await RefreshAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogRefreshFailed(logger, ring.Signing.Kid, e.Message);
            }
        }
    }

    /// <summary>One read of the store: the retired list always, the key only when its certificate changed.</summary>
    internal async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var stored = await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false);
        var retired = await store.GetRetiredInstanceKeysAsync(cancellationToken).ConfigureAwait(false);
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
        }

        ring.Update(rolled, retired);
        if (rolled is not null)
        {
            LogRolled(logger, current.Kid, rolled.Kid);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "instance key rolled: signing with kid {NewKid} instead of {OldKid}")]
    private static partial void LogRolled(ILogger logger, string oldKid, string newKid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "instance key refresh failed, still signing with kid {Kid}: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string kid, string reason);
}
