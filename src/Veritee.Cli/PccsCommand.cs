using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Pccs;
using Veritee.Service;

namespace Veritee.Cli;

/// <summary>
/// <c>veritee pccs collect|fetch|get|put</c>: the air-gapped PCCS workflow of Intel's <c>pcsclient</c> and
/// <c>pccsadmin</c> (the air-gapped flow of Intel's PCCS), with Intel's file formats, and every fetched item verified before it is written.
/// </summary>
internal static class PccsCommand
{
    /// <summary>Environment variable holding the PCCS admin token (instead of --admin-token-file).</summary>
    public const string AdminTokenVariable = "VERITEE_PCCS_ADMIN_TOKEN";

    /// <summary>Environment variable holding the Intel PCS API key (instead of --api-key-file).</summary>
    public const string ApiKeyVariable = "VERITEE_PCS_API_KEY";

    private const string PcsDefault = "https://api.trustedservices.intel.com/sgx/certification/v4/";

    public static Command Create(CliIo io)
    {
        var command = new Command("pccs", "Air-gapped PCCS tooling (Intel pcsclient/pccsadmin equivalents, Intel's platform_list.json and platform_collaterals.json formats).");
        command.Subcommands.Add(Collect(io));
        command.Subcommands.Add(Fetch(io));
        command.Subcommands.Add(Get(io));
        command.Subcommands.Add(Put(io));
        return command;
    }

    private static Command Collect(CliIo io)
    {
        var dir = new Option<DirectoryInfo>("--dir", "-d") { Description = "Folder of PCKIDRetrievalTool CSV files (EncryptedPPID,PCE_ID,CPUSVN,PCE_ISVSVN,QE_ID[,PLATFORM_MANIFEST]).", Required = true };
        var output = Output("platform_list.json");
        var force = Force();
        var command = new Command("collect", "Gather PCKIDRetrievalTool CSV files into platform_list.json (pcsclient collect). Exit 0 written, 2 input error (names the file and line).");
        command.Options.Add(dir);
        command.Options.Add(output);
        command.Options.Add(force);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var folder = parse.GetValue(dir)!;
            if (!folder.Exists)
            {
                throw new CliException($"--dir: no such folder: {folder.FullName}");
            }

            var platforms = new List<PlatformEntry>();
            foreach (var file in folder.GetFiles("*.csv").OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                if (file.Length > 4 * 1024 * 1024)
                {
                    throw new CliException($"{file.FullName}: {file.Length} bytes; a PCKIDRetrievalTool CSV is a few KiB");
                }

                var lines = File.ReadAllLines(file.FullName);
                for (var i = 0; i < lines.Length; i++)
                {
                    if (string.IsNullOrWhiteSpace(lines[i]))
                    {
                        continue;
                    }

                    var fields = lines[i].Split(',').Select(f => f.Trim()).ToArray();
                    if (fields.Length is not (5 or 6))
                    {
                        throw new CliException($"{file.FullName}:{i + 1}: {fields.Length} fields; 5 or 6 expected (EncryptedPPID,PCE_ID,CPUSVN,PCE_ISVSVN,QE_ID[,PLATFORM_MANIFEST])");
                    }

                    var entry = new PlatformEntry(fields[4], fields[1], fields[2], fields[3], fields[0], fields.Length == 6 ? fields[5] : "", Path.GetFileNameWithoutExtension(file.Name));
                    try
                    {
                        entry.Validate("platform");
                    }
                    catch (DcapFormatException e)
                    {
                        throw new CliException($"{file.FullName}:{i + 1}: {e.Message}");
                    }

                    platforms.Add(entry);
                }
            }

            if (platforms.Count == 0)
            {
                throw new CliException($"--dir: no platform in the *.csv files of {folder.FullName}");
            }

            var path = parse.GetValue(output)!.FullName;
            WritePrivate(path, PlatformListFile.Write(platforms), parse.GetValue(force));
            io.Out.WriteLine($"pccs collect: {platforms.Count} platform(s) written to {path}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Fetch(CliIo io)
    {
        var input = new Option<FileInfo>("--input", "-i") { Description = "platform_list.json (from 'veritee pccs collect|get', pcsclient collect or pccsadmin get).", Required = true };
        var output = Output("platform_collaterals.json");
        var pcs = new Option<string>("--pcs") { Description = $"Intel PCS (or another PCCS) to fetch from (default {PcsDefault}).", DefaultValueFactory = _ => PcsDefault };
        var apiKeyFile = new Option<FileInfo?>("--api-key-file") { Description = $"File holding the Intel PCS API key (default: ${ApiKeyVariable}; none: no key header is sent)." };
        var update = new Option<string>("--update", "-t") { Description = "TCB Info and identity update types: standard, early or all.", DefaultValueFactory = _ => "standard" };
        var rootCrl = new Option<string>("--root-ca-crl") { Description = "Where to fetch the root CA CRL: absolute URL, or a path under --pcs.", DefaultValueFactory = _ => PcsCollateralSourceOptions.IntelRootCaCrl.AbsoluteUri };
        var anchor = new Option<FileInfo?>("--trust-anchor") { Description = "PEM certificate or public key replacing the Intel SGX Root CA public key for verification." };
        var force = Force();
        var command = new Command(
            "fetch",
            "Fetch from PCS everything an offline PCCS needs for the listed platforms (PCK certificates, TCB Infos of their FMSPCs and every FMSPC PCS lists, " +
            "PCK and root CRLs, QE/QvE/TD-QE identities) into platform_collaterals.json (pcsclient fetch), verifying every chain, CRL and signature first; " +
            "written with mode 0600. Exit 0 written, 1 fetched collateral failed verification (nothing written), 2 input, PCS or connection error.");
        foreach (var option in new Option[] { input, output, pcs, apiKeyFile, update, rootCrl, anchor, force })
        {
            command.Options.Add(option);
        }

        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            var platforms = ReadPlatformList(parse.GetValue(input)!);
            var updates = parse.GetValue(update)!.ToLowerInvariant() switch
            {
                "standard" => new[] { "standard" },
                "early" => ["early"],
                "all" => ["standard", "early"],
                var other => throw new CliException($"--update: '{other}' is not standard, early or all"),
            };
            var baseUri = Url(parse.GetValue(pcs)!, "--pcs");
            var key = Secret(parse.GetValue(apiKeyFile), ApiKeyVariable, "--api-key-file", io);
            var trust = LoadAnchor(parse.GetValue(anchor));
            using var http = PcsCollateralSource.CreateHttpClient(TimeSpan.FromSeconds(120));
            var client = new PcsPckClient(http, new PcsPckClientOptions { BaseAddress = baseUri, ApiKey = key, RequestTimeout = TimeSpan.FromSeconds(120) });
            var notes = new List<string>();
            var file = await FetchAllAsync(notes, client, platforms, updates, new Uri(PcsPckClient.Root(baseUri), parse.GetValue(rootCrl)!), cancellationToken).ConfigureAwait(false);

            var verdict = PccsIngest.Verify(file, trust, DateTimeOffset.UtcNow);
            if (!verdict.IsValid)
            {
                throw new CliException($"pccs fetch: refused, nothing written: {verdict.Message}", ExitCodes.Negative);
            }

            // Notes only with a result: a failure stays one line on stderr.
            foreach (var note in notes)
            {
                io.Error.WriteLine("pccs fetch: note: " + note);
            }

            if (verdict.ExpiryFindings.Count > 0)
            {
                io.Error.WriteLine($"pccs fetch: note: {verdict.ExpiryFindings.Count} item(s) are past nextUpdate/notAfter as PCS served them, e.g. {verdict.ExpiryFindings[0]}");
            }

            var path = parse.GetValue(output)!.FullName;
            WritePrivate(path, file.Write(), parse.GetValue(force));
            io.Out.WriteLine(
                $"pccs fetch: {file.PckCertificates.Count} platform(s), {file.PckCertificates.Sum(p => p.Certificates.Count)} PCK certificate(s), " +
                $"{file.TcbInfos.Count} FMSPC(s) verified and written to {path}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static async Task<PlatformCollateralFile> FetchAllAsync(List<string> notes, PcsPckClient client, IReadOnlyList<PlatformEntry> platforms, string[] updates, Uri rootCrlUrl, CancellationToken cancellationToken)
    {
        var pckCerts = new List<PlatformPckCertificates>();
        var platformFmspcs = new SortedSet<string>(StringComparer.Ordinal);
        string? processorChain = null, platformChain = null;
        var notAvailable = 0;
        foreach (var p in platforms)
        {
            var response = await Pcs(() => p.PlatformManifest.Length > 0
                ? client.GetPckCertificatesByManifestAsync(p.PlatformManifest, p.PceId, cancellationToken)
                : client.GetPckCertificatesAsync(p.EncPpid, p.PceId, cancellationToken), $"platform qe_id {p.QeId}").ConfigureAwait(false);
            notAvailable += response.Certificates.Count(c => c.CertificatePem is null);
            pckCerts.Add(new PlatformPckCertificates(p.QeId, p.PceId, p.EncPpid, p.PlatformManifest, [.. response.Certificates.Where(c => c.CertificatePem is not null)]));
            platformFmspcs.Add(response.Fmspc);
            if (response.CaType == "PLATFORM")
            {
                platformChain ??= response.IssuerChain;
            }
            else
            {
                processorChain ??= response.IssuerChain;
            }
        }

        if (notAvailable > 0)
        {
            notes.Add($"PCS lists {notAvailable} TCB level(s) as \"Not available\"; they are left out (Intel's PCCS refuses them on import)");
        }

        var allFmspcs = new SortedSet<string>(platformFmspcs, StringComparer.Ordinal);
        try
        {
            allFmspcs.UnionWith(await client.GetFmspcsAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (CollateralFetchException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            notes.Add("the service has no FMSPC list (fmspcs: HTTP 404); fetching TCB Infos for the listed platforms' FMSPCs only");
        }

        var tcbInfos = new List<FmspcTcbInfos>();
        string? tcbChain = null;
        foreach (var fmspc in allFmspcs)
        {
            byte[]? sgx = null, sgxEarly = null, tdx = null, tdxEarly = null;
            foreach (var update in updates)
            {
                var own = platformFmspcs.Contains(fmspc);
                var sgxItem = await Optional(() => client.GetTcbInfoAsync(false, fmspc, update, cancellationToken), required: own, $"SGX TCB Info of FMSPC {fmspc} ({update})").ConfigureAwait(false);
                var tdxItem = await Optional(() => client.GetTcbInfoAsync(true, fmspc, update, cancellationToken), required: false, $"TDX TCB Info of FMSPC {fmspc} ({update})").ConfigureAwait(false);
                tcbChain ??= sgxItem?.IssuerChain ?? tdxItem?.IssuerChain;
                if (update == "early")
                {
                    (sgxEarly, tdxEarly) = (sgxItem?.Body, tdxItem?.Body);
                }
                else
                {
                    (sgx, tdx) = (sgxItem?.Body, tdxItem?.Body);
                }
            }

            if (sgx is not null || sgxEarly is not null || tdx is not null || tdxEarly is not null)
            {
                tcbInfos.Add(new FmspcTcbInfos(fmspc, sgx, tdx, sgxEarly, tdxEarly));
            }
        }

        var processorCrl = await Pcs(() => client.GetPckCrlAsync("processor", cancellationToken), "processor PCK CRL").ConfigureAwait(false);
        var platformCrl = await Pcs(() => client.GetPckCrlAsync("platform", cancellationToken), "platform PCK CRL").ConfigureAwait(false);
        var identities = new Dictionary<string, PcsItem?>(StringComparer.Ordinal);
        string? identityChain = null;
        foreach (var update in updates)
        {
            foreach (var id in new[] { "QE", "QVE", "TD_QE" })
            {
                var item = await Optional(() => client.GetEnclaveIdentityAsync(id, update, cancellationToken), required: id == "QE", $"{id} identity ({update})").ConfigureAwait(false);
                identities[$"{id}/{update}"] = item;
                identityChain ??= item?.IssuerChain;
            }
        }

        var rootCrl = await Pcs(() => client.GetRootCaCrlAsync(rootCrlUrl, cancellationToken), "root CA CRL").ConfigureAwait(false);
        byte[]? Identity(string id, string update) => identities.TryGetValue($"{id}/{update}", out var item) ? item?.Body : null;
        return new PlatformCollateralFile
        {
            Version = 4,
            Platforms = platforms,
            PckCertificates = pckCerts,
            TcbInfos = tcbInfos,
            ProcessorCrl = Der(processorCrl.Body, "processor PCK CRL"),
            PlatformCrl = Der(platformCrl.Body, "platform PCK CRL"),
            QeIdentity = Identity("QE", "standard"),
            QveIdentity = Identity("QVE", "standard"),
            TdQeIdentity = Identity("TD_QE", "standard"),
            QeIdentityEarly = Identity("QE", "early"),
            QveIdentityEarly = Identity("QVE", "early"),
            TdQeIdentityEarly = Identity("TD_QE", "early"),
            PckIssuerChainProcessor = processorChain ?? processorCrl.IssuerChain,
            PckIssuerChainPlatform = platformChain ?? platformCrl.IssuerChain,
            TcbInfoIssuerChain = tcbChain,
            EnclaveIdentityIssuerChain = identityChain,
            RootCaCrl = Der(rootCrl.Body, "root CA CRL"),
            RootCaCrlCdp = rootCrlUrl.AbsoluteUri,
        };
    }

    private static Command Get(CliIo io)
    {
        var url = PccsUrl();
        var source = new Option<string>("--source", "-s") { Description = "reg (the registration queue; PCCS empties it), reg_na (\"Not available\" levels), or a bracketed FMSPC list ([] = every cached platform).", DefaultValueFactory = _ => "reg" };
        var output = Output("platform_list.json");
        var (tokenFile, ca) = (AdminTokenFile(), CaOption());
        var force = Force();
        var command = new Command("get", "Download a PCCS's platform list (GET /platforms; pccsadmin get) into platform_list.json, written with mode 0600. Exit 0 written, 1 refused by the PCCS, 2 input, authentication or connection error.");
        foreach (var option in new Option[] { url, source, output, tokenFile, ca, force })
        {
            command.Options.Add(option);
        }

        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            var value = parse.GetValue(source)!;
            if (value is not ("reg" or "reg_na") && !(value.StartsWith('[') && value.EndsWith(']') &&
                value[1..^1].Split(',', StringSplitOptions.RemoveEmptyEntries).All(f => f.Trim().Length == 12 && f.Trim().All(char.IsAsciiHexDigit))))
            {
                throw new CliException($"--source: '{value}' is not reg, reg_na or a bracketed list of 12-hex FMSPCs such as [00906ED50000]");
            }

            var token = Secret(parse.GetValue(tokenFile), AdminTokenVariable, "--admin-token-file", io)
                ?? throw new CliException($"an admin token is needed: --admin-token-file or ${AdminTokenVariable}");
            var target = new Uri(PcsPckClient.Root(Url(parse.GetValue(url)!, "--url")), "sgx/certification/v4/platforms?source=" + Uri.EscapeDataString(value));
            using var http = PccsHttp(parse.GetValue(ca));
            using var request = new HttpRequestMessage(HttpMethod.Get, target);
            request.Headers.TryAddWithoutValidation("admin-token", token);
            var (body, count) = await SendAsync(http, request, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<PlatformEntry> platforms;
            try
            {
                platforms = PlatformListFile.Read(body);
            }
            catch (DcapFormatException e)
            {
                throw new CliException($"GET {target}: the answer is not a platform list: {e.Message}");
            }

            var path = parse.GetValue(output)!.FullName;
            WritePrivate(path, PlatformListFile.Write(platforms), parse.GetValue(force));
            io.Out.WriteLine($"pccs get: {platforms.Count} platform(s){(count is null ? "" : $" (platform-count {count})")} written to {path}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Put(CliIo io)
    {
        var url = PccsUrl();
        var input = new Option<FileInfo>("--input", "-i") { Description = "platform_collaterals.json (from 'veritee pccs fetch' or pcsclient fetch).", Required = true };
        var anchor = new Option<FileInfo?>("--trust-anchor") { Description = "PEM certificate or public key replacing the Intel SGX Root CA public key for the check before sending." };
        var (tokenFile, ca) = (AdminTokenFile(), CaOption());
        var command = new Command(
            "put",
            "Import platform_collaterals.json into a PCCS (PUT /platformcollateral; pccsadmin put), after verifying every chain, CRL and signature in it. " +
            "Exit 0 imported, 1 the file failed verification (nothing sent) or the PCCS refused it, 2 input, authentication or connection error.");
        foreach (var option in new Option[] { url, input, anchor, tokenFile, ca })
        {
            command.Options.Add(option);
        }

        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            var file = parse.GetValue(input)!;
            if (file.Length > PlatformCollateralFile.MaxBytes)
            {
                throw new CliException($"{file.FullName}: {file.Length} bytes exceed the {PlatformCollateralFile.MaxBytes}-byte limit");
            }

            var bytes = File.ReadAllBytes(file.FullName);
            PlatformCollateralFile collateral;
            try
            {
                collateral = PlatformCollateralFile.Read(bytes);
            }
            catch (DcapFormatException e)
            {
                throw new CliException($"{file.FullName}: {e.Message}");
            }

            var verdict = PccsIngest.Verify(collateral, LoadAnchor(parse.GetValue(anchor)), DateTimeOffset.UtcNow);
            if (!verdict.IsValid)
            {
                throw new CliException($"pccs put: {file.FullName} refused, nothing sent: {verdict.Message}", ExitCodes.Negative);
            }

            var token = Secret(parse.GetValue(tokenFile), AdminTokenVariable, "--admin-token-file", io)
                ?? throw new CliException($"an admin token is needed: --admin-token-file or ${AdminTokenVariable}");
            var target = new Uri(PcsPckClient.Root(Url(parse.GetValue(url)!, "--url")), "sgx/certification/v4/platformcollateral");
            using var http = PccsHttp(parse.GetValue(ca));
            using var request = new HttpRequestMessage(HttpMethod.Put, target) { Content = new ByteArrayContent(bytes) };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("admin-token", token);
            await SendAsync(http, request, cancellationToken).ConfigureAwait(false);
            io.Out.WriteLine($"pccs put: {collateral.PckCertificates.Count} platform(s), {collateral.TcbInfos.Count} FMSPC(s) imported into {target}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Option<FileInfo> Output(string defaultName) =>
        VeriteeCommand.WritesFile(new Option<FileInfo>("--output", "-o") { Description = $"The file to write (default ./{defaultName}); created with mode 0600.", DefaultValueFactory = _ => new FileInfo(defaultName) });

    private static Option<bool> Force() => new("--force") { Description = "Replace the output file if it exists." };

    private static Option<string> PccsUrl() => new("--url", "-u") { Description = "The PCCS (https://host:8081, optionally ending in /sgx/certification/v4/).", Required = true };

    private static Option<FileInfo?> AdminTokenFile() => new("--admin-token-file") { Description = $"File holding the PCCS admin token (default: ${AdminTokenVariable}); never given on the command line." };

    private static Option<FileInfo?> CaOption() => new("--ca") { Description = "PEM certificate(s) to trust for the PCCS's TLS certificate (a self-signed PCCS), besides the system's CAs." };

    private static IReadOnlyList<PlatformEntry> ReadPlatformList(FileInfo file)
    {
        if (file.Length > PlatformListFile.MaxBytes)
        {
            throw new CliException($"{file.FullName}: {file.Length} bytes exceed the {PlatformListFile.MaxBytes}-byte limit");
        }

        try
        {
            var list = PlatformListFile.Read(File.ReadAllBytes(file.FullName));
            return list.Count > 0 ? list : throw new CliException($"{file.FullName}: no platforms");
        }
        catch (DcapFormatException e)
        {
            throw new CliException($"{file.FullName}: {e.Message}");
        }
    }

    private static Uri Url(string text, string option) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new CliException($"{option}: '{text}' is not an http(s) URL");

    /// <summary>A secret from a file (trimmed) or the environment; null when neither is set. Warns when the file is open to others.</summary>
    private static string? Secret(FileInfo? file, string variable, string option, CliIo io)
    {
        string? value;
        if (file is not null)
        {
            if (file.Length > 4096)
            {
                throw new CliException($"{option}: {file.FullName} is {file.Length} bytes; a token or key is a short line");
            }

            if (PrivateFiles.Exposure(file.FullName) is { } exposure)
            {
                io.Error.WriteLine($"veritee: warning: {exposure}");
            }

            value = File.ReadAllText(file.FullName).Trim();
            if (value.Length == 0)
            {
                throw new CliException($"{option}: {file.FullName} is empty");
            }
        }
        else
        {
            value = Environment.GetEnvironmentVariable(variable)?.Trim();
        }

        if (value is { Length: > 0 } && value.Any(c => c < 0x21 || c > 0x7E))
        {
            throw new CliException($"{option}: the secret holds whitespace or non-ASCII characters; it cannot travel in an HTTP header");
        }

        return string.IsNullOrEmpty(value) ? null : value;
    }

    private static TrustAnchor LoadAnchor(FileInfo? file)
    {
        if (file is null)
        {
            return TrustAnchor.IntelSgxRootCa;
        }

        try
        {
            return TrustAnchor.Load(File.ReadAllBytes(file.FullName), file.Name);
        }
        catch (DcapFormatException e)
        {
            throw new CliException($"--trust-anchor: {e.Message}");
        }
    }

    private static byte[] Der(byte[] crl, string what)
    {
        try
        {
            return Veritee.Dcap.X509.CertificateRevocationList.Normalize(crl);
        }
        catch (DcapFormatException e)
        {
            throw new CliException($"pccs fetch: {what} is in no known encoding: {e.Message}");
        }
    }

    private static async Task<T> Pcs<T>(Func<Task<T>> fetch, string what)
    {
        try
        {
            return await fetch().ConfigureAwait(false);
        }
        catch (CollateralFetchException e)
        {
            throw new CliException($"pccs fetch: {what}: {e.Message}");
        }
    }

    /// <summary>An item PCS may lack (HTTP 404: e.g. no TDX TCB Info for an SGX-only FMSPC); required ones fail on 404 too.</summary>
    private static async Task<PcsItem?> Optional(Func<Task<PcsItem>> fetch, bool required, string what)
    {
        try
        {
            return await fetch().ConfigureAwait(false);
        }
        catch (CollateralFetchException e) when (!required && e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (CollateralFetchException e)
        {
            throw new CliException($"pccs fetch: {what}: {e.Message}");
        }
    }

    private static void WritePrivate(string path, byte[] content, bool force)
    {
        if (File.Exists(path))
        {
            if (!force)
            {
                throw new CliException($"{path}: already exists (--force replaces it)");
            }

            File.Delete(path);
        }

        if (Path.GetDirectoryName(path) is { Length: > 0 } folder && !Directory.Exists(folder))
        {
            throw new CliException($"{folder}: no such folder");
        }

        if (!PrivateFiles.TryCreate(path, content))
        {
            throw new CliException($"{path}: already exists");
        }
    }

    private static HttpClient PccsHttp(FileInfo? caFile)
    {
        X509Certificate2Collection? trusted = null;
        if (caFile is not null)
        {
            trusted = [];
            try
            {
                trusted.ImportFromPemFile(caFile.FullName);
            }
            catch (System.Security.Cryptography.CryptographicException e)
            {
                throw new CliException($"--ca: {caFile.FullName}: {e.Message}");
            }

            if (trusted.Count == 0)
            {
                throw new CliException($"--ca: {caFile.FullName} holds no PEM certificate");
            }
        }

#pragma warning disable CA2000 // The client owns the handler (disposeHandler: true).
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(30) };
        if (trusted is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (errors == SslPolicyErrors.None)
                {
                    return true;
                }

                // The name must match; only the issuer may be the operator's own CA (or the self-signed certificate itself).
                if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(leaf);
            };
        }

        return new HttpClient(handler, disposeHandler: true) { Timeout = TimeSpan.FromSeconds(120) };
#pragma warning restore CA2000
    }

    /// <summary>Sends a PCCS admin request; a non-200 answer becomes one line with Intel's plain-text reason.</summary>
    private static async Task<(byte[] Body, string? PlatformCount)> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var what = $"{request.Method} {request.RequestUri}";
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var body = await ReadBoundedAsync(response, PlatformListFile.MaxBytes, what, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                var text = Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 300))).Trim();
                var code = (int)response.StatusCode;
                var refused = code is >= 400 and < 500 && response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden);
                throw new CliException($"{what}: HTTP {code.ToString(CultureInfo.InvariantCulture)}{(text.Length > 0 ? ": " + text : "")}", refused ? ExitCodes.Negative : ExitCodes.UsageOrInput);
            }

            var count = response.Headers.TryGetValues("platform-count", out var values) ? values.FirstOrDefault() : null;
            return (body, count);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"{what}: cannot reach the PCCS: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"{what}: the PCCS did not answer in time");
        }
    }

    private static Task<byte[]> ReadBoundedAsync(HttpResponseMessage response, int max, string what, CancellationToken cancellationToken) =>
        Veritee.Dcap.Collateral.BoundedContent.ReadAsync(response.Content, max, declared => new CliException(declared is { } length
            ? $"{what}: the answer of {length} bytes exceeds the {max}-byte limit"
            : $"{what}: the answer exceeds the {max}-byte limit"), cancellationToken);
}
