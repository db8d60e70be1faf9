namespace Veritee.Service;

/// <summary>How the instance authorizes policy and signer management.</summary>
public enum TrustModel
{
    /// <summary>Management needs the admin bearer token; policies may be unsigned or signed (a signature must verify).</summary>
    Aad,

    /// <summary>
    /// Every policy change and signer add/remove is a JWS signed by a registered policy-management certificate, sent by
    /// an authenticated administrator (bearer token), as in MAA.
    /// </summary>
    Isolated,
}

/// <summary>Configuration of one service node.</summary>
public sealed record ServiceOptions
{
    /// <summary>The instance URL used as token issuer and <c>jku</c> prefix (no trailing slash).</summary>
    public required string InstanceUrl { get; init; }

    /// <summary>
    /// PostgreSQL connection string for a store shared by several nodes; null: the embedded SQLite store in
    /// <see cref="DataDirectory"/>.
    /// </summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>Folder for the SQLite store and generated secrets.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Trust model for management operations.</summary>
    public TrustModel TrustModel { get; init; } = TrustModel.Aad;

    /// <summary>
    /// The bearer token that authorizes policy management in the AAD model. Null: management is refused
    /// (never anonymous).
    /// </summary>
    public string? AdminToken { get; init; }

    /// <summary>
    /// OpenID Connect authority (issuer URL) whose access tokens authorize management in the AAD model, e.g.
    /// <c>https://login.microsoftonline.com/{tenant}/v2.0</c> or a Keycloak realm. Its metadata and keys are fetched
    /// from <c>{authority}/.well-known/openid-configuration</c> and cached.
    /// </summary>
    public string? AdminAuthority { get; init; }

    /// <summary>The audience management tokens must carry (with <see cref="AdminAuthority"/>).</summary>
    public string? AdminAudience { get; init; }

    /// <summary>
    /// With <see cref="AdminAuthority"/>: the roles (<c>roles</c> claim) or scopes (<c>scp</c>) of which an access token
    /// must carry one. Required, because any member of a tenant can usually obtain a token for an audience.
    /// </summary>
    public IReadOnlyList<string> AdminRoles { get; init; } = [];

    /// <summary>
    /// TCB statuses accepted for a token (default: every status Intel's verifier returns as verified, as MAA's
    /// default baseline accepts out-of-date platforms). Policies also see the status as the incoming claim
    /// <c>veritee-tcb-status</c> and the advisories as <c>veritee-advisory-ids</c>.
    /// </summary>
    public IReadOnlySet<Veritee.Dcap.TcbStatus>? AcceptedTcbStatuses { get; init; }

    /// <summary>Require https for the authority's metadata (off only for loopback tests).</summary>
    public bool AdminAuthorityRequireHttps { get; init; } = true;

    /// <summary>
    /// Base URL of an Intel PCS-compatible collateral service (Intel PCS <c>https://api.trustedservices.intel.com</c>,
    /// a PCCS, or Azure THIM <c>https://global.acccache.azure.net</c>); fetched collateral is cached in the store for
    /// every node and refreshed before its nextUpdate.
    /// </summary>
    public Uri? CollateralServiceUrl { get; init; }

    /// <summary>Where the Intel SGX Root CA CRL is fetched (default Intel's; a PCCS offers a relative <c>sgx/certification/v4/rootcacrl</c>).</summary>
    public Uri? RootCaCrlUrl { get; init; }

    /// <summary>PCS subscription key (<c>Ocp-Apim-Subscription-Key</c>), when the service needs one.</summary>
    public string? CollateralSubscriptionKey { get; init; }

    /// <summary>
    /// Longest time one collateral fetch (all of a platform's requests, headers and bodies) may take before it is
    /// cancelled and the attestations waiting for it get 503 (default 10 s).
    /// </summary>
    public TimeSpan CollateralFetchTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Collateral folder: a collateral bundle, or one bundle per FMSPC in sub-folders named by FMSPC hex.</summary>
    public string? CollateralDirectory { get; init; }

    /// <summary>
    /// Simulated-platform collateral folder (with <c>trust_anchor.pem</c>); when set, quotes from the simulated platform
    /// are accepted and their tokens carry <c>veritee-simulated: true</c>.
    /// </summary>
    public string? SimulationCollateralDirectory { get; init; }

    /// <summary>
    /// 32-byte key-encryption key: the instance signing key is kept in the store sealed under it (AES-256-GCM). Null:
    /// the key is stored as plain PKCS#8 (protect the database like the key).
    /// </summary>
    public byte[]? KeyEncryptionKey { get; init; }

    /// <summary>
    /// The instance signing key and certificate from a mounted PKCS#12 file instead of the store (every node mounts the
    /// same file). Its certificate's subject need not name the instance.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? InstanceKeyCertificate { get; init; }

    /// <summary>Certificate (with private key) for https:// listen addresses.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TlsCertificate { get; init; }

    /// <summary>
    /// Simulated SGX platform state folder (<c>veritee genquote --simulate</c> writes to the same default); when set,
    /// the service trusts that platform's root, issues its collateral itself (UpToDate), and marks tokens for its
    /// quotes with <c>veritee-simulated: true</c>. Created when empty.
    /// </summary>
    public string? SimulationPlatformDirectory { get; init; }

    /// <summary>
    /// Isolated model: the policy-management certificates the instance starts with (registered on first start only;
    /// afterwards the store's set, changed through signed add/remove requests, is authoritative).
    /// </summary>
    public IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2> InitialSigners { get; init; } = [];

    /// <summary>Largest accepted request body of <c>POST /attest/{type}</c> in bytes (default 1 MiB).</summary>
    public long MaxRequestBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// Largest accepted request body of the management operations (policies, certificates) in bytes (default 256 KiB;
    /// a signed policy with its certificate is a few KiB).
    /// </summary>
    public long MaxManagementRequestBodyBytes { get; init; } = 256 * 1024;

    /// <summary>
    /// Requests per second one client (remote IP address, or the forwarded address from a <see cref="TrustedProxies"/>
    /// entry) may send before it gets 429 TooManyRequests; 0 turns per-client rate limiting off. The default (10,000)
    /// is above what one node serves for attestation, so a single well-behaved client never meets it; floods of cheap
    /// requests do.
    /// </summary>
    public int PerClientRequestsPerSecond { get; init; } = 10_000;

    /// <summary>Requests one client may send at once above its rate (token bucket size); 0: one second's worth.</summary>
    public int PerClientBurst { get; init; }

    /// <summary>Requests processed at once by this node; 0 turns the concurrency limit off (default 256).</summary>
    public int MaxConcurrentRequests { get; init; } = 256;

    /// <summary>Requests that wait for a slot when <see cref="MaxConcurrentRequests"/> are in progress (default 1024); beyond, 429.</summary>
    public int MaxQueuedRequests { get; init; } = 1024;

    /// <summary>
    /// Longest time a request may take before it is answered 503 with code <c>RequestTimeout</c>; null or zero turns
    /// it off. The default (30 s) leaves room for a first collateral fetch (20 s client timeout).
    /// </summary>
    public TimeSpan? RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Addresses of reverse proxies (e.g. nginx) whose <c>X-Forwarded-For</c> names the client for rate limiting and
    /// request logs; empty (default): the connection's address is the client and the header is ignored.
    /// </summary>
    public IReadOnlyList<System.Net.IPAddress> TrustedProxies { get; init; } = [];

    /// <summary>Path of the Prometheus scrape endpoint (default <c>/metrics</c>); null: no endpoint.</summary>
    public string? MetricsPath { get; init; } = "/metrics";

    /// <summary>
    /// OpenTelemetry collector (OTLP/gRPC, e.g. <c>http://127.0.0.1:4317</c>) that receives the traces (the ASP.NET Core
    /// request span with the <c>veritee.verify</c> and <c>veritee.policy</c> spans under it) and the metrics; null
    /// (default): no traces are recorded and metrics are only scraped.
    /// </summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary>
    /// Minimum level of the service's logs (default Information). Request lines are Debug for successes and
    /// rate-limited requests, Information for other client errors, Warning for server errors.
    /// </summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;

    /// <summary>Console log format: one line per event (default), or one JSON object per event with every field.</summary>
    public bool JsonLogs { get; init; }

    /// <summary>Extra logger providers (tests capture logs with one); the console logger is always added.</summary>
    public IReadOnlyList<Microsoft.Extensions.Logging.ILoggerProvider> LoggerProviders { get; init; } = [];
}
