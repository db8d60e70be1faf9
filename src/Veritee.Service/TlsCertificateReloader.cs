using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Veritee.Service;

/// <summary>
/// The TLS certificate from its files, renewed without restart: on a new TLS connection, at most once per
/// <see cref="CheckInterval"/>, the files are read and, when their content changed and they load as a certificate with
/// its private key, that certificate is served from then on. A pair caught half-written keeps the previous certificate
/// and is tried again at the next check.
/// </summary>
public sealed partial class TlsCertificateReloader
{
    /// <summary>Shortest interval between two reads of the files.</summary>
    internal static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly string _certificatePath;
    private readonly string? _keyPath;
    private readonly Lock _gate = new();
    private X509Certificate2 _current;
    private byte[] _contentHash;
    private byte[]? _failedHash;
    private long _checkedAt;

    /// <summary>Loads the certificate; throws <see cref="CryptographicException"/> or <see cref="IOException"/> when it cannot.</summary>
    public TlsCertificateReloader(string certificatePath, string? keyPath)
    {
        ArgumentNullException.ThrowIfNull(certificatePath);
        _certificatePath = certificatePath;
        _keyPath = keyPath;
        var (cert, key) = ReadFiles();
        _contentHash = Hash(cert, key);
        _current = Load(certificatePath, cert, key);
        _checkedAt = Stopwatch.GetTimestamp();
    }

    /// <summary>Where renewals and failed reloads are logged (set once the host's logging exists).</summary>
    internal ILogger Logger { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>The certificate to present, renewed first when the files changed.</summary>
    public X509Certificate2 Current
    {
        get
        {
            lock (_gate)
            {
                if (Stopwatch.GetElapsedTime(_checkedAt) >= CheckInterval)
                {
                    _checkedAt = Stopwatch.GetTimestamp();
                    Check();
                }

                return _current;
            }
        }
    }

    /// <summary>
    /// Loads a certificate with its private key: PKCS#12 when the file is <c>.pfx</c>/<c>.p12</c>, else PEM with the key
    /// in <paramref name="keyPath"/> (or in the same file).
    /// </summary>
    public static X509Certificate2 Load(string certificatePath, string? keyPath)
    {
        ArgumentNullException.ThrowIfNull(certificatePath);
        return Load(certificatePath, File.ReadAllBytes(certificatePath), keyPath is null ? null : File.ReadAllBytes(keyPath));
    }

    private static X509Certificate2 Load(string certificatePath, byte[] certificate, byte[]? key)
    {
        if (Path.GetExtension(certificatePath).ToUpperInvariant() is ".PFX" or ".P12")
        {
            return X509CertificateLoader.LoadPkcs12(certificate, null);
        }

        var certificatePem = System.Text.Encoding.ASCII.GetString(certificate);
        var keyPem = key is null ? certificatePem : System.Text.Encoding.ASCII.GetString(key);
        var loaded = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        if (!loaded.HasPrivateKey)
        {
            loaded.Dispose();
            throw new CryptographicException("the TLS certificate has no private key");
        }

        return loaded;
    }

    private (byte[] Certificate, byte[]? Key) ReadFiles() =>
        (File.ReadAllBytes(_certificatePath), _keyPath is null ? null : File.ReadAllBytes(_keyPath));

    private static byte[] Hash(byte[] certificate, byte[]? key)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(SHA256.HashData(certificate));
        hash.AppendData(key is null ? [] : SHA256.HashData(key));
        return hash.GetHashAndReset();
    }

    /// <summary>Called under the gate.</summary>
    private void Check()
    {
        byte[] hash;
        X509Certificate2 renewed;
        try
        {
            var (cert, key) = ReadFiles();
            hash = Hash(cert, key);
            if (hash.AsSpan().SequenceEqual(_contentHash) || (_failedHash is not null && hash.AsSpan().SequenceEqual(_failedHash)))
            {
                return;
            }

            try
            {
                renewed = Load(_certificatePath, cert, key);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                // Perhaps half-written (new certificate, old key): keep serving the previous one, retry when the files change.
                _failedHash = hash;
                LogReloadFailed(Logger, _certificatePath, e.Message);
                return;
            }
        }
        catch (IOException e)
        {
            LogReloadFailed(Logger, _certificatePath, e.Message);
            return;
        }
        catch (UnauthorizedAccessException e)
        {
            LogReloadFailed(Logger, _certificatePath, e.Message);
            return;
        }

        // The previous certificate is not disposed: handshakes in progress may still use it.
        _current = renewed;
        _contentHash = hash;
        _failedHash = null;
        LogReloaded(Logger, _certificatePath, renewed.Subject, renewed.NotAfter.ToUniversalTime());
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "TLS certificate renewed from {Path}: {Subject}, valid until {NotAfter:O}")]
    private static partial void LogReloaded(ILogger logger, string path, string subject, DateTime notAfter);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TLS certificate files {Path} changed but do not load (keeping the previous certificate): {Error}")]
    private static partial void LogReloadFailed(ILogger logger, string path, string error);
}
