using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Veritee.Cli;

/// <summary><c>veritee cert create</c>: an RSA-2048 key and a self-signed certificate usable as an isolated-mode policy signer.</summary>
internal static class CertCommand
{
    private const string DefaultSubject = "CN=Veritee Policy Signer";

    public static Command Create(CliIo io)
    {
        var command = new Command("cert", "Policy-signer keys and certificates for isolated-mode instances.");
        command.Subcommands.Add(CreateCreate(io));
        return command;
    }

    private static Command CreateCreate(CliIo io)
    {
        var key = VeriteeCommand.WritesFile(new Option<FileInfo>("--key") { Description = "Where to write the private key (PKCS#8 PEM; encrypted with --password). Created with mode 0600.", Required = true });
        var cert = VeriteeCommand.WritesFile(new Option<FileInfo>("--cert") { Description = "Where to write the self-signed certificate (PEM).", Required = true });
        var subject = new Option<string>("--subject") { Description = $"Certificate subject (default \"{DefaultSubject}\").", DefaultValueFactory = _ => DefaultSubject };
        var days = new Option<int>("--days") { Description = "Validity in days from now (default 365).", DefaultValueFactory = _ => 365 };
        var password = new Option<string?>("--password") { Description = "Encrypt the private key with this password (PBES2, AES-256-CBC, PBKDF2-SHA256)." };
        var force = new Option<bool>("--force") { Description = "Overwrite existing key and certificate files." };
        var command = new Command("create", "Create an RSA-2048 key and a self-signed CA certificate (SHA-256) accepted as a policy signer. Exit 0 written, 2 input error.");
        command.Options.Add(key);
        command.Options.Add(cert);
        command.Options.Add(subject);
        command.Options.Add(days);
        command.Options.Add(password);
        command.Options.Add(force);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var keyFile = parse.GetValue(key)!;
            var certFile = parse.GetValue(cert)!;
            var validDays = parse.GetValue(days);
            if (validDays is < 1 or > 36500)
            {
                throw new CliException("--days: must be between 1 and 36500");
            }

            X500DistinguishedName name;
            try
            {
                name = new X500DistinguishedName(parse.GetValue(subject)!);
            }
            catch (CryptographicException)
            {
                throw new CliException($"--subject: '{parse.GetValue(subject)}' is not a distinguished name (e.g. \"CN=My Policy Signer\")");
            }

            if (Path.GetFullPath(keyFile.FullName) == Path.GetFullPath(certFile.FullName))
            {
                throw new CliException("--key and --cert must be different files");
            }

            if (!parse.GetValue(force))
            {
                foreach (var file in new[] { keyFile, certFile })
                {
                    if (file.Exists)
                    {
                        throw new CliException($"{file}: already exists (use --force to overwrite)");
                    }
                }
            }

            var secret = parse.GetValue(password);
            if (secret is { Length: 0 })
            {
                throw new CliException("--password: must not be empty");
            }

            using var rsa = RSA.Create(2048);
            var request = new CertificateRequest(name, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

            // MAA wants a signer it can treat as a root: CA basic constraints, certificate signing allowed.
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
            var serial = RandomNumberGenerator.GetBytes(16);
            serial[0] &= 0x7F;
            using var certificate = request.Create(name, X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1), notBefore, notBefore.AddDays(validDays), serial);

            var keyPem = secret is null
                ? rsa.ExportPkcs8PrivateKeyPem()
                : rsa.ExportEncryptedPkcs8PrivateKeyPem(secret, new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 100_000));
            WritePrivate(keyFile, keyPem);
            File.WriteAllText(certFile.FullName, certificate.ExportCertificatePem() + "\n");

            io.Out.WriteLine($"wrote {certFile}: {certificate.Subject}, self-signed, SHA-1 thumbprint {certificate.Thumbprint}");
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  valid {certificate.NotBefore.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ} to {certificate.NotAfter.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}"));
            io.Out.WriteLine($"wrote {keyFile}: RSA-2048 private key, {(secret is null ? "unencrypted" : "password-encrypted")} PKCS#8 PEM");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static void WritePrivate(FileInfo file, string pem)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(file.FullName, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(pem);
            writer.Write('\n');
        }

        if (!OperatingSystem.IsWindows())
        {
            // An existing file keeps its mode on open; tighten it either way.
            File.SetUnixFileMode(file.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
