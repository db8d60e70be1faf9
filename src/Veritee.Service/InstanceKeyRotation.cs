using System.Globalization;
using System.Security.Cryptography;
using Veritee.Service.Store;

namespace Veritee.Service;

/// <summary>What <see cref="VeriteeServer.RekeyAsync"/> did.</summary>
/// <param name="Kid">The instance signing key's <c>kid</c>: unchanged, so issued tokens stay valid.</param>
/// <param name="RetiredKekFile">Where the generated <c>DATA/key-encryption-key</c> was moved when it was the old key (it still opens backups taken before), else null.</param>
public sealed record RekeyResult(string Kid, string? RetiredKekFile);

/// <summary>What <see cref="VeriteeServer.RollInstanceKeyAsync"/> did.</summary>
/// <param name="OldKid">The <c>kid</c> of the key taken out of service.</param>
/// <param name="NewKid">The <c>kid</c> tokens are signed under from now on.</param>
/// <param name="OldPublishedUntil">Until when <c>/certs</c> still publishes the old key; null when it was taken out at once.</param>
/// <param name="StillPublished">Keys rolled out before that stay in <c>/certs</c> for their own time (none after a roll for a leaked key).</param>
public sealed record RollKeyResult(string OldKid, string NewKid, DateTimeOffset? OldPublishedUntil, IReadOnlyList<string> StillPublished);

public static partial class VeriteeServer
{
    /// <summary>
    /// Re-seals the stored instance signing key under <paramref name="newKek"/> (docs/operations.md, key rotation). The
    /// old key-encryption key is <see cref="ServiceOptions.KeyEncryptionKey"/>, else the generated
    /// <c>DATA/key-encryption-key</c> (SQLite). The signing key itself does not change. The swap is a compare-and-set
    /// on the stored bytes, so two concurrent rekeys cannot both win. Nodes keep signing with the key they hold;
    /// each must be restarted with the new key-encryption key. Throws <see cref="InvalidOperationException"/> with the
    /// reason when the store has no sealed key, the old key does not open it, or the keys are equal.
    /// </summary>
    public static async Task<RekeyResult> RekeyAsync(ServiceOptions options, byte[] newKek, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(newKek);
        if (newKek.Length != 32)
        {
            throw new ArgumentException("a key-encryption key is 32 bytes", nameof(newKek));
        }

        var kekFile = Path.Combine(options.DataDirectory, KeyEncryptionKeyFileName);
        return await WithExistingStoreAsync(options, store => RekeyStoreAsync(store, options.KeyEncryptionKey, kekFile, newKek, now, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Rolls the instance signing key (docs/operations.md, key rotation): a new RSA key and certificate for the same
    /// instance replace the stored one, sealed under the same key-encryption key. The old key's certificate stays in
    /// <c>/certs</c> for <paramref name="publishOldFor"/> so that tokens it signed keep validating; zero takes it out at
    /// once (a leaked key). Running nodes sign with the new key once they read it from the store
    /// (<see cref="ServiceOptions.InstanceKeyRefreshInterval"/>), without a restart. The swap is a compare-and-set on
    /// the stored bytes, so a roll racing another roll or a rekey changes nothing. Throws
    /// <see cref="InvalidOperationException"/> with the reason when the instance key is a mounted file, the store has
    /// no sealed key, or the key-encryption key does not open it.
    /// </summary>
    public static async Task<RollKeyResult> RollInstanceKeyAsync(ServiceOptions options, TimeSpan publishOldFor, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(publishOldFor, TimeSpan.Zero);
        if (options.InstanceKeyCertificate is not null)
        {
            throw new InvalidOperationException("the instance key is a mounted PKCS#12 file (--instance-key); roll it by mounting a new file on every node");
        }

        var kekFile = Path.Combine(options.DataDirectory, KeyEncryptionKeyFileName);
        return await WithExistingStoreAsync(options, async store =>
        {
            var kek = options.KeyEncryptionKey ?? (File.Exists(kekFile)
                ? ReadKekFile(kekFile)
                : throw new InvalidOperationException("name the key-encryption key the instance key is sealed with (--key-encryption-key-file or $VERITEE_KEK); the data folder has no generated one"));
            try
            {
                return await RollStoreAsync(store, kek, publishOldFor, now, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (!ReferenceEquals(kek, options.KeyEncryptionKey))
                {
                    CryptographicOperations.ZeroMemory(kek);
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<RollKeyResult> RollStoreAsync(IServiceStore store, byte[] kek, TimeSpan publishOldFor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var stored = await SealedInstanceKeyAsync(store, cancellationToken).ConfigureAwait(false);
        var plain = OpenSealed(stored.Pkcs8, kek, "the key-encryption key");
        InstanceSigningKey old;
        try
        {
            old = InstanceSigningKey.Load(plain, stored.Certificate);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }

        using (old)
        {
            var instance = old.Certificate.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, forIssuer: false);
            using var fresh = InstanceSigningKey.Create(instance, now);
            var pkcs8 = fresh.ExportPkcs8();
            byte[] sealedKey;
            try
            {
                sealedKey = InstanceKeyProtector.Seal(pkcs8, kek);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(pkcs8);
            }

            // A routine roll keeps the keys rolled out before for their time, when the old key signed them, and signs
            // every entry anew with the new key. A roll for a leaked key carries nothing over: whoever holds the old
            // key could have signed entries of their own into the list.
            DateTimeOffset? until = publishOldFor > TimeSpan.Zero ? DateTimeOffset.FromUnixTimeSeconds((now + publishOldFor).ToUnixTimeSeconds()) : null;
            var published = new List<RetiredInstanceKey>();
            if (until is { } end)
            {
                published.Add(InstanceKeyRing.SignRetired(fresh, old.Kid, old.Certificate.RawData, end));
                foreach (var earlier in await store.GetRetiredInstanceKeysAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (earlier.PublishedUntil > now && InstanceKeyRing.VerifyRetired(old, earlier) && !string.Equals(earlier.Kid, old.Kid, StringComparison.Ordinal))
                    {
                        published.Add(InstanceKeyRing.SignRetired(fresh, earlier.Kid, earlier.Certificate, earlier.PublishedUntil));
                    }
                }
            }

            if (!await store.RollInstanceKeyAsync(new InstanceKeyRoll(stored.Pkcs8, sealedKey, fresh.Certificate.RawData, published), cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException("the stored instance key changed while it was being rolled (another roll or rekey?); nothing was changed by this one, check and retry");
            }

            return new RollKeyResult(old.Kid, fresh.Kid, until, [.. published.Skip(1).Select(r => r.Kid)]);
        }
    }

    /// <summary>Runs <paramref name="action"/> on the store <paramref name="options"/> name, which must exist already (never created here).</summary>
    private static async Task<T> WithExistingStoreAsync<T>(ServiceOptions options, Func<IServiceStore, Task<T>> action, CancellationToken cancellationToken)
    {
        IServiceStore store;
        if (options.PostgresConnectionString is { } postgres)
        {
            store = new PostgresServiceStore(postgres);
        }
        else
        {
            // A maintenance command on a folder without a store is a mistake in the path.
            var database = Path.Combine(options.DataDirectory, "veritee.db");
            store = File.Exists(database)
                ? new SqliteServiceStore(database)
                : throw new InvalidOperationException($"{options.DataDirectory} holds no Veritee store (no veritee.db); name the data folder 'veritee serve' uses");
        }

        try
        {
            await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
            return await action(store).ConfigureAwait(false);
        }
        finally
        {
            if (store is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The stored instance key, which must exist and be sealed.</summary>
    private static async Task<(byte[] Pkcs8, byte[] Certificate)> SealedInstanceKeyAsync(IServiceStore store, CancellationToken cancellationToken)
    {
        var stored = await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the store has no instance key yet; start 'veritee serve' once to create it");
        return InstanceKeyProtector.IsSealed(stored.Pkcs8)
            ? stored
            : throw new InvalidOperationException("the stored instance key is not sealed yet; start 'veritee serve' once with the current key-encryption key to seal it");
    }

    /// <summary>The clear PKCS#8 bytes of a sealed key (the caller zeroes them); the message names <paramref name="which"/> key failed.</summary>
    private static byte[] OpenSealed(byte[] sealedKey, byte[] kek, string which)
    {
        try
        {
            return InstanceKeyProtector.Open(sealedKey, kek);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException(which + " does not open the stored instance key: " + e.Message, e);
        }
    }

    private static async Task<RekeyResult> RekeyStoreAsync(IServiceStore store, byte[]? configuredKek, string kekFile, byte[] newKek, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var oldKek = configuredKek;
        var fromGeneratedFile = false;
        if (oldKek is null)
        {
            oldKek = File.Exists(kekFile)
                ? ReadKekFile(kekFile)
                : throw new InvalidOperationException("name the key-encryption key the instance key is sealed with (--key-encryption-key-file or $VERITEE_KEK); the data folder has no generated one");
            fromGeneratedFile = true;
        }

        if (CryptographicOperations.FixedTimeEquals(oldKek, newKek))
        {
            throw new InvalidOperationException("the new key-encryption key equals the old one");
        }

        var stored = await SealedInstanceKeyAsync(store, cancellationToken).ConfigureAwait(false);
        var plain = OpenSealed(stored.Pkcs8, oldKek, "the old key-encryption key");
        string kid;
        byte[] resealed;
        try
        {
            using (var key = InstanceSigningKey.Load(plain, stored.Certificate))
            {
                kid = key.Kid;
            }

            resealed = InstanceKeyProtector.Seal(plain, newKek);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }

        if (!await store.ReplaceInstanceKeyAsync(stored.Pkcs8, resealed, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException("the stored instance key changed while it was being re-sealed (another rekey?); nothing was changed by this one, check and retry");
        }

        // Read back: only a key that opens under the new KEK counts as done.
        var check = await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false);
        CryptographicOperations.ZeroMemory(InstanceKeyProtector.Open(check!.Value.Pkcs8, newKek));

        string? retired = null;
        if (fromGeneratedFile)
        {
            // The generated file would now fail every start; it still opens backups taken before the rekey.
            retired = kekFile + ".retired-" + now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            File.Move(kekFile, retired);
        }

        return new RekeyResult(kid, retired);
    }
}
