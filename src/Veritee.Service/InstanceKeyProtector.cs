using System.Security.Cryptography;
using System.Text;

namespace Veritee.Service;

/// <summary>
/// Seals the instance's private key for the store with AES-256-GCM under a key-encryption key from configuration, so
/// a copy of the database alone does not give away the token-signing key. Sealed blobs start with a marker, so a
/// node can tell a sealed key from a plain one and refuse a mismatch instead of guessing.
/// </summary>
public static class InstanceKeyProtector
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private static readonly byte[] Marker = "VKEK1"u8.ToArray();
    private static readonly byte[] Purpose = "veritee instance signing key v1"u8.ToArray();

    /// <summary>True when <paramref name="stored"/> is a sealed key.</summary>
    public static bool IsSealed(ReadOnlySpan<byte> stored) => stored.StartsWith(Marker);

    /// <summary>Seals PKCS#8 bytes under a 32-byte key-encryption key.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> pkcs8, ReadOnlySpan<byte> kek)
    {
        Check(kek);
        var result = new byte[Marker.Length + NonceSize + TagSize + pkcs8.Length];
        Marker.CopyTo(result, 0);
        var nonce = result.AsSpan(Marker.Length, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(kek, TagSize);
        aes.Encrypt(nonce, pkcs8, result.AsSpan(Marker.Length + NonceSize + TagSize), result.AsSpan(Marker.Length + NonceSize, TagSize), Purpose);
        return result;
    }

    /// <summary>Opens a sealed key; throws <see cref="InvalidOperationException"/> when the key-encryption key is wrong.</summary>
    public static byte[] Open(ReadOnlySpan<byte> sealedKey, ReadOnlySpan<byte> kek)
    {
        Check(kek);
        if (!IsSealed(sealedKey) || sealedKey.Length < Marker.Length + NonceSize + TagSize)
        {
            throw new InvalidOperationException("the stored instance key is not a sealed key");
        }

        var body = sealedKey[(Marker.Length + NonceSize + TagSize)..];
        var plain = new byte[body.Length];
        try
        {
            using var aes = new AesGcm(kek, TagSize);
            aes.Decrypt(sealedKey.Slice(Marker.Length, NonceSize), body, sealedKey.Slice(Marker.Length + NonceSize, TagSize), plain, Purpose);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new InvalidOperationException("the configured key-encryption key does not open the stored instance key");
        }

        return plain;
    }

    /// <summary>
    /// Reads a key-encryption key: 32 raw bytes, or 32 bytes as base64 or hex text (a trailing newline is ignored).
    /// </summary>
    public static byte[] ParseKek(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 32)
        {
            return bytes.ToArray();
        }

        var text = Encoding.ASCII.GetString(bytes).Trim();
        if (text.Length == 64 && Veritee.Sgx.Hex.TryDecode(text, out var hex))
        {
            return hex;
        }

        try
        {
            var decoded = Convert.FromBase64String(text);
            if (decoded.Length == 32)
            {
                return decoded;
            }
        }
        catch (FormatException)
        {
            // Fall through to the error below.
        }

        throw new FormatException("a key-encryption key must be 32 bytes: raw, 64 hex characters or base64");
    }

    private static void Check(ReadOnlySpan<byte> kek)
    {
        if (kek.Length != 32)
        {
            throw new ArgumentException("the key-encryption key must be 32 bytes (AES-256)", nameof(kek));
        }
    }
}
