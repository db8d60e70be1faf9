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

/// <summary>How request logs show the client's address.</summary>
public enum ClientAddressLogging
{
    /// <summary>A keyed hash of the address (key random per process): one client's requests correlate within a run, the address cannot be read back.</summary>
    Hash,

    /// <summary>The address itself (for blocking abusive clients from the logs; it is personal data in many jurisdictions).</summary>
    On,

    /// <summary>No address (<c>-</c>).</summary>
    Off,
}

/// <summary>Configuration of one service node.</summary>
public sealed record ServiceOptions
{
    /// <summary>
    /// The instance URL used as token issuer and <c>jku</c> prefix (no trailing slash). Never an unspecified address
    /// (<c>0.0.0.0</c>, <c>[::]</c>); a listen address with port 0 is resolved to the bound port.
    /// </summary>
    public required string InstanceUrl { get; init; }

    /// <summary>
    /// True when <see cref="InstanceUrl"/> is the first listen address rather than a configured name: a node on its
    /// own SQLite store then follows its address across restarts. False (default), or on a shared PostgreSQL store,
    /// the store's key stays bound to the instance URL it was created for, and another URL is refused.
    /// </summary>
    public bool InstanceUrlFromListenAddress { get; init; }

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
    /// 32-byte key-encryption key: the instance signing key is kept in the store sealed under it (AES-256-GCM); the key
    /// is never stored in clear. Null: with SQLite, a random key generated into <c>DATA/key-encryption-key</c> (mode
    /// 0600; in production move it to a secret store); with PostgreSQL, refused (unless
    /// <see cref="InstanceKeyCertificate"/> is given).
    /// </summary>
    public byte[]? KeyEncryptionKey { get; init; }

    /// <summary>
    /// How often a node reads the stored instance key to notice a roll (<c>veritee store roll-key</c>) made by another
    /// process; the node signs with the new key from its next read on. At most 5 minutes. Not used with <see cref="InstanceKeyCertificate"/>.
    /// </summary>
    public TimeSpan InstanceKeyRefreshInterval { get; init; } = TimeSpan.FromSeconds(30);

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
    /// Refused management attempts kept in the audit trail: beyond this many, each new refused record deletes the
    /// oldest refused one (counted as pruned); succeeded changes are always kept.
    /// </summary>
    public int MaxRefusedAuditRecords { get; init; } = 10_000;

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

    /// <summary>
    /// Requests per second one client may send to <c>/health/*</c> and the metrics endpoint, a budget of their own
    /// (apart from <see cref="PerClientRequestsPerSecond"/>, so probes still answer a client that is limited, and a
    /// probe flood cannot take attestation capacity); 0 turns it off. Default 10 (probes and scrapes come every few seconds).
    /// </summary>
    public int OpsRequestsPerSecond { get; init; } = 10;

    /// <summary>
    /// <c>/health/*</c> and metrics requests processed at once, a limit of their own (up to twice as many wait); 0 turns
    /// it off. Default 4.
    /// </summary>
    public int OpsMaxConcurrentRequests { get; init; } = 4;

    /// <summary>
    /// Listen addresses (';'-separated, explicit ports, e.g. <c>http://127.0.0.1:9090</c>) that serve <c>/health/*</c>
    /// and the metrics endpoint; when set, the main addresses no longer serve them (and these serve nothing else).
    /// Null (default): the main addresses serve them.
    /// </summary>
    public string? OpsUrls { get; init; }

    /// <summary>How request logs show client addresses (default <see cref="ClientAddressLogging.Hash"/>).</summary>
    public ClientAddressLogging LogClientAddress { get; init; } = ClientAddressLogging.Hash;

    /// <summary>
    /// File of the TLS certificate (PKCS#12 <c>.pfx</c>/<c>.p12</c>, or PEM with its key in <see cref="TlsKeyPath"/>);
    /// when set it is served instead of <see cref="TlsCertificate"/> and a renewed file is picked up without restart
    /// (checked at most once a second, on new connections).
    /// </summary>
    public string? TlsCertificatePath { get; init; }

    /// <summary>PEM private key file of a PEM <see cref="TlsCertificatePath"/>.</summary>
    public string? TlsKeyPath { get; init; }

    /// <summary>
    /// Whether the service publishes its OpenAPI 3.1 document at <c>/openapi/v1.json</c> (default true: it describes the
    /// public MAA protocol, as Microsoft publishes MAA's specification); false: that path is 404.
    /// </summary>
    public bool OpenApi { get; init; } = true;

    /// <summary>
    /// Whether the service also serves an interactive reference of that document at <c>/scalar/</c> (Scalar, its
    /// script served by the service itself, no fonts or scripts from a CDN); default false. Needs <see cref="OpenApi"/>.
    /// </summary>
    public bool OpenApiUi { get; init; }

    /// <summary>Wraps the store the service uses (tests count its calls).</summary>
    internal Func<Store.IServiceStore, Store.IServiceStore>? StoreDecorator { get; init; }

    /// <summary>
    /// The budget of one policy evaluation (draft and stored policies alike); exceeding a limit answers 400
    /// <c>PolicyEvaluationError</c> naming it.
    /// </summary>
    public Veritee.Policy.PolicyEvaluationLimits PolicyLimits { get; init; } = Veritee.Policy.PolicyEvaluationLimits.Default;

    /// <summary>
    /// Whether attestation requests may carry <c>draftPolicyForAttestation</c> (default true, as MAA); false answers such
    /// requests 400 <c>InvalidParameter</c>.
    /// </summary>
    public bool AllowDraftPolicy { get; init; } = true;

    /// <summary>
    /// Whether <c>TdxVm</c> tokens also carry claims outside MAA's published TDX profile: <c>tdx_tee_tcb_svn2</c> and
    /// <c>tdx_mrservicetd</c> (TD 1.5 quotes), <c>attester_advisory_ids</c> and <c>attester_tcb_date</c> (Intel Trust
    /// Authority's names). Default false: exactly MAA's claim set.
    /// </summary>
    public bool TdxExtensionClaims { get; init; }

    /// <summary>
    /// Whether and how the node serves Intel's PCCS API (docs/pccs.md): <see cref="PccsFillMode.Off"/> (default) mounts
    /// nothing; the other modes fill the cache from <see cref="CollateralServiceUrl"/> (default Intel PCS) as Intel's
    /// PCCS <c>CachingFillMode</c> does.
    /// </summary>
    public PccsFillMode PccsMode { get; init; } = PccsFillMode.Off;

    /// <summary>SHA-512 of the PCCS user token (128 hex) for <c>POST /platforms</c>; null: that route answers 401 to everyone.</summary>
    public string? PccsUserTokenHash { get; init; }

    /// <summary>SHA-512 of the PCCS admin token (128 hex) for <c>GET /platforms</c>, <c>platformcollateral</c>, <c>refresh</c>; null: 401 always.</summary>
    public string? PccsAdminTokenHash { get; init; }

    /// <summary>How often cached PCCS collateral and certificates are refreshed from PCS (default 24 h; zero: never; never in offline mode).</summary>
    public TimeSpan PccsRefreshInterval { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Largest request body on PCCS routes (default 2 MiB, as Intel's PCCS); larger answers 413 <c>Content too large.</c></summary>
    public long PccsMaxRequestBodyBytes { get; init; } = 2 * 1024 * 1024;

    /// <summary>The root the PCCS's collateral must chain to (default Intel's SGX Root CA; tests use a simulated root).</summary>
    internal Veritee.Dcap.TrustAnchor? PccsTrustAnchor { get; init; }
}

/// <summary>The PCCS surface's cache fill mode (Intel PCCS <c>CachingFillMode</c>; docs/pccs.md).</summary>
public enum PccsFillMode
{
    /// <summary>No PCCS route is served.</summary>
    Off,

    /// <summary>A miss is fetched from PCS (one item; a platform's certificates when the request carries its encrypted PPID).</summary>
    Lazy,

    /// <summary>Platforms are fetched when registered (<c>POST /platforms</c>); a miss is not fetched.</summary>
    Req,

    /// <summary>No PCS access: registrations queue; collateral arrives by <c>PUT /platformcollateral</c>.</summary>
    Offline,
}
