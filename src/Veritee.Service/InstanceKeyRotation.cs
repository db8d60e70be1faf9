using System.Globalization;
using System.Security.Cryptography;
using Veritee.Service.Store;

namespace Veritee.Service;

/// <summary>What <see cref="VeriteeServer.RekeyAsync"/> did.</summary>
/// <param name="Kid">The instance signing key's <c>kid</c>: unchanged, so issued tokens stay valid.</param>
/// <param name="RetiredKekFile">Where the generated <c>DATA/key-encryption-key</c> was moved when it was the old key (it still opens backups taken before), else null.</param>
public sealed record RekeyResult(string Kid, string? RetiredKekFile);

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
        IServiceStore store;
        if (options.PostgresConnectionString is { } postgres)
        {
            store = new PostgresServiceStore(postgres);
        }
        else
        {
            // Never create a store here: a rekey of a folder without one is a mistake in the path.
            var database = Path.Combine(options.DataDirectory, "veritee.db");
            store = File.Exists(database)
                ? new SqliteServiceStore(database)
                : throw new InvalidOperationException($"{options.DataDirectory} holds no Veritee store (no veritee.db); name the data folder 'veritee serve' uses");
        }

        try
        {
            return await RekeyStoreAsync(store, options.KeyEncryptionKey, kekFile, newKek, now, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (store is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
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

        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        var stored = await store.GetInstanceKeyAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the store has no instance key yet; start 'veritee serve' once to create it");
        if (!InstanceKeyProtector.IsSealed(stored.Pkcs8))
        {
            throw new InvalidOperationException("the stored instance key is not sealed yet; start 'veritee serve' once with the current key-encryption key to seal it");
        }

        byte[] plain;
        try
        {
            plain = InstanceKeyProtector.Open(stored.Pkcs8, oldKek);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException("the old key-encryption key does not open the stored instance key: " + e.Message, e);
        }

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
