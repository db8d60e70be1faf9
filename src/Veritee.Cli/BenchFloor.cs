using System.Globalization;
using System.Security.Cryptography;

namespace Veritee.Cli;

/// <summary>
/// The rate of the one cryptographic step a benchmark cannot avoid, measured in the same process so that the
/// benchmark's figure can be read as a ratio that travels between machines.
/// </summary>
internal sealed record BenchFloor(string Name, string Description, BenchResult Result)
{
    /// <summary>Size of the part of an SGX v3 quote its attestation key signs (48-byte header + 384-byte report body).</summary>
    private const int QuoteSignedBytes = 48 + 384;

    public double PerSecond => Result.OpsPerSecond;

    /// <summary>Floor measurement time for a benchmark of <paramref name="seconds"/>: a few hundred ms, at most 2 s.</summary>
    public static double SecondsFor(double seconds) => Math.Clamp(seconds / 5, 0.3, 2.0);

    /// <summary>
    /// ECDSA P-256 verification of a real signature over a quote-sized message with <see cref="ECDsa"/>: with
    /// <paramref name="importEachTime"/> false the key is imported once (the warm floor); with true it is imported
    /// from the raw public point for every verification (the cold floor: every call starts from bytes).
    /// </summary>
    public static BenchFloor EcdsaP256Verify(bool importEachTime, double seconds, int threads)
    {
        using var floor = EcdsaP256VerifyOperation(importEachTime);
        return new BenchFloor(floor.Name, floor.Description, BenchRunner.Run(floor.Operation, seconds, threads));
    }

    /// <summary>The operation <see cref="EcdsaP256Verify"/> measures, to run by itself or interleaved with a benchmark.</summary>
    public static FloorOperation EcdsaP256VerifyOperation(bool importEachTime)
    {
        using var signer = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var message = RandomNumberGenerator.GetBytes(QuoteSignedBytes);
        var signature = signer.SignData(message, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var q = signer.ExportParameters(includePrivateParameters: false).Q;
        var point = new byte[64];
        q.X!.CopyTo(point, 0);
        q.Y!.CopyTo(point, 32);

        if (importEachTime)
        {
            return new FloorOperation(
                "ecdsa-p256-import-verify",
                "ECDSA P-256 key import from the raw point plus verify",
                () =>
                {
                    // The same import path as the verifier's keys: ECParameters from the raw x‖y point.
                    using var key = ECDsa.Create(new ECParameters
                    {
                        Curve = ECCurve.NamedCurves.nistP256,
                        Q = new ECPoint { X = point[..32], Y = point[32..] },
                    });
                    return key.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
                },
                null);
        }

        // One imported key per thread, as a verifier's cached key is used by whichever thread holds it.
        var keys = new ThreadLocal<ECDsa>(
            () => ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = point[..32], Y = point[32..] },
            }),
            trackAllValues: true);
        return new FloorOperation(
            "ecdsa-p256-verify",
            "ECDSA P-256 verify with an imported key",
            () => keys.Value!.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            () =>
            {
                foreach (var key in keys.Values)
                {
                    key.Dispose();
                }

                keys.Dispose();
            });
    }

    /// <summary>RS256 (RSA-2048, PKCS#1 v1.5, SHA-256) signatures of a token-sized message on one thread.</summary>
    public static BenchFloor Rs256Sign(double seconds)
    {
        using var rsa = RSA.Create(2048);
        var data = RandomNumberGenerator.GetBytes(1500);
        var result = BenchRunner.Run(
            () => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).Length == 256,
            seconds,
            1);
        return new BenchFloor("rs256-sign", "RS256 (RSA-2048) signing", result);
    }

    /// <summary>The benchmark's rate divided by the floor's.</summary>
    public double RatioOf(double opsPerSecond) => opsPerSecond / PerSecond;

    /// <summary>The text line naming the floor, its rate and the ratio.</summary>
    public string Describe(double opsPerSecond) => string.Create(CultureInfo.InvariantCulture,
        $"floor {Name} ({Description}, {Result.Threads} thread(s), same process): {PerSecond:F1} ops/s; ratio {RatioOf(opsPerSecond):F3}");
}

/// <summary>A floor's operation and what it holds (keys), released on dispose.</summary>
internal sealed class FloorOperation(string name, string description, Func<bool> operation, Action? release) : IDisposable
{
    public string Name { get; } = name;

    public string Description { get; } = description;

    public Func<bool> Operation { get; } = operation;

    public void Dispose() => release?.Invoke();
}
