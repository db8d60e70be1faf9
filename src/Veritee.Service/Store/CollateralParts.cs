using System.Buffers.Binary;
using Veritee.Dcap.Collateral;

namespace Veritee.Service.Store;

/// <summary>
/// Packs the seven collateral parts into one blob (count, then length-prefixed parts) so a bundle is written and read
/// in one statement, whole; and adapts the store to the collateral cache.
/// </summary>
public static class CollateralParts
{
    /// <summary>Packs parts.</summary>
    public static byte[] Pack(byte[][] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var result = new byte[4 + parts.Sum(p => 4 + p.Length)];
        BinaryPrimitives.WriteInt32LittleEndian(result, parts.Length);
        var offset = 4;
        foreach (var part in parts)
        {
            BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(offset), part.Length);
            part.CopyTo(result.AsSpan(offset + 4));
            offset += 4 + part.Length;
        }

        return result;
    }

    /// <summary>Unpacks parts; throws <see cref="InvalidDataException"/> on a damaged blob.</summary>
    public static byte[][] Unpack(byte[] blob)
    {
        ArgumentNullException.ThrowIfNull(blob);
        if (blob.Length < 4)
        {
            throw new InvalidDataException("collateral cache entry is truncated");
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(blob);
        if (count is < 0 or > 64)
        {
            throw new InvalidDataException("collateral cache entry has a bad part count");
        }

        var parts = new byte[count][];
        var offset = 4;
        for (var i = 0; i < count; i++)
        {
            if (offset + 4 > blob.Length)
            {
                throw new InvalidDataException("collateral cache entry is truncated");
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(blob.AsSpan(offset));
            if (length < 0 || offset + 4 + length > blob.Length)
            {
                throw new InvalidDataException("collateral cache entry is truncated");
            }

            parts[i] = blob.AsSpan(offset + 4, length).ToArray();
            offset += 4 + length;
        }

        return parts;
    }

    /// <summary>The parts of a collateral bundle in a fixed order.</summary>
    public static byte[][] Of(QuoteCollateral c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return [c.PckCrlIssuerChain, c.RootCaCrl, c.PckCrl, c.TcbInfoIssuerChain, c.TcbInfo, c.QeIdentityIssuerChain, c.QeIdentity];
    }

    /// <summary>The bundle from its parts.</summary>
    public static QuoteCollateral To(byte[][] p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return p.Length == 7 ? new QuoteCollateral(p[0], p[1], p[2], p[3], p[4], p[5], p[6]) : throw new InvalidDataException($"collateral cache entry has {p.Length} parts, 7 expected");
    }
}

/// <summary>The service store as the collateral cache shared by every node.</summary>
public sealed class StoreCollateralCache(IServiceStore store) : ICollateralCacheStore
{
    /// <inheritdoc />
    public async Task<StoredCollateral?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var hit = await store.GetCollateralAsync(key, cancellationToken).ConfigureAwait(false);
        return hit is { } h ? new StoredCollateral(CollateralParts.To(h.Parts), h.FetchedAt) : null;
    }

    /// <inheritdoc />
    public Task PutAsync(string key, StoredCollateral value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);
        return store.PutCollateralAsync(key, CollateralParts.Of(value.Collateral), value.FetchedAt, cancellationToken);
    }
}
