using System.Security.Cryptography;

namespace Veritee.Dcap.X509;

/// <summary>
/// A P-256 public key held as its uncompressed point. Importing into the platform crypto is the expensive part
/// (OpenSSL decoders), so it happens once, on first use.
/// </summary>
public sealed class EcPublicKey : IDisposable
{
    private readonly byte[] _point;
    private ECDsa? _ecdsa;

    /// <summary>Creates the key from a 65-byte uncompressed point (0x04‖x‖y) or a raw 64-byte x‖y.</summary>
    public EcPublicKey(ReadOnlySpan<byte> point)
    {
        _point = point.Length switch
        {
            65 when point[0] == 0x04 => point.ToArray(),
            64 => [0x04, .. point],
            _ => throw new DcapFormatException($"EC public key must be a 65-byte uncompressed or 64-byte raw P-256 point, got {point.Length} bytes"),
        };
    }

    /// <summary>The 65-byte uncompressed point.</summary>
    public ReadOnlySpan<byte> Point => _point;

    /// <summary>True when the point lies on P-256 (import succeeds).</summary>
    public bool IsValid => TryGet(out _);

    /// <summary>Verifies an ECDSA-SHA256 signature over <paramref name="data"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature, DSASignatureFormat format)
    {
        if (!TryGet(out var ecdsa))
        {
            return false;
        }

        try
        {
            return ecdsa.VerifyData(data, signature, HashAlgorithmName.SHA256, format);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>True when both keys are the same point.</summary>
    public bool SameAs(ReadOnlySpan<byte> otherPoint) => _point.AsSpan().SequenceEqual(otherPoint);

    /// <inheritdoc />
    public void Dispose() => Interlocked.Exchange(ref _ecdsa, null)?.Dispose();

    private bool TryGet(out ECDsa ecdsa)
    {
        if (_ecdsa is { } existing)
        {
            ecdsa = existing;
            return true;
        }

        try
        {
            var created = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = _point[1..33], Y = _point[33..65] },
            });
            ecdsa = Interlocked.CompareExchange(ref _ecdsa, created, null) ?? created;
            if (!ReferenceEquals(ecdsa, created))
            {
                created.Dispose();
            }

            return true;
        }
        catch (CryptographicException)
        {
            ecdsa = null!;
            return false;
        }
    }
}
