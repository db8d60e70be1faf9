using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Veritee.TestSupport;

/// <summary>Loopback-only helpers for tests that start servers.</summary>
public static class Loopback
{
    /// <summary>A port that was free a moment ago on 127.0.0.1.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>An http URL on 127.0.0.1 with a free port.</summary>
    public static string HttpUrl() => $"http://127.0.0.1:{FreePort()}";

    /// <summary>A self-signed RSA certificate for 127.0.0.1 (subject and IP SAN), with its private key, valid a week.</summary>
    public static X509Certificate2 SelfSignedCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }
}

/// <summary>A clock the tests set.</summary>
public sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    /// <summary>The time returned by <see cref="GetUtcNow"/>.</summary>
    public DateTimeOffset Now { get; set; } = now;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => Now;
}
