using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Veritee.Dcap;
using Veritee.Dcap.X509;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>
/// A simulated SGX and TDX machine: its own PKI shaped like Intel's (root CA, PCK Processor CA, PCK certificate with
/// the SGX extension, TCB Signing certificate), quoting enclaves (QE, TD QE) with a persistent attestation key, a TDX
/// module described by its <see cref="PlatformProfile"/>, and a default enclave signer key. The state lives in a folder (keys as PKCS#8 PEM, certificates as PEM, parameters in
/// <c>platform.json</c>) so quotes made in one run verify with collateral issued in another.
/// Quotes from this platform verify only under its own root key (<see cref="TrustAnchor"/>), never under Intel's.
/// </summary>
public sealed class SimulatedPlatform : IDisposable
{
    /// <summary>Format tag written in <c>platform.json</c>.</summary>
    public const string FormatName = "veritee-simulated-sgx-platform";

    /// <summary>The <c>platform.json</c> format version this code reads and writes.</summary>
    public const int FormatVersion = 1;

    /// <summary>The state file names, in the order they are checked.</summary>
    public static readonly IReadOnlyList<string> StateFiles =
    [
        "platform.json", "root-ca.cert.pem", "root-ca.key.pem", "pck-processor-ca.cert.pem", "pck-processor-ca.key.pem",
        "tcb-signing.cert.pem", "tcb-signing.key.pem", "pck.cert.pem", "pck.key.pem", "attestation-key.pem", "enclave-signer.key.pem",
    ];

    /// <summary>The state files holding private keys (the service refuses to start when other users can open one).</summary>
    public static readonly IReadOnlyList<string> SecretFiles =
        ["root-ca.key.pem", "pck-processor-ca.key.pem", "tcb-signing.key.pem", "pck.key.pem", "attestation-key.pem", "enclave-signer.key.pem"];

    private SimulatedPlatform(string folder, PlatformProfile profile, Credential root, Credential processorCa, Credential tcbSigning, Credential pck, ECDsa attestationKey, RSA enclaveSigner)
    {
        Folder = folder;
        Profile = profile;
        Root = root;
        ProcessorCa = processorCa;
        TcbSigning = tcbSigning;
        Pck = pck;
        AttestationKey = attestationKey;
        EnclaveSignerKey = enclaveSigner;
    }

    /// <summary>
    /// The default state folder, shared with <c>veritee serve --simulation</c>: <c>$VERITEE_PLATFORM_DIR</c> when set,
    /// else <c>~/.veritee/platform</c>.
    /// </summary>
    public static string DefaultFolder =>
        Environment.GetEnvironmentVariable("VERITEE_PLATFORM_DIR") is { Length: > 0 } overridden
            ? overridden
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".veritee", "platform");

    /// <summary>The state folder.</summary>
    public string Folder { get; }

    /// <summary>The platform's certified TCB and identifiers.</summary>
    public PlatformProfile Profile { get; }

    /// <summary>The simulated root CA ("Veritee Simulated SGX Root CA").</summary>
    internal Credential Root { get; }

    /// <summary>The PCK Processor CA.</summary>
    internal Credential ProcessorCa { get; }

    /// <summary>The TCB Signing certificate that signs TCB Info and QE Identity.</summary>
    internal Credential TcbSigning { get; }

    /// <summary>The PCK certificate that signs QE reports.</summary>
    internal Credential Pck { get; }

    /// <summary>The quoting enclave's attestation key (P-256).</summary>
    internal ECDsa AttestationKey { get; }

    /// <summary>The default enclave signer key (RSA-3072, as SGX SIGSTRUCT); MRSIGNER derives from it.</summary>
    public RSA EnclaveSignerKey { get; }

    /// <summary>The root certificate as PEM: write it as <c>trust_anchor.pem</c> for <c>veritee verify --trust-anchor</c>.</summary>
    public string RootCertificatePem => Root.Certificate.ExportCertificatePem() + "\n";

    /// <summary>The root certificate.</summary>
    public X509Certificate2 RootCertificate => Root.Certificate;

    /// <summary>The PCK certificate.</summary>
    public X509Certificate2 PckCertificate => Pck.Certificate;

    /// <summary>The trust anchor (root public key) under which this platform's quotes and collateral verify.</summary>
    public TrustAnchor TrustAnchor => TrustAnchor.FromPoint(DcapCertificate.Parse(Root.Certificate.RawData).PublicKey.Point, "Veritee simulated SGX root");

    /// <summary>The PEM chain PCK ‖ Processor CA ‖ root, NUL-terminated: certification data type 5.</summary>
    public byte[] PckChainPem => Encoding.ASCII.GetBytes(
        Pck.Certificate.ExportCertificatePem() + "\n" + ProcessorCa.Certificate.ExportCertificatePem() + "\n" + Root.Certificate.ExportCertificatePem() + "\n\0");

    /// <summary>True when <paramref name="folder"/> holds no state file at all (absent or without any of <see cref="StateFiles"/>).</summary>
    public static bool IsEmpty(string folder) => !Directory.Exists(folder) || !StateFiles.Any(f => File.Exists(Path.Combine(folder, f)));

    /// <summary>Loads the platform in <paramref name="folder"/>, or creates one there when the folder holds no state.</summary>
    public static SimulatedPlatform LoadOrCreate(string folder, DateTimeOffset now, out bool created)
    {
        created = IsEmpty(folder);
        return created ? Create(folder, now) : Load(folder);
    }

    /// <summary>
    /// Creates a new platform (fresh keys, certificates valid from <paramref name="now"/> minus a day) and writes it
    /// to <paramref name="folder"/>. Refuses to overwrite existing state.
    /// </summary>
    public static SimulatedPlatform Create(string folder, DateTimeOffset now, PlatformProfile? profile = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!IsEmpty(folder))
        {
            throw new PlatformStateException(folder, "already holds a simulated platform; remove the folder first to create a new one");
        }

        profile ??= PlatformProfile.CreateDefault();
        profile.Validate();
        var start = now.AddDays(-1);
        var rootKey = SimulatedPki.NewKey();
        var root = new Credential(SimulatedPki.Issue(PkiRole.Root, rootKey, null, rootKey, start, start.AddYears(30)), rootKey);
        var caKey = SimulatedPki.NewKey();
        var ca = new Credential(SimulatedPki.Issue(PkiRole.ProcessorCa, caKey, root.Certificate, rootKey, start, start.AddYears(15)), caKey);
        var tcbKey = SimulatedPki.NewKey();
        var tcb = new Credential(SimulatedPki.Issue(PkiRole.TcbSigning, tcbKey, root.Certificate, rootKey, start, start.AddYears(7)), tcbKey);
        var pckKey = SimulatedPki.NewKey();
        var pck = new Credential(SimulatedPki.Issue(PkiRole.Pck, pckKey, ca.Certificate, caKey, start, start.AddYears(7), SimulatedPki.SgxExtension(profile)), pckKey);
        var platform = new SimulatedPlatform(Path.GetFullPath(folder), profile, root, ca, tcb, pck, SimulatedPki.NewKey(), RSA.Create(3072));
        platform.Save();
        return platform;
    }

    /// <summary>
    /// A platform of another family under this platform's root, PCK Processor CA and TCB Signing key, as Intel's
    /// platforms share Intel's: a new PCK key and certificate certifying <paramref name="profile"/> (its FMSPC and TCB),
    /// a new attestation key, and this platform's enclave signer. Kept in memory only (nothing is written; its
    /// <see cref="Folder"/> is this platform's); disposing it leaves the shared keys to this platform. Benchmarks and
    /// tests use it to stand for many platforms that one trust anchor covers.
    /// </summary>
    public SimulatedPlatform CreateSibling(PlatformProfile profile, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(profile);
        profile.Validate();
        var start = now.AddDays(-1);
        var pckKey = SimulatedPki.NewKey();
        var pck = new Credential(SimulatedPki.Issue(PkiRole.Pck, pckKey, ProcessorCa.Certificate, ProcessorCa.Key, start, start.AddYears(7), SimulatedPki.SgxExtension(profile)), pckKey);
        return new SimulatedPlatform(Folder, profile, Root, ProcessorCa, TcbSigning, pck, SimulatedPki.NewKey(), EnclaveSignerKey) { _sharesIssuers = true };
    }

    /// <summary>Loads the platform in <paramref name="folder"/>; throws <see cref="PlatformStateException"/> naming what is missing or corrupt.</summary>
    public static SimulatedPlatform Load(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        folder = Path.GetFullPath(folder);
        if (!Directory.Exists(folder))
        {
            throw new PlatformStateException(folder, "does not exist; create it with 'veritee platform init'");
        }

        foreach (var name in StateFiles)
        {
            if (!File.Exists(Path.Combine(folder, name)))
            {
                throw new PlatformStateException(Path.Combine(folder, name), "is missing (incomplete platform state; remove the folder and run 'veritee platform init')");
            }
        }

        var profile = ReadProfile(Path.Combine(folder, "platform.json"));
        var root = ReadCredential(folder, "root-ca", SimulatedPki.RootCommonName, issuer: null);
        var ca = ReadCredential(folder, "pck-processor-ca", SimulatedPki.ProcessorCaCommonName, root);
        var tcb = ReadCredential(folder, "tcb-signing", SimulatedPki.TcbSigningCommonName, root);
        var pck = ReadCredential(folder, "pck", SimulatedPki.PckCommonName, ca);
        var pckPath = Path.Combine(folder, "pck.cert.pem");
        var extension = DcapCertificate.Parse(pck.Certificate.RawData).SgxExtension
            ?? throw new PlatformStateException(pckPath, "has no SGX extension");
        try
        {
            var parsed = PckCertificateExtension.Parse(extension);
            if (!parsed.Fmspc.AsSpan().SequenceEqual(profile.Fmspc) || !parsed.PceId.AsSpan().SequenceEqual(profile.PceId) ||
                parsed.PceSvn != profile.PceSvn || !parsed.TcbComponentSvns.AsSpan().SequenceEqual(profile.TcbComponents))
            {
                throw new PlatformStateException(pckPath, "certifies a different FMSPC, PCE-ID or TCB than platform.json");
            }
        }
        catch (SgxFormatException e)
        {
            throw new PlatformStateException(pckPath, "SGX extension is malformed: " + e.Message, e);
        }

        var attestationKey = ReadEcKey(Path.Combine(folder, "attestation-key.pem"));
        var signer = ReadRsaKey(Path.Combine(folder, "enclave-signer.key.pem"));
        return new SimulatedPlatform(folder, profile, root, ca, tcb, pck, attestationKey, signer);
    }

    /// <summary>
    /// The quote (version 3 or 4, SGX) of <paramref name="enclave"/> with <paramref name="reportData"/> (at most 64
    /// bytes, zero-padded), signed by this platform's quoting enclave.
    /// </summary>
    public byte[] Quote(SimulatedEnclave enclave, ReadOnlySpan<byte> reportData, int version = 3)
    {
        ArgumentNullException.ThrowIfNull(enclave);
        if (reportData.Length > 64)
        {
            throw new ArgumentException($"report data is {reportData.Length} bytes; at most 64 fit in an SGX report", nameof(reportData));
        }

        return QuotingEnclave.Quote(this, enclave.Report(Profile.CpuSvn, reportData), version);
    }

    /// <summary>
    /// The TD quote of <paramref name="td"/> with <paramref name="reportData"/> (at most 64 bytes, zero-padded), signed by
    /// this platform's TD quoting enclave: version 4 (TD 1.0 body) or 5 (TD 1.0 body type 2, or with
    /// <paramref name="td15"/> the TD 1.5 body type 3 carrying TEE_TCB_SVN2 and MRSERVICETD).
    /// </summary>
    public byte[] TdQuote(SimulatedTd td, ReadOnlySpan<byte> reportData, int version = 4, bool td15 = false)
    {
        ArgumentNullException.ThrowIfNull(td);
        if (reportData.Length > 64)
        {
            throw new ArgumentException($"report data is {reportData.Length} bytes; at most 64 fit in a TD report", nameof(reportData));
        }

        if (version is not (4 or 5))
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, "TD quotes are version 4 or 5");
        }

        if (td15 && version != 5)
        {
            throw new ArgumentException("a TD 1.5 report needs quote version 5 (version 4 holds TD 1.0 reports only)", nameof(td15));
        }

        return QuotingEnclave.TdQuote(this, td.Report(Profile, reportData, td15), version);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Pck.Dispose();
        AttestationKey.Dispose();
        if (_sharesIssuers)
        {
            return;
        }

        Root.Dispose();
        ProcessorCa.Dispose();
        TcbSigning.Dispose();
        EnclaveSignerKey.Dispose();
    }

    /// <summary>True for a sibling (<see cref="CreateSibling"/>): root, CAs and enclave signer belong to another platform.</summary>
    private bool _sharesIssuers;

    private void Save()
    {
        // The folder 0700 and every file 0600 from creation: the keys here sign quotes and collateral.
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(Folder);
        }
        else
        {
            Directory.CreateDirectory(Folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        Root.Write(Folder, "root-ca");
        ProcessorCa.Write(Folder, "pck-processor-ca");
        TcbSigning.Write(Folder, "tcb-signing");
        Pck.Write(Folder, "pck");
        WriteSecret(Path.Combine(Folder, "attestation-key.pem"), AttestationKey.ExportPkcs8PrivateKeyPem());
        WriteSecret(Path.Combine(Folder, "enclave-signer.key.pem"), EnclaveSignerKey.ExportPkcs8PrivateKeyPem());

        // platform.json last: its presence marks the state complete.
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("format", FormatName);
            json.WriteNumber("version", FormatVersion);
            json.WriteString("fmspc", Hex.Upper(Profile.Fmspc));
            json.WriteString("pceId", Hex.Upper(Profile.PceId));
            json.WriteNumber("pceSvn", Profile.PceSvn);
            json.WriteStartArray("tcbComponents");
            foreach (var c in Profile.TcbComponents)
            {
                json.WriteNumberValue(c);
            }

            json.WriteEndArray();
            json.WriteString("ppid", Hex.Upper(Profile.Ppid));
            json.WriteString("qeId", Hex.Upper(Profile.QeId));
            json.WriteNumber("qeSvn", Profile.QeSvn);
            json.WriteStartObject("tdx");
            json.WriteString("teeTcbSvn", Hex.Upper(Profile.TeeTcbSvn));
            json.WriteString("teeTcbSvn2", Hex.Upper(Profile.TeeTcbSvn2));
            json.WriteString("mrSeam", Hex.Upper(Profile.MrSeam));
            json.WriteString("mrSignerSeam", Hex.Upper(Profile.MrSignerSeam));
            json.WriteString("seamAttributes", Hex.Upper(Profile.SeamAttributes));
            json.WriteNumber("tdQeSvn", Profile.TdQeSvn);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        WritePrivate(Path.Combine(Folder, "platform.json"), stream.ToArray());
    }

    internal static void WriteSecret(string path, string pem) => WritePrivate(path, Encoding.ASCII.GetBytes(pem + "\n"));

    /// <summary>Writes a new file created with mode 0600 (never chmod-ed afterwards, so never readable by others).</summary>
    private static void WritePrivate(string path, byte[] content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        stream.Write(content);
    }

    private static PlatformProfile ReadProfile(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new PlatformStateException(path, "is not a JSON object");
            }

            if (Text(root, "format", path) != FormatName)
            {
                throw new PlatformStateException(path, $"\"format\" is not \"{FormatName}\"");
            }

            var version = Number(root, "version", path, int.MaxValue);
            if (version != FormatVersion)
            {
                throw new PlatformStateException(path, $"format version {version} is not supported ({FormatVersion})");
            }

            if (!root.TryGetProperty("tcbComponents", out var comps) || comps.ValueKind != JsonValueKind.Array || comps.GetArrayLength() != 16 ||
                comps.EnumerateArray().Any(c => c.ValueKind != JsonValueKind.Number || !c.TryGetByte(out _)))
            {
                throw new PlatformStateException(path, "\"tcbComponents\" must be an array of 16 integers 0..255");
            }

            var profile = new PlatformProfile
            {
                Fmspc = HexField(root, "fmspc", 6, path),
                PceId = HexField(root, "pceId", 2, path),
                PceSvn = (ushort)Number(root, "pceSvn", path, ushort.MaxValue - 1),
                TcbComponents = [.. comps.EnumerateArray().Select(c => c.GetByte())],
                Ppid = HexField(root, "ppid", 16, path),
                QeId = HexField(root, "qeId", 16, path),
                QeSvn = (ushort)Number(root, "qeSvn", path, ushort.MaxValue),
            };
            if (profile.QeSvn == 0)
            {
                throw new PlatformStateException(path, "\"qeSvn\" must be at least 1");
            }

            // "tdx" is optional: a platform.json written before TDX support gets the default TDX module.
            if (root.TryGetProperty("tdx", out var tdx))
            {
                if (tdx.ValueKind != JsonValueKind.Object)
                {
                    throw new PlatformStateException(path, "\"tdx\" is not a JSON object");
                }

                profile = profile with
                {
                    TeeTcbSvn = HexField(tdx, "teeTcbSvn", 16, path),
                    TeeTcbSvn2 = HexField(tdx, "teeTcbSvn2", 16, path),
                    MrSeam = HexField(tdx, "mrSeam", 48, path),
                    MrSignerSeam = HexField(tdx, "mrSignerSeam", 48, path),
                    SeamAttributes = HexField(tdx, "seamAttributes", 8, path),
                    TdQeSvn = (ushort)Number(tdx, "tdQeSvn", path, ushort.MaxValue),
                };
            }

            try
            {
                profile.Validate();
            }
            catch (ArgumentException e)
            {
                throw new PlatformStateException(path, e.Message, e);
            }

            return profile;
        }
        catch (JsonException e)
        {
            throw new PlatformStateException(path, "is not valid JSON: " + e.Message, e);
        }
    }

    private static string Text(JsonElement root, string name, string path) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new PlatformStateException(path, $"\"{name}\" is missing or not a string");

    private static long Number(JsonElement root, string name, string path, long max) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n >= 0 && n <= max
            ? n
            : throw new PlatformStateException(path, $"\"{name}\" is missing or not an integer in 0..{max.ToString(CultureInfo.InvariantCulture)}");

    private static byte[] HexField(JsonElement root, string name, int length, string path) =>
        Hex.TryDecode(Text(root, name, path), out var bytes) && bytes.Length == length
            ? bytes
            : throw new PlatformStateException(path, $"\"{name}\" must be {length * 2} hex digits");

    private static Credential ReadCredential(string folder, string stem, string commonName, Credential? issuer)
    {
        var certPath = Path.Combine(folder, stem + ".cert.pem");
        var keyPath = Path.Combine(folder, stem + ".key.pem");
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certPath));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new PlatformStateException(certPath, "is not a PEM certificate: " + e.Message, e);
        }

        var key = ReadEcKey(keyPath);
        DcapCertificate parsed;
        try
        {
            parsed = DcapCertificate.Parse(certificate.RawData);
        }
        catch (DcapFormatException e)
        {
            certificate.Dispose();
            key.Dispose();
            throw new PlatformStateException(certPath, e.Message, e);
        }

        if (parsed.SubjectCommonName != commonName)
        {
            throw new PlatformStateException(certPath, $"subject CN is '{parsed.SubjectCommonName}', expected '{commonName}'");
        }

        var point = new byte[65];
        point[0] = 4;
        var q = key.ExportParameters(false).Q;
        q.X!.CopyTo(point, 1);
        q.Y!.CopyTo(point, 33);
        if (!parsed.PublicKey.SameAs(point))
        {
            throw new PlatformStateException(keyPath, $"does not match the public key of {stem}.cert.pem");
        }

        var issuerParsed = issuer is null ? parsed : DcapCertificate.Parse(issuer.Certificate.RawData);
        if (!parsed.IsIssuedBy(issuerParsed))
        {
            throw new PlatformStateException(certPath, $"is not signed by {(issuer is null ? "itself" : "'" + issuerParsed.SubjectCommonName + "'")}");
        }

        return new Credential(certificate, key);
    }

    private static string ReadPrivateKeyPem(string path)
    {
        var text = File.ReadAllText(path);
        if (!PemEncoding.TryFind(text, out var fields) || text[fields.Label] != "PRIVATE KEY")
        {
            throw new PlatformStateException(path, "is not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)");
        }

        return text[fields.Location];
    }

    private static ECDsa ReadEcKey(string path)
    {
        var pem = ReadPrivateKeyPem(path);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            var parameters = key.ExportParameters(false);
            if (parameters.Curve.Oid?.Value != ECCurve.NamedCurves.nistP256.Oid.Value && parameters.Curve.Oid?.FriendlyName != "nistP256")
            {
                throw new PlatformStateException(path, "is not a P-256 key");
            }

            return key;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new PlatformStateException(path, "is not a readable EC private key: " + e.Message, e);
        }
    }

    private static RSA ReadRsaKey(string path)
    {
        var pem = ReadPrivateKeyPem(path);
        var key = RSA.Create();
        try
        {
            key.ImportFromPem(pem);
            return key.KeySize == 3072 ? key : throw new PlatformStateException(path, $"is a {key.KeySize}-bit RSA key; SGX enclave signer keys are RSA-3072");
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new PlatformStateException(path, "is not a readable RSA private key: " + e.Message, e);
        }
    }

    /// <summary>A certificate and its private key.</summary>
    internal sealed class Credential(X509Certificate2 certificate, ECDsa key) : IDisposable
    {
        public X509Certificate2 Certificate { get; } = certificate;

        public ECDsa Key { get; } = key;

        public void Write(string folder, string stem)
        {
            WritePrivate(Path.Combine(folder, stem + ".cert.pem"), Encoding.ASCII.GetBytes(Certificate.ExportCertificatePem() + "\n"));
            WriteSecret(Path.Combine(folder, stem + ".key.pem"), Key.ExportPkcs8PrivateKeyPem());
        }

        public void Dispose()
        {
            Certificate.Dispose();
            Key.Dispose();
        }
    }
}
