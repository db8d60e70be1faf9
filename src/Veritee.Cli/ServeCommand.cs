using System.CommandLine;
using System.Security.Cryptography;
using Veritee.Service;

namespace Veritee.Cli;

/// <summary><c>veritee serve</c>: the MAA-compatible attestation service.</summary>
internal static class ServeCommand
{
    public static Command Create(CliIo io)
    {
        var urls = new Option<string>("--urls") { Description = "Listen address(es), ';'-separated (default http://127.0.0.1:5080); port 0 takes a free port. Plain http:// beyond loopback draws a warning; 0.0.0.0 or [::] needs --instance-url.", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
        var data = new Option<string?>("--data") { Description = "Data folder for the SQLite store and generated secrets (default ~/.veritee); created 0700, its files 0600." };
        var instance = new Option<string?>("--instance-url") { Description = "Instance URL used as token issuer and jku prefix (default: the first --urls address, followed when it changes). When given, the store stays bound to it." };
        var trust = new Option<string>("--trust-model") { Description = "aad (changes need the admin bearer token) or isolated (changes must be signed by a policy signer).", DefaultValueFactory = _ => "aad" };
        var signers = new Option<FileInfo[]>("--policy-signer") { Description = "Isolated model: a policy-signer certificate (PEM or DER) registered on first start; repeat for more.", AllowMultipleArgumentsPerToken = false };
        var admin = new Option<string?>("--admin-token") { Description = "Bearer token for policy and signer management, in both trust models (default: $VERITEE_ADMIN_TOKEN, else, without --admin-authority, a random token written to DATA/admin-token, mode 0600)." };
        var authority = new Option<string?>("--admin-authority") { Description = "AAD model: OpenID Connect authority (issuer URL) whose access tokens authorize management." };
        var audience = new Option<string?>("--admin-audience") { Description = "Audience those tokens must carry (with --admin-authority)." };
        var roles = new Option<string[]>("--admin-role") { Description = "Role (roles claim) or scope (scp) an authority token must carry; repeat for more; required with --admin-authority." };
        var acceptTcb = new Option<string?>("--accept-tcb") { Description = "Comma-separated TCB statuses that get a token (default: every status Intel's verifier returns as verified, as MAA's default baseline), e.g. UpToDate,SWHardeningNeeded." };
        var collateral = new Option<string?>("--collateral") { Description = "Intel collateral: one bundle folder, or one sub-folder per FMSPC (the layout 'veritee verify' reads)." };
        var collateralService = new Option<string?>("--collateral-service") { Description = "Fetch Intel collateral from a PCS-compatible service: 'intel' (api.trustedservices.intel.com), 'azure' (THIM) or a PCCS base URL. Cached in the store, refreshed before nextUpdate." };
        var rootCrl = new Option<string?>("--root-ca-crl") { Description = "URL of the Intel SGX Root CA CRL (default Intel's)." };
        var pcsKey = new Option<string?>("--pcs-key") { Description = "Intel PCS subscription key (default: $VERITEE_PCS_KEY)." };
        var simulationCollateral = new Option<string?>("--simulation-collateral") { Description = "Trust a simulated platform through a collateral folder written by 'veritee platform collateral' (with trust_anchor.pem), e.g. to serve a chosen TCB status." };
        var simulation = new Option<bool>("--simulation") { Description = "Trust the simulated SGX platform in --platform and issue its collateral. Off by default. Tokens for its quotes carry veritee-simulated: true and prove nothing." };
        var platform = new Option<string?>("--platform") { Description = "Simulated platform folder (default: the one 'veritee genquote --simulate' uses, $VERITEE_PLATFORM_DIR or ~/.veritee/platform)." };
        var storeKind = new Option<string>("--store") { Description = "sqlite (embedded, in --data) or postgres (shared by several nodes; needs --connection-string).", DefaultValueFactory = _ => "sqlite" };
        var connection = new Option<string?>("--connection-string") { Description = "PostgreSQL connection string for --store postgres (default: $VERITEE_POSTGRES)." };
        var tlsCert = new Option<FileInfo?>("--tls-cert") { Description = "Certificate for https:// addresses: PKCS#12 (.pfx/.p12) or PEM with its key in --tls-key. A renewed file is served to new connections without restart; responses over https carry HSTS." };
        var tlsKey = new Option<FileInfo?>("--tls-key") { Description = "PEM private key of a PEM --tls-cert." };
        var kekFile = new Option<FileInfo?>("--key-encryption-key-file") { Description = "File with a 32-byte key (raw, hex or base64, mode 0600) that seals the instance signing key in the store (default: $VERITEE_KEK, base64 or hex; else, SQLite only, a key generated into DATA/key-encryption-key: move it to a secret store in production). Required on PostgreSQL unless --instance-key." };
        var instanceKey = new Option<FileInfo?>("--instance-key") { Description = "PKCS#12 file with the instance's RSA signing key and certificate, used instead of the store (mount the same file on every node)." };
        var instanceKeyPassword = new Option<string?>("--instance-key-password") { Description = "Password of --instance-key (default: $VERITEE_INSTANCE_KEY_PASSWORD)." };
        var defaults = new ServiceOptions { InstanceUrl = "http://127.0.0.1", DataDirectory = "." };
        var fetchTimeout = new Option<double>("--collateral-fetch-timeout") { Description = "Seconds one collateral fetch (headers and bodies) may take before it is cancelled and waiting attestations get 503.", DefaultValueFactory = _ => defaults.CollateralFetchTimeout.TotalSeconds };
        var rateLimit = new Option<int>("--rate-limit") { Description = "Requests per second one client (IP address) may send before 429 TooManyRequests with Retry-After; 0: off.", DefaultValueFactory = _ => defaults.PerClientRequestsPerSecond };
        var rateBurst = new Option<int>("--rate-burst") { Description = "Requests one client may send at once above its rate (default: one second's worth)." };
        var maxConcurrency = new Option<int>("--max-concurrency") { Description = "Requests processed at once; 0: no limit.", DefaultValueFactory = _ => defaults.MaxConcurrentRequests };
        var maxQueue = new Option<int>("--max-queue") { Description = "Requests waiting for a slot beyond --max-concurrency before 429.", DefaultValueFactory = _ => defaults.MaxQueuedRequests };
        var keyRefresh = new Option<double>("--key-refresh-interval") { Description = "Seconds between reads of the stored instance key (1-300), so that a key rolled with 'veritee store roll-key' is signed with without a restart.", DefaultValueFactory = _ => defaults.InstanceKeyRefreshInterval.TotalSeconds };
        var requestTimeout = new Option<double>("--request-timeout") { Description = "Seconds a request may take before 503 RequestTimeout; 0: no limit.", DefaultValueFactory = _ => defaults.RequestTimeout!.Value.TotalSeconds };
        var maxAttestBody = new Option<int>("--max-attest-body-kib") { Description = "Largest attestation request body in KiB.", DefaultValueFactory = _ => (int)(defaults.MaxRequestBodyBytes / 1024) };
        var maxManagementBody = new Option<int>("--max-management-body-kib") { Description = "Largest policy/certificate management request body in KiB.", DefaultValueFactory = _ => (int)(defaults.MaxManagementRequestBodyBytes / 1024) };
        var auditMaxRefused = new Option<int>("--audit-max-refused") { Description = "Refused management attempts kept in the audit trail; beyond it each new one deletes the oldest refused record (succeeded changes are always kept).", DefaultValueFactory = _ => defaults.MaxRefusedAuditRecords };
        var trustedProxies = new Option<string[]>("--trusted-proxy") { Description = "IP address of a reverse proxy (e.g. nginx) whose X-Forwarded-For names the client for rate limits and logs; repeat for more. Default: none, the header is ignored." };
        var metrics = new Option<string>("--metrics") { Description = "Prometheus scrape endpoint: on (at /metrics), off, or a path such as /internal/metrics.", DefaultValueFactory = _ => "on" };
        var otlp = new Option<string?>("--otlp-endpoint") { Description = "OpenTelemetry collector (OTLP/gRPC, e.g. http://127.0.0.1:4317) for traces and metrics; default: no traces." };
        var logLevel = new Option<string>("--log-level") { Description = "trace, debug (a line for every request), information (a line for every failed request), warning (server errors only), error, critical or none.", DefaultValueFactory = _ => "information" };
        var logFormat = new Option<string>("--log-format") { Description = "Console log format: text (one line per event) or json.", DefaultValueFactory = _ => "text" };
        var opsUrls = new Option<string?>("--ops-urls") { Description = "Serve /health/* and the metrics endpoint on these address(es) instead (';'-separated, explicit ports, e.g. http://127.0.0.1:9090); the --urls addresses then answer them 404." };
        var logClientAddress = new Option<string>("--log-client-address") { Description = "Client addresses in request logs: hash (a per-process keyed hash: one client's requests correlate, the address is not kept), on (the address) or off.", DefaultValueFactory = _ => "hash" };
        var openApi = new Option<string>("--openapi") { Description = "on (default): publish the service's OpenAPI 3.1 document at /openapi/v1.json (it describes the public MAA protocol); off: that path is 404.", DefaultValueFactory = _ => "on" };
        var openApiUi = new Option<string>("--openapi-ui") { Description = "on: also serve an interactive reference of that document at /scalar/ (everything it loads comes from this service); off (default).", DefaultValueFactory = _ => "off" };
        var command = new Command("serve", "Run the MAA-compatible attestation service (attest, policies, /certs, OpenID metadata).");
        var policyOptions = new ServePolicyOptions();
        var pccsOptions = new ServePccsOptions();
        foreach (var option in new Option[] { urls, data, instance, storeKind, connection, trust, signers, admin, authority, audience, roles, acceptTcb, collateral, collateralService, rootCrl, fetchTimeout, keyRefresh, pcsKey, simulation, platform, simulationCollateral, tlsCert, tlsKey, kekFile, instanceKey, instanceKeyPassword, rateLimit, rateBurst, maxConcurrency, maxQueue, requestTimeout, maxAttestBody, maxManagementBody, auditMaxRefused, trustedProxies, metrics, otlp, logLevel, logFormat })
        {
            command.Options.Add(option);
        }

        command.Options.Add(opsUrls);
        command.Options.Add(logClientAddress);
        command.Options.Add(openApi);
        command.Options.Add(openApiUi);
        var opsRate = new Option<int>("--ops-rate-limit") { Description = "Requests per second one client may send to /health/* and the metrics endpoint (their own budget, apart from --rate-limit); 0: off.", DefaultValueFactory = _ => defaults.OpsRequestsPerSecond };
        var opsConcurrency = new Option<int>("--ops-max-concurrency") { Description = "/health/* and metrics requests processed at once (twice as many may wait); 0: no limit.", DefaultValueFactory = _ => defaults.OpsMaxConcurrentRequests };
        command.Options.Add(opsRate);
        command.Options.Add(opsConcurrency);
        policyOptions.AddTo(command);
        pccsOptions.AddTo(command);

        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var listen = parse.GetValue(urls)!;
            var dataDir = parse.GetValue(data) ?? DefaultDataDirectory;
            var trustModel = parse.GetValue(trust)!.ToUpperInvariant() switch
            {
                "AAD" => TrustModel.Aad,
                "ISOLATED" => TrustModel.Isolated,
                var other => throw new CliException($"--trust-model must be aad or isolated, not '{other}'"),
            };
            var adminAuthority = parse.GetValue(authority);
            if ((adminAuthority is null) != (parse.GetValue(audience) is null))
            {
                throw new CliException("--admin-authority and --admin-audience go together");
            }

            // Both trust models need an authenticated caller for management (isolated: also a signed request), so
            // without an authority or a given token one is generated into DATA/admin-token in either model.
            var givenAdminToken = parse.GetValue(admin) ?? Environment.GetEnvironmentVariable("VERITEE_ADMIN_TOKEN");
            var signerCertificates = (parse.GetValue(signers) ?? []).Select(LoadSigner).ToList();
            if (trustModel == TrustModel.Aad && signerCertificates.Count > 0)
            {
                throw new CliException("--policy-signer applies to --trust-model isolated");
            }

            var listenAddresses = ListenAddress.ParseList(listen);
            var explicitInstance = parse.GetValue(instance)?.TrimEnd('/');
            var postgres = PostgresConnection(parse.GetValue(storeKind)!, parse.GetValue(connection));
            var options = new ServiceOptions
            {
                PostgresConnectionString = postgres,
                InstanceUrl = explicitInstance ?? listenAddresses[0].Text,
                InstanceUrlFromListenAddress = explicitInstance is null,
                DataDirectory = dataDir,
                TrustModel = trustModel,
                AdminToken = givenAdminToken,
                CollateralDirectory = ExistingFolder(parse.GetValue(collateral), "--collateral"),
                SimulationCollateralDirectory = ExistingFolder(parse.GetValue(simulationCollateral), "--simulation-collateral"),
                SimulationPlatformDirectory = parse.GetValue(simulation)
                    ? parse.GetValue(platform) ?? Veritee.Enclave.SimulatedPlatform.DefaultFolder
                    : parse.GetValue(platform) is null ? null : throw new CliException("--platform needs --simulation"),
                TlsCertificate = LoadTls(parse.GetValue(tlsCert), parse.GetValue(tlsKey)),
                TlsCertificatePath = parse.GetValue(tlsCert)?.FullName,
                TlsKeyPath = parse.GetValue(tlsKey)?.FullName,
                OpsUrls = parse.GetValue(opsUrls),
                OpsRequestsPerSecond = NonNegative(parse.GetValue(opsRate), "--ops-rate-limit"),
                OpsMaxConcurrentRequests = NonNegative(parse.GetValue(opsConcurrency), "--ops-max-concurrency"),
                LogClientAddress = parse.GetValue(logClientAddress)!.ToUpperInvariant() switch
                {
                    "HASH" => ClientAddressLogging.Hash,
                    "ON" => ClientAddressLogging.On,
                    "OFF" => ClientAddressLogging.Off,
                    var other => throw new CliException($"--log-client-address must be hash, on or off, not '{other.ToLowerInvariant()}'"),
                },
                OpenApi = parse.GetValue(openApi)!.ToUpperInvariant() switch
                {
                    "ON" => true,
                    "OFF" => false,
                    var other => throw new CliException($"--openapi must be on or off, not '{other.ToLowerInvariant()}'"),
                },
                OpenApiUi = parse.GetValue(openApiUi)!.ToUpperInvariant() switch
                {
                    "ON" when parse.GetValue(openApi)!.Equals("off", StringComparison.OrdinalIgnoreCase) => throw new CliException("--openapi-ui on needs --openapi on"),
                    "ON" => true,
                    "OFF" => false,
                    var other => throw new CliException($"--openapi-ui must be on or off, not '{other.ToLowerInvariant()}'"),
                },
                KeyEncryptionKey = LoadKek(parse.GetValue(kekFile)),
                InstanceKeyCertificate = parse.GetValue(instanceKey) is { } pfx
                    ? LoadPkcs12(pfx, parse.GetValue(instanceKeyPassword) ?? Environment.GetEnvironmentVariable("VERITEE_INSTANCE_KEY_PASSWORD"))
                    : null,
                InitialSigners = signerCertificates,
                AdminAuthority = adminAuthority,
                CollateralServiceUrl = parse.GetValue(collateralService) switch
                {
                    null => null,
                    "intel" => Veritee.Dcap.Collateral.PcsCollateralSourceOptions.IntelPcs,
                    "azure" => Veritee.Dcap.Collateral.PcsCollateralSourceOptions.AzureThim,
                    var url => Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u : throw new CliException($"--collateral-service: '{url}' is not intel, azure or an http(s) URL"),
                },
                RootCaCrlUrl = parse.GetValue(rootCrl) is { } crl
                    ? Uri.TryCreate(crl, UriKind.Absolute, out var crlUri) ? crlUri : throw new CliException($"--root-ca-crl: '{crl}' is not an absolute URL")
                    : null,
                CollateralSubscriptionKey = parse.GetValue(pcsKey) ?? Environment.GetEnvironmentVariable("VERITEE_PCS_KEY"),
                CollateralFetchTimeout = parse.GetValue(fetchTimeout) is var ft && ft > 0 && ft <= 600
                    ? TimeSpan.FromSeconds(ft)
                    : throw new CliException($"--collateral-fetch-timeout must be in (0, 600] seconds, not {ft}"),
                InstanceKeyRefreshInterval = parse.GetValue(keyRefresh) is var kr && kr >= 1 && kr <= 300
                    ? TimeSpan.FromSeconds(kr)
                    : throw new CliException($"--key-refresh-interval must be in [1, 300] seconds, not {kr.ToString(System.Globalization.CultureInfo.InvariantCulture)}"),
                AdminAudience = parse.GetValue(audience),
                AdminRoles = parse.GetValue(roles) ?? [],
                AcceptedTcbStatuses = parse.GetValue(acceptTcb) is { } accepted ? ParseTcbStatuses(accepted) : null,
                PerClientRequestsPerSecond = NonNegative(parse.GetValue(rateLimit), "--rate-limit"),
                PerClientBurst = NonNegative(parse.GetValue(rateBurst), "--rate-burst"),
                MaxConcurrentRequests = NonNegative(parse.GetValue(maxConcurrency), "--max-concurrency"),
                MaxQueuedRequests = NonNegative(parse.GetValue(maxQueue), "--max-queue"),
                RequestTimeout = parse.GetValue(requestTimeout) switch
                {
                    0 => null,
                    var t when t > 0 && t <= 3600 => TimeSpan.FromSeconds(t),
                    var t => throw new CliException($"--request-timeout must be in 0..3600 seconds, not {t}"),
                },
                MaxRequestBodyBytes = 1024L * Positive(parse.GetValue(maxAttestBody), "--max-attest-body-kib"),
                MaxManagementRequestBodyBytes = 1024L * Positive(parse.GetValue(maxManagementBody), "--max-management-body-kib"),
                MaxRefusedAuditRecords = Positive(parse.GetValue(auditMaxRefused), "--audit-max-refused"),
                TrustedProxies = (parse.GetValue(trustedProxies) ?? []).Select(p => System.Net.IPAddress.TryParse(p, out var ip) ? ip : throw new CliException($"--trusted-proxy: '{p}' is not an IP address")).ToList(),
                MetricsPath = parse.GetValue(metrics)!.ToUpperInvariant() switch
                {
                    "ON" => "/metrics",
                    "OFF" => null,
                    _ when parse.GetValue(metrics)!.StartsWith('/') && !parse.GetValue(metrics)!.Contains('?') => parse.GetValue(metrics),
                    _ => throw new CliException($"--metrics must be on, off or a path starting with /, not '{parse.GetValue(metrics)}'"),
                },
                OtlpEndpoint = parse.GetValue(otlp) is { } collector
                    ? Uri.TryCreate(collector, UriKind.Absolute, out var otlpUri) && otlpUri.Scheme is "http" or "https" ? otlpUri : throw new CliException($"--otlp-endpoint: '{collector}' is not an http(s) URL")
                    : null,
                LogLevel = parse.GetValue(logLevel)!.ToUpperInvariant() switch
                {
                    "TRACE" => Microsoft.Extensions.Logging.LogLevel.Trace,
                    "DEBUG" => Microsoft.Extensions.Logging.LogLevel.Debug,
                    "INFORMATION" or "INFO" => Microsoft.Extensions.Logging.LogLevel.Information,
                    "WARNING" or "WARN" => Microsoft.Extensions.Logging.LogLevel.Warning,
                    "ERROR" => Microsoft.Extensions.Logging.LogLevel.Error,
                    "CRITICAL" => Microsoft.Extensions.Logging.LogLevel.Critical,
                    "NONE" => Microsoft.Extensions.Logging.LogLevel.None,
                    var other => throw new CliException($"--log-level must be trace, debug, information, warning, error, critical or none, not '{other.ToLowerInvariant()}'"),
                },
                JsonLogs = parse.GetValue(logFormat)!.ToUpperInvariant() switch
                {
                    "TEXT" => false,
                    "JSON" => true,
                    var other => throw new CliException($"--log-format must be text or json, not '{other.ToLowerInvariant()}'"),
                },
            };
            options = policyOptions.Apply(parse, options);
            options = pccsOptions.Apply(parse, options);
            try
            {
                VeriteeServer.Validate(options, listen);
            }
            catch (InvalidOperationException e)
            {
                throw new CliException(e.Message);
            }

            // Every option is valid: only now is anything written.
            if (givenAdminToken is null && adminAuthority is null)
            {
                PrivateFiles.CreateFolder(dataDir);
                options = options with { AdminToken = AdminTokenFile(dataDir, io) };
            }

            Warn(io, options, listenAddresses);
            Microsoft.AspNetCore.Builder.WebApplication app;
            try
            {
                app = VeriteeServer.BuildAsync(options, listen).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is InvalidOperationException or Npgsql.NpgsqlException or Microsoft.Data.Sqlite.SqliteException or ArgumentException)
            {
                throw new CliException("could not start: " + e.Message);
            }

            Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.Start(app);
            io.Out.WriteLine($"veritee serve: instance {VeriteeServer.InstanceUrl(app)}, listening on {string.Join(';', app.Urls)}, data in {dataDir}");
            Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.WaitForShutdown(app);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static int NonNegative(int value, string option) => value >= 0 ? value : throw new CliException($"{option} must not be negative");

    private static int Positive(int value, string option) => value > 0 ? value : throw new CliException($"{option} must be positive");

    private static System.Security.Cryptography.X509Certificates.X509Certificate2? LoadTls(FileInfo? cert, FileInfo? key)
    {
        if (cert is null)
        {
            return key is null ? null : throw new CliException("--tls-key needs --tls-cert");
        }

        try
        {
            var pkcs12 = cert.Extension.ToUpperInvariant() is ".PFX" or ".P12";
            RequirePrivate(pkcs12 || key is null ? cert : key);
            return pkcs12
                ? System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(cert.FullName, null)
                : System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(cert.FullName, key?.FullName);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new CliException($"--tls-cert: {e.Message}");
        }
    }

    private static HashSet<Veritee.Dcap.TcbStatus> ParseTcbStatuses(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => Veritee.Dcap.TcbStatuses.Parse(t) ?? (Enum.TryParse<Veritee.Dcap.TcbStatus>(t, out var s) ? s : throw new CliException($"--accept-tcb: '{t}' is not a TCB status")))
            .ToHashSet();

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 LoadSigner(FileInfo file)
    {
        try
        {
            return Veritee.Tokens.JwsSigningKey.LoadCertificate(File.ReadAllBytes(file.FullName));
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or FormatException)
        {
            throw new CliException($"--policy-signer {file.Name}: {e.Message}");
        }
    }

    /// <summary>The data folder when --data is not given.</summary>
    internal static string DefaultDataDirectory => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".veritee");

    /// <summary>The PostgreSQL connection string for <c>--store postgres</c>, null for <c>sqlite</c>.</summary>
    internal static string? PostgresConnection(string storeKind, string? connection) => storeKind.ToUpperInvariant() switch
    {
        "SQLITE" => connection is null ? null : throw new CliException("--connection-string applies to --store postgres"),
        "POSTGRES" or "POSTGRESQL" => connection ?? Environment.GetEnvironmentVariable("VERITEE_POSTGRES")
            ?? throw new CliException("--store postgres needs --connection-string (or $VERITEE_POSTGRES)"),
        var other => throw new CliException($"--store must be sqlite or postgres, not '{other}'"),
    };

    /// <summary>The key-encryption key from <paramref name="file"/> (which must be private) or $VERITEE_KEK; null when neither is given.</summary>
    internal static byte[]? LoadKek(FileInfo? file)
    {
        try
        {
            if (file is not null)
            {
                RequirePrivate(file);
                return InstanceKeyProtector.ParseKek(File.ReadAllBytes(file.FullName));
            }

            return Environment.GetEnvironmentVariable("VERITEE_KEK") is { Length: > 0 } text
                ? InstanceKeyProtector.ParseKek(System.Text.Encoding.ASCII.GetBytes(text))
                : null;
        }
        catch (FormatException e)
        {
            throw new CliException("key-encryption key: " + e.Message);
        }
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 LoadPkcs12(FileInfo file, string? password)
    {
        RequirePrivate(file);
        try
        {
            return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(file.FullName, password);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new CliException($"--instance-key {file.Name}: {e.Message}");
        }
    }

    private static string? ExistingFolder(string? path, string option) =>
        path is null || Directory.Exists(path) ? path : throw new CliException($"{option}: folder {path} does not exist");

    /// <summary>
    /// Reads or creates DATA/admin-token, created with mode 0600 from its first byte; an existing one that other users
    /// can open is refused. The token itself is never printed.
    /// </summary>
    private static string AdminTokenFile(string dataDir, CliIo io)
    {
        var file = Path.Combine(dataDir, "admin-token");
        PrivateFiles.TryCreate(file, System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))));
        RequirePrivate(new FileInfo(file));
        io.Out.WriteLine($"veritee serve: policy management bearer token in {file}");
        return File.ReadAllText(file).Trim();
    }

    /// <summary>A key or token file other users can open is refused, naming the file and the chmod that fixes it.</summary>
    private static void RequirePrivate(FileInfo? file)
    {
        if (file is { Exists: true } && PrivateFiles.Exposure(file.FullName) is { } problem)
        {
            throw new CliException(problem);
        }
    }

    /// <summary>What an operator must know before relying on this instance: simulation, plain HTTP beyond loopback, the collateral sources.</summary>
    private static void Warn(CliIo io, ServiceOptions options, IReadOnlyList<ListenAddress> listen)
    {
        if (options.SimulationPlatformDirectory is not null || options.SimulationCollateralDirectory is not null)
        {
            io.Error.WriteLine("veritee serve: WARNING: SIMULATION MODE: quotes of a simulated SGX platform are accepted; their tokens are marked veritee-simulated: true and PROVE NOTHING about real hardware. Never rely on them in production.");
        }

        foreach (var address in listen.Where(a => a.Scheme == "http" && !a.IsLoopback))
        {
            io.Error.WriteLine($"veritee serve: WARNING: {address.Text} serves plain HTTP beyond this machine: tokens, policies and the admin bearer token cross the network unencrypted; use https:// with --tls-cert, or a TLS proxy in front of a loopback address.");
        }

        var sources = new List<string>();
        if (options.CollateralDirectory is { } folder)
        {
            sources.Add("folder " + folder);
        }

        if (options.CollateralServiceUrl is { } service)
        {
            sources.Add($"collateral service {service.Scheme}://{service.Authority}{service.AbsolutePath}");
        }

        if (options.SimulationPlatformDirectory is { } platform)
        {
            sources.Add("simulated platform " + platform);
        }

        if (options.SimulationCollateralDirectory is { } simulation)
        {
            sources.Add("simulation collateral " + simulation);
        }

        if (sources.Count == 0)
        {
            io.Error.WriteLine("veritee serve: WARNING: no collateral source: every attestation fails until the service is started with --collateral DIR, --collateral-service intel|azure|URL or --simulation.");
        }
        else
        {
            io.Out.WriteLine("veritee serve: collateral sources: " + string.Join("; ", sources));
        }
    }
}
