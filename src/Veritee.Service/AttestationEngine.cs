using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Dcap.X509;
using Veritee.Policy;
using Veritee.Sgx;

namespace Veritee.Service;

/// <summary>The decoded body of <c>POST /attest/SgxEnclave|OpenEnclave|TdxVm</c>.</summary>
public sealed record AttestRequest(byte[] Evidence, byte[]? RuntimeData, bool RuntimeDataIsJson, string? DraftPolicy, string? Nonce)
{
    /// <summary>
    /// <c>initTimeData</c>: data fixed when the enclave or TD was created; SGX: its SHA-256 must equal the first 32 bytes
    /// of the report's CONFIGID (KSS platforms); TDX: MRCONFIGID must be its SHA-256 zero-padded to 48 bytes, or its SHA-384.
    /// </summary>
    public byte[]? InitTimeData { get; init; }

    /// <summary>True when <see cref="InitTimeData"/> was sent with <c>dataType: JSON</c>.</summary>
    public bool InitTimeDataIsJson { get; init; }

    /// <summary>Parses the MAA request JSON (property names case-insensitive; base64url with or without padding, or standard base64).</summary>
    public static AttestRequest Parse(ReadOnlySpan<byte> body, string attestationType)
    {
        try
        {
            return ParseCore(body, attestationType);
        }
        catch (JsonException e)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"the request body is not valid JSON: {e.Message}");
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // A string that is not valid UTF-8 surfaces when it is read.
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"the request body is not valid: {e.Message}");
        }
    }

    // One pass of a forward-only reader over the body: the evidence is decoded from the UTF-8 bytes in place, with no
    // document, no node tree and no intermediate strings (bench/README.md, "Attestation throughput").
    private static AttestRequest ParseCore(ReadOnlySpan<byte> body, string attestationType)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            // Read() has thrown for anything that is not JSON; this is JSON of another kind.
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the request body must be a JSON object");
        }

        var evidenceName = attestationType == "OpenEnclave" ? "report" : "quote";
        var seen = new PropertyNames();
        byte[]? evidence = null;
        DataField runtime = default, initTime = default;
        string? draft = null, nonce = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = seen.Add(ref reader, evidenceName, "runtimeData", "initTimeData", "draftPolicyForAttestation", "nonce");
            reader.Read();
            switch (name)
            {
                case 0:
                    evidence = Base64Value(ref reader, evidenceName);
                    break;
                case 1:
                    runtime = DataValue(ref reader, "runtimeData");
                    break;
                case 2:
                    initTime = DataValue(ref reader, "initTimeData");
                    break;
                case 3:
                    draft = StringValue(ref reader, "draftPolicyForAttestation");
                    break;
                case 4:
                    nonce = StringValue(ref reader, "nonce");
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        // The root object has ended; anything after it is refused by the reader.
        if (reader.Read())
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the request body has content after its JSON object");
        }

        return new AttestRequest(evidence ?? throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"the request has no \"{evidenceName}\""), runtime.Data, runtime.IsJson, draft, nonce)
        {
            InitTimeData = initTime.Data,
            InitTimeDataIsJson = initTime.IsJson,
        };
    }

    private readonly record struct DataField(byte[]? Data, bool IsJson);

    /// <summary>Reads <c>{"data": base64url, "dataType": "Binary"|"JSON"}</c> (null: absent).</summary>
    private static DataField DataValue(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return default;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"\"{name}\" must be an object with \"data\" and \"dataType\"");
        }

        var seen = new PropertyNames();
        byte[]? data = null;
        string? type = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var property = seen.Add(ref reader, "data", "dataType");
            reader.Read();
            switch (property)
            {
                case 0:
                    data = Base64Value(ref reader, name + ".data");
                    break;
                case 1:
                    type = StringValue(ref reader, name + ".dataType");
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        var isJson = (type ?? "Binary").ToUpperInvariant() switch
        {
            "JSON" => true,
            "BINARY" => false,
            _ => throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"{name}.dataType \"{type}\" is not Binary or JSON"),
        };
        return new DataField(data ?? throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"{name} has no \"data\""), isJson);
    }

    private static string? StringValue(ref Utf8JsonReader reader, string name) => reader.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String => reader.GetString(),
        _ => throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"\"{name}\" must be a string"),
    };

    /// <summary>Decodes base64url with or without padding, and standard base64 (Occlum sends it); null: absent.</summary>
    private static byte[]? Base64Value(ref Utf8JsonReader reader, string what)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"\"{what}\" must be a string");
        }

        // Most clients send unpadded base64url without JSON escapes: decoded straight from the request bytes.
        if (!reader.ValueIsEscaped && !reader.HasValueSequence && System.Buffers.Text.Base64Url.IsValid(reader.ValueSpan, out var length))
        {
            var bytes = new byte[length];
            if (System.Buffers.Text.Base64Url.TryDecodeFromUtf8(reader.ValueSpan, bytes, out var written) && written == length)
            {
                return bytes;
            }
        }

        var normal = reader.GetString()!.Trim().Replace('-', '+').Replace('_', '/');
        normal = normal.PadRight(normal.Length + ((4 - (normal.Length % 4)) % 4), '=');
        try
        {
            return Convert.FromBase64String(normal);
        }
        catch (FormatException)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"{what} is not valid base64url");
        }
    }

    /// <summary>
    /// The property names of one object so far, matched case-insensitively as MAA binds them: a name twice is refused
    /// (a second <c>quote</c> must not silently replace the first). Known names are bits; others are kept only when present.
    /// </summary>
    private struct PropertyNames
    {
        private int _known;
        private HashSet<string>? _others;

        /// <summary>The index of the reader's property name in <paramref name="known"/>, or -1; refuses a repeat.</summary>
        public int Add(ref Utf8JsonReader reader, params ReadOnlySpan<string> known)
        {
            for (var i = 0; i < known.Length; i++)
            {
                if (NameEquals(ref reader, known[i]))
                {
                    if ((_known & (1 << i)) != 0)
                    {
                        throw Repeated(known[i]);
                    }

                    _known |= 1 << i;
                    return i;
                }
            }

            var name = reader.GetString()!;
            _others ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            return _others.Add(name) ? -1 : throw Repeated(name);
        }

        private static bool NameEquals(ref Utf8JsonReader reader, string name)
        {
            if (reader.ValueIsEscaped || reader.HasValueSequence)
            {
                return string.Equals(reader.GetString(), name, StringComparison.OrdinalIgnoreCase);
            }

            return System.Text.Ascii.EqualsIgnoreCase(reader.ValueSpan, name);
        }

        private static MaaException Repeated(string name) =>
            MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"the request body is not valid: the property \"{name}\" appears more than once (names are case-insensitive)");
    }
}

/// <summary>
/// The attestation pipeline: verify the quote against collateral (Intel QVL semantics), bind the runtime data,
/// evaluate the policy and assemble the token's claims as MAA does (docs/protocol.md §3, §5).
/// </summary>
public sealed partial class AttestationEngine
{
    private readonly FolderCollateralSource? _collateral;
    private readonly FolderCollateralSource? _simulation;
    private readonly TrustAnchor? _simulationAnchor;
    private readonly SimulatedPlatformCollateral? _platform;
    private readonly CachedCollateralSource? _pcs;
    private readonly IReadOnlySet<TcbStatus>? _acceptedTcb;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> _fetchFailures = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;
    private readonly QuoteVerifier _verifier = new(new VerificationCache());
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ChainKey, PlatformIdentity> _platforms = new();
    private volatile PolicyHashMemo? _policyHash;
    private readonly ServiceTelemetry? _telemetry;
    private readonly PolicyEvaluationLimits _policyLimits;
    private readonly bool _allowDraftPolicy;
    private readonly bool _tdxExtensionClaims;
    private long _lastFetchSuccessTicks;
    private long _lastRefreshFailureTicks;
    private long _lastFailClosedTicks;
    private long _lastRejectionTicks;
    private string? _lastRejection;

    /// <summary>
    /// Creates the engine from the service options; <paramref name="collateralCache"/> shares fetched collateral between
    /// nodes; <paramref name="telemetry"/> receives verification, policy and collateral-cache measurements;
    /// <paramref name="logger"/> gets warnings about refused collateral. <paramref name="http"/> must not follow
    /// redirects (default: <see cref="PcsCollateralSource.CreateHttpClient"/>).
    /// </summary>
    public AttestationEngine(ServiceOptions options, TimeProvider clock, ICollateralCacheStore? collateralCache = null, HttpClient? http = null, ServiceTelemetry? telemetry = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        _acceptedTcb = options.AcceptedTcbStatuses;
        _clock = clock;
        _telemetry = telemetry;
        options.PolicyLimits.Validate();
        _policyLimits = options.PolicyLimits;
        _allowDraftPolicy = options.AllowDraftPolicy;
        _tdxExtensionClaims = options.TdxExtensionClaims;
        Logger = logger;
        if (options.CollateralServiceUrl is { } pcs)
        {
            var fetchTimeout = options.CollateralFetchTimeout > TimeSpan.Zero ? options.CollateralFetchTimeout : TimeSpan.FromSeconds(10);
            var fetcher = new PcsCollateralSource(http ?? PcsCollateralSource.CreateHttpClient(fetchTimeout), new PcsCollateralSourceOptions
            {
                BaseAddress = pcs,
                RootCaCrl = options.RootCaCrlUrl ?? PcsCollateralSourceOptions.IntelRootCaCrl,
                SubscriptionKey = options.CollateralSubscriptionKey,
                RequestTimeout = fetchTimeout,
                TimeProvider = clock,
            });

            // Bundles are verified with the quote verifier's memo, so the quotes that follow find their keys parsed.
            _pcs = new CachedCollateralSource(fetcher, clock, new CachedCollateralSourceOptions
            {
                Store = collateralCache,
                FetchTimeout = fetchTimeout,
                Verifier = _verifier,
                Rejected = OnRejected,
            });
        }

        _collateral = options.CollateralDirectory is { } dir ? new FolderCollateralSource(dir) : null;
        _platform = options.SimulationPlatformDirectory is { } platformDir ? new SimulatedPlatformCollateral(platformDir, clock) : null;
        if (options.SimulationCollateralDirectory is { } sim)
        {
            _simulation = new FolderCollateralSource(sim);
            var anchorFile = Path.Combine(sim, "trust_anchor.pem");
            _simulationAnchor = File.Exists(anchorFile)
                ? TrustAnchor.Load(File.ReadAllBytes(anchorFile), "simulated platform root")
                : throw new InvalidOperationException($"simulation collateral folder {sim} has no trust_anchor.pem");
        }
    }

    /// <summary>Attests and returns the token claims (without iss/iat/nbf/exp) and whether the token is unsigned (draft policy).</summary>
    public async Task<(JsonObject Claims, bool Unsigned)> AttestAsync(string attestationType, AttestRequest request, CompiledPolicy storedPolicy, string storedPolicyText, JsonObject? policySigner, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.DraftPolicy is not null && !_allowDraftPolicy)
        {
            // Refused before any verification work.
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "draftPolicyForAttestation is disabled on this instance (serve --draft-policy off); attest without it to use the stored policy");
        }

        var (result, collateral, simulated) = await VerifyAsync(request.Evidence, attestationType, now, cancellationToken).ConfigureAwait(false);
        var quote = result.Quote!;
        if (attestationType == DefaultPolicies.TdxVmType)
        {
            return AttestTd(request, quote.TdReport, result, storedPolicy, storedPolicyText, policySigner, simulated, cancellationToken);
        }

        var report = quote.SgxReport;
        if (request.RuntimeData is { } runtime && !SHA256.HashData(runtime).AsSpan().SequenceEqual(report.ReportData.Span[..32]))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "SuppliedRuntimeDataDigest does not match RuntimeData Digest in quote");
        }

        if (request.InitTimeData is { } initTime && !SHA256.HashData(initTime).AsSpan().SequenceEqual(report.ConfigId.Span[..32]))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "SuppliedInitTimeDataDigest does not match the CONFIGID in the quote (initTimeData needs a platform with KSS)");
        }

        var runtimeJson = request.RuntimeData is { } data && request.RuntimeDataIsJson ? ParseJsonData(data, "runtimeData") : null;
        var initTimeJson = request.InitTimeData is { } init && request.InitTimeDataIsJson ? ParseJsonData(init, "initTimeData") : null;
        var (policy, policyText) = SelectPolicy(request, storedPolicy, storedPolicyText, ref policySigner);
        var tcbStatus = RequireAcceptedTcb(result);
        var evaluation = Evaluate(policy, IncomingClaims(report, tcbStatus, result.AdvisoryIds), attestationType, cancellationToken);

        var claims = new JsonObject
        {
            ["x-ms-ver"] = "1.0",
            ["x-ms-attestation-type"] = "sgx",
            ["x-ms-policy-hash"] = StoredPolicyHash(policyText),
            ["x-ms-sgx-is-debuggable"] = report.IsDebuggable,
            ["x-ms-sgx-mrenclave"] = Hex.Lower(report.MrEnclave.Span),
            ["x-ms-sgx-mrsigner"] = Hex.Lower(report.MrSigner.Span),
            ["x-ms-sgx-product-id"] = report.IsvProdId,
            ["x-ms-sgx-svn"] = report.IsvSvn,
            ["x-ms-sgx-report-data"] = Hex.Lower(report.ReportData.Span),
            ["jti"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
        };
        AddKssClaims(claims, report);
        var collateralHashes = CollateralHashes(request.Evidence, collateral);
        claims["x-ms-sgx-collateral"] = collateralHashes;
        claims["maa-attestationcollateral"] = collateralHashes.DeepClone();
        if (request.RuntimeData is { } ehd)
        {
            if (runtimeJson is not null)
            {
                claims["x-ms-runtime"] = runtimeJson;
            }
            else
            {
                var encoded = TokenWriter.Base64Url(ehd);
                claims["x-ms-sgx-ehd"] = encoded;
                claims["maa-ehd"] = encoded;
                claims["aas-ehd"] = encoded;
            }
        }

        if (initTimeJson is not null)
        {
            claims["x-ms-inittime"] = initTimeJson;
        }

        AddCommonClaims(claims, request, policySigner, simulated, evaluation);
        return (claims, request.DraftPolicy is not null);
    }

    /// <summary>The draft policy (unsigned token, no signer) when the request carries one, else the stored/default one.</summary>
    private static (CompiledPolicy Policy, string Text) SelectPolicy(AttestRequest request, CompiledPolicy storedPolicy, string storedPolicyText, ref JsonObject? policySigner)
    {
        if (request.DraftPolicy is { } draft)
        {
            policySigner = null;
            return (PolicyCompiler.Compile(draft), draft);
        }

        return (storedPolicy, storedPolicyText);
    }

    /// <summary>The verified TCB status, refused when the instance does not accept it (<c>serve --accept-tcb</c>).</summary>
    private TcbStatus RequireAcceptedTcb(VerificationResult result)
    {
        var tcbStatus = result.TcbStatus!.Value;
        if (_acceptedTcb is not null && !_acceptedTcb.Contains(tcbStatus))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter,
                $"the platform's TCB status {tcbStatus.ToWireString()} is not accepted by this instance (advisories: {string.Join(", ", result.AdvisoryIds)})");
        }

        return tcbStatus;
    }

    /// <summary>Evaluates the policy within the instance's budget; a deny or an error is 400 PolicyEvaluationError.</summary>
    private PolicyEvaluationResult Evaluate(CompiledPolicy policy, List<PolicyClaim> incoming, string attestationType, CancellationToken cancellationToken)
    {
        PolicyEvaluationResult evaluation;
        using (ServiceTelemetry.Activities.StartActivity("veritee.policy"))
        {
            try
            {
                evaluation = policy.Evaluate(incoming, _policyLimits, cancellationToken);
            }
            catch (PolicyLimitExceededException e)
            {
                throw MaaException.BadRequest(MaaErrorCodes.PolicyEvaluationError, "Policy evaluation failed: " + e.Message);
            }
        }

        if (evaluation.IsError)
        {
            throw MaaException.BadRequest(MaaErrorCodes.PolicyEvaluationError, "Policy evaluation failed: " + evaluation.Reason);
        }

        if (!evaluation.Authorized)
        {
            _telemetry?.PolicyDenial(attestationType);
            throw MaaException.BadRequest(MaaErrorCodes.PolicyEvaluationError, evaluation.Reason);
        }

        return evaluation;
    }

    /// <summary>nonce, policy signer, simulation flag and the policy's issued claims (top level unless reserved, and in <c>x-ms-policy</c>).</summary>
    private static void AddCommonClaims(JsonObject claims, AttestRequest request, JsonObject? policySigner, bool simulated, PolicyEvaluationResult evaluation, bool omitEmptyPolicyClaims = false)
    {
        if (request.Nonce is { } nonce)
        {
            claims["nonce"] = nonce;
        }

        if (policySigner is not null)
        {
            claims["x-ms-policy-signer"] = policySigner.DeepClone();
        }

        if (simulated)
        {
            claims["veritee-simulated"] = true;
        }

        var issued = IssuedObject(evaluation.Issued);
        foreach (var (name, value) in issued)
        {
            // A policy must not forge what the service asserts (x-ms-*, runtime data, nonce, JWT registered claims),
            // whether or not the service set it on this token; such claims stay inside x-ms-policy only.
            if (!claims.ContainsKey(name) && !IsReservedClaim(name))
            {
                claims[name] = value?.DeepClone();
            }
        }

        if (issued.Count > 0 || !omitEmptyPolicyClaims)
        {
            claims["x-ms-policy"] = issued;
        }
    }

    private static JsonNode? ParseJsonData(byte[] data, string name)
    {
        try
        {
            // Clients send JSON with whitespace and a trailing NUL (seen from MAA's own SDK tests).
            return JsonNode.Parse(Encoding.UTF8.GetString(data).TrimEnd('\0'), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"{name} is declared JSON but does not parse: {e.Message}");
        }
    }

    /// <summary>Claim names only the service may put at the top level of a token.</summary>
    public static bool IsReservedClaim(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("maa-", StringComparison.OrdinalIgnoreCase) ||
            name.StartsWith("aas-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("veritee-", StringComparison.OrdinalIgnoreCase) ||
            name is "nonce" or "cnf" or "jti" or "iss" or "exp" or "iat" or "nbf" or "sub" or "aud";
    }

    /// <summary>The policy hash of the text last hashed, kept while requests bring the same text (the policy cache's instance).</summary>
    private string StoredPolicyHash(string policyText)
    {
        if (_policyHash is { } memo && ReferenceEquals(memo.Text, policyText))
        {
            return memo.Hash;
        }

        var hash = PolicyHash(policyText);
        _policyHash = new PolicyHashMemo(policyText, hash);
        return hash;
    }

    private sealed record PolicyHashMemo(string Text, string Hash);

    /// <summary>MAA's policy hash: base64url(SHA-256(ASCII(base64url(UTF-8 policy text)))).</summary>
    public static string PolicyHash(string policyText) =>
        TokenWriter.Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(TokenWriter.Base64Url(Encoding.UTF8.GetBytes(policyText)))));

    private async Task<(VerificationResult Result, QuoteCollateral Collateral, bool Simulated)> VerifyAsync(byte[] evidence, string attestationType, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ReadOnlyMemory<byte> quoteBytes = evidence;
        if (attestationType == "OpenEnclave")
        {
            if (!OpenEnclaveReport.HasHeader(evidence))
            {
                throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the OpenEnclave report does not start with an Open Enclave remote report header");
            }
        }

        Quote quote;
        try
        {
            quote = Quote.Parse(OpenEnclaveReport.UnwrapIfPresent(quoteBytes));
        }
        catch (SgxFormatException e)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the quote is malformed: " + e.Message);
        }

        // The route names the TEE; evidence of the other kind is refused before any collateral or signature work.
        RequireTee(quote, attestationType);
        var platform = Platform(quote);
        var fmspc = platform.Fmspc;
        var attempts = new List<string>();
        var intel = _collateral?.Find(fmspc, quote.TeeType);
        if (intel is null && _pcs is not null && platform.RootIsIntel)
        {
            intel = await FetchAsync(evidence, quote, cancellationToken).ConfigureAwait(false);
        }

        if (intel is not null)
        {
            var result = Verify(evidence, intel, TrustAnchor.IntelSgxRootCa, now);
            if (result.IsVerified)
            {
                return Accept(result, intel, simulated: false);
            }

            attempts.Add($"Intel collateral: {result.Status.Name()} ({result.Detail})");
        }

        if (_platform?.For(fmspc, quote.TeeType, now) is { } simulatedPlatform)
        {
            var result = Verify(evidence, simulatedPlatform.Collateral, simulatedPlatform.Anchor, now);
            if (result.IsVerified)
            {
                return Accept(result, simulatedPlatform.Collateral, simulated: true);
            }

            attempts.Add($"simulated platform: {result.Status.Name()} ({result.Detail})");
        }

        if (_simulation?.Find(fmspc, quote.TeeType) is { } simulatedCollateral)
        {
            var result = Verify(evidence, simulatedCollateral, _simulationAnchor!, now);
            if (result.IsVerified)
            {
                return Accept(result, simulatedCollateral, simulated: true);
            }

            attempts.Add($"simulated platform: {result.Status.Name()} ({result.Detail})");
        }

        if (attempts.Count == 0 && _collateral is null && _pcs is null && _platform is null && _simulation is null)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"no collateral is available for FMSPC {Convert.ToHexString(fmspc)}: this instance has no collateral source; start it with --collateral DIR, --collateral-service intel|azure|URL or --simulation");
        }

        if (attempts.Count == 0)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"no collateral is available for FMSPC {Convert.ToHexString(fmspc)}");
        }

        throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the quote could not be verified: " + string.Join("; ", attempts));
    }

    private VerificationResult Verify(byte[] evidence, QuoteCollateral collateral, TrustAnchor anchor, DateTimeOffset now)
    {
        using var activity = ServiceTelemetry.Activities.StartActivity("veritee.verify");
        var result = _verifier.Verify(evidence, collateral, anchor, now);
        var status = result.Status.Name();
        activity?.SetTag("qvl_status", status);
        _telemetry?.Verification(status);
        return result;
    }

    /// <summary>
    /// The collateral service as the last requests saw it (nothing is fetched to find out), or null when none is
    /// configured. <c>unreachable</c>: within the last <paramref name="window"/> a request failed for want of collateral
    /// (source down and nothing valid cached) and no fetch has succeeded since; <c>degraded</c>: the last refresh failed
    /// and cached collateral is being served until its nextUpdate; otherwise <c>ok</c>.
    /// </summary>
    public CollateralServiceHealth? CollateralHealth(DateTimeOffset now, TimeSpan window)
    {
        if (_pcs is null)
        {
            return null;
        }

        var success = Ticks(Interlocked.Read(ref _lastFetchSuccessTicks));
        var refreshFailure = Ticks(Interlocked.Read(ref _lastRefreshFailureTicks));
        var failClosed = Ticks(Interlocked.Read(ref _lastFailClosedTicks));
        var rejected = Ticks(Interlocked.Read(ref _lastRejectionTicks));
        var status = failClosed is { } closed && (success is null || closed > success) && now - closed < window ? "unreachable"
            : refreshFailure is { } failed && (success is null || failed > success) ? "degraded"
            : rejected is { } refused && (success is null || refused > success) ? "degraded"
            : "ok";
        var lastFailure = failClosed > refreshFailure || refreshFailure is null ? failClosed : refreshFailure;
        return new CollateralServiceHealth(status, success, lastFailure)
        {
            LastRejection = rejected,
            Rejection = rejected is null ? null : Volatile.Read(ref _lastRejection),
        };
    }

    /// <summary>Where warnings about refused collateral go (the host sets it once its logging is built).</summary>
    internal ILogger? Logger { get; set; }

    /// <summary>A bundle refused before caching: counted, logged, and shown by the readiness check.</summary>
    private void OnRejected(CollateralRejection rejection)
    {
        _telemetry?.CollateralRejected(rejection.Origin);
        Volatile.Write(ref _lastRejection, rejection.Error.Message);
        Interlocked.Exchange(ref _lastRejectionTicks, _clock.GetUtcNow().UtcTicks);
        if (Logger is { } log)
        {
            LogRejected(log, rejection.Request.CacheKey, rejection.Origin, rejection.Error.Failure, rejection.Error.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "collateral for {CacheKey} from the {Origin} refused ({Failure}); the previous bundle, if any, stays in use: {Reason}")]
    private static partial void LogRejected(ILogger logger, string cacheKey, string origin, CollateralFetchFailure failure, string reason);

    private static DateTimeOffset? Ticks(long ticks) => ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);

    private static (VerificationResult, QuoteCollateral, bool) Accept(VerificationResult result, QuoteCollateral collateral, bool simulated)
    {
        // Fail closed on stale collateral: a revocation published after nextUpdate would go unseen.
        if (result.CollateralExpired)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter,
                "the quote was invalid due to an error in the quote collateral: collateral is outside its validity (" + string.Join("; ", result.ExpiryFindings) + ")");
        }

        return (result, collateral, simulated);
    }

    private async Task<QuoteCollateral> FetchAsync(byte[] evidence, Quote quote, CancellationToken cancellationToken)
    {
        CollateralRequest request;
        try
        {
            request = CollateralRequest.FromQuote(evidence);
        }
        catch (FormatException e)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the quote's PCK certificate is malformed: " + e.Message);
        }

        // Before anything is fetched for a platform not yet cached, its PCK chain must be Intel-signed.
        if (_pcs!.Peek(request) is null && !IsIntelSignedChain(PlatformFmspc(quote).Chain))
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the quote's PCK certificate chain is not signed by the Intel SGX Root CA");
        }

        // A platform the source does not know is remembered for a while instead of asked about on every request.
        var now = _clock.GetUtcNow();
        if (_fetchFailures.TryGetValue(request.CacheKey, out var until) && now < until)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"no collateral could be obtained for this platform ({request.CacheKey}); retry after {until:yyyy-MM-ddTHH:mm:ssZ}");
        }

        try
        {
            var cached = _pcs!.Peek(request);
            var hit = cached is not null && now < cached.RefreshDue;
            var entry = await _pcs.GetAsync(request, cancellationToken).ConfigureAwait(false);
            _telemetry?.CollateralLookup(hit, _clock.GetUtcNow() - entry.FetchedAt);
            if (!hit)
            {
                Interlocked.Exchange(ref entry.IsServedDuringOutage ? ref _lastRefreshFailureTicks : ref _lastFetchSuccessTicks, _clock.GetUtcNow().UtcTicks);
            }

            return entry.Collateral;
        }
        catch (CollateralExpiredException e)
        {
            Interlocked.Exchange(ref _lastFailClosedTicks, _clock.GetUtcNow().UtcTicks);
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the quote was invalid due to an error in the quote collateral: " + e.Message);
        }
        catch (CollateralFetchException e) when (e.IsTransient)
        {
            Interlocked.Exchange(ref _lastFailClosedTicks, _clock.GetUtcNow().UtcTicks);
            throw new MaaException(HttpStatusCode.ServiceUnavailable, MaaErrorCodes.ServiceUnavailable, "the collateral service is unavailable; retry later (" + e.Message + ")")
            {
                RetryAfterSeconds = e.RetryAfter is { } wait ? (int)Math.Clamp(Math.Ceiling(wait.TotalSeconds), 1, 86_400) : null,
            };
        }
        catch (CollateralFetchException e)
        {
            if (_fetchFailures.Count > 10_000)
            {
                _fetchFailures.Clear();
            }

            _fetchFailures[request.CacheKey] = now.AddMinutes(10);
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "no collateral could be obtained for this platform: " + e.Message);
        }
    }

    /// <summary>
    /// True when the quote's chain is three certificates signed in turn from a root carrying Intel's key. Only then is
    /// collateral fetched, so forged quotes cannot make the service call Intel for made-up platforms.
    /// </summary>
    private static bool IsIntelSignedChain(IReadOnlyList<DcapCertificate> chain)
    {
        if (chain.Count != 3)
        {
            return false;
        }

        var root = chain.FirstOrDefault(c => c.IsSelfIssued && c.PublicKey.SameAs(TrustAnchor.IntelSgxRootCa.Point));
        var pck = chain.FirstOrDefault(c => !c.IsSelfIssued && c.SubjectCommonName.Contains("SGX PCK Certificate", StringComparison.Ordinal));
        var intermediate = chain.FirstOrDefault(c => !ReferenceEquals(c, root) && !ReferenceEquals(c, pck));
        return root is not null && pck is not null && intermediate is not null &&
            root.IsIssuedBy(root) && intermediate.IsIssuedBy(root) && pck.IsIssuedBy(intermediate);
    }

    /// <summary>
    /// The FMSPC of the quote's PCK certificate and whether its chain's root carries Intel's key, remembered by the
    /// SHA-256 of the certification data: the same chain bytes always give the same answer, and each request then
    /// costs a hash instead of a PEM decode and three certificate parses. At most <see cref="MaxRememberedPlatforms"/>
    /// chains (about 200 bytes each); past that the memo starts again empty. Malformed chains are never remembered.
    /// </summary>
    private PlatformIdentity Platform(Quote quote)
    {
        var data = quote.SignatureData.CertificationData;
        if (data.Type != CertificationDataType.PckCertificateChain)
        {
            return Identify(quote);
        }

        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(data.Data.Span, digest);
        var key = new ChainKey(
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(digest),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(digest[8..]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(digest[16..]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(digest[24..]));
        if (_platforms.TryGetValue(key, out var known))
        {
            return known;
        }

        var identity = Identify(quote);
        if (_platforms.Count >= MaxRememberedPlatforms)
        {
            _platforms.Clear();
        }

        _platforms[key] = identity;
        return identity;
    }

    private static PlatformIdentity Identify(Quote quote)
    {
        var (fmspc, chain) = PlatformFmspc(quote);
        return new PlatformIdentity(fmspc, chain.Any(c => c.IsSelfIssued && c.PublicKey.SameAs(TrustAnchor.IntelSgxRootCa.Point)));
    }

    /// <summary>Bound of the platform memo (<see cref="Platform"/>).</summary>
    internal const int MaxRememberedPlatforms = 16_384;

    /// <summary>Chains the platform memo holds now.</summary>
    internal int RememberedPlatforms => _platforms.Count;

    /// <summary>What a PCK chain tells before verification: the platform's FMSPC, and whether to ask Intel's PCS about it.</summary>
    private sealed record PlatformIdentity(byte[] Fmspc, bool RootIsIntel);

    /// <summary>SHA-256 of a quote's certification data.</summary>
    private readonly record struct ChainKey(ulong A, ulong B, ulong C, ulong D);

    /// <summary>The FMSPC of the quote's PCK certificate, and the parsed chain.</summary>
    private static (byte[] Fmspc, IReadOnlyList<DcapCertificate> Chain) PlatformFmspc(Quote quote)
    {
        var cert = quote.SignatureData.CertificationData;
        if (cert.Type != CertificationDataType.PckCertificateChain)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"certification data type {(ushort)cert.Type} is not supported (5: PCK certificate chain)");
        }

        try
        {
            var pems = Pem.DecodeCertificates(cert.Data.Span);
            if (pems.Count != 3)
            {
                throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, $"the quote's PCK certificate chain has {pems.Count} certificates, 3 expected");
            }

            var chain = pems.Select(DcapCertificate.Parse).ToList();
            var leaf = chain.FirstOrDefault(c => c.SubjectCommonName.Contains("SGX PCK Certificate", StringComparison.Ordinal) && c.SgxExtension is not null)
                ?? throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the quote's certificate chain has no PCK certificate");
            return (PckCertificateExtension.Parse(leaf.SgxExtension!.Value).Fmspc, chain);
        }
        catch (Exception e) when (e is DcapFormatException or SgxFormatException)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, "the quote's PCK certificate is malformed: " + e.Message);
        }
    }

    private static List<PolicyClaim> IncomingClaims(SgxReportBody report, TcbStatus tcbStatus, IReadOnlyList<string> advisories)
    {
        var debug = ClaimValue.FromBoolean(report.IsDebuggable);
        var mrsigner = ClaimValue.FromString(Hex.Lower(report.MrSigner.Span));
        var mrenclave = ClaimValue.FromString(Hex.Lower(report.MrEnclave.Span));
        var product = ClaimValue.FromInteger(report.IsvProdId);
        var svn = ClaimValue.FromInteger(report.IsvSvn);
        var tee = ClaimValue.FromString("sgx");
        return
        [
            PolicyClaim.Service("x-ms-sgx-is-debuggable", debug),
            PolicyClaim.Service("x-ms-sgx-mrsigner", mrsigner),
            PolicyClaim.Service("x-ms-sgx-mrenclave", mrenclave),
            PolicyClaim.Service("x-ms-sgx-product-id", product),
            PolicyClaim.Service("x-ms-sgx-svn", svn),
            PolicyClaim.Service("x-ms-attestation-type", tee),
            PolicyClaim.Service("x-ms-sgx-report-data", ClaimValue.FromString(Hex.Lower(report.ReportData.Span))),

            // Veritee's own: the platform's TCB grade, so a policy can deny what the instance accepts by default.
            PolicyClaim.Service("veritee-tcb-status", ClaimValue.FromString(tcbStatus.ToWireString())),
            PolicyClaim.Service("veritee-advisory-ids", ClaimValue.FromSet(advisories.Select(ClaimValue.FromString))),

            // Deprecated aliases that the 2020 default policy and older custom policies still use.
            PolicyClaim.Service("$is-debuggable", debug),
            PolicyClaim.Service("$sgx-mrsigner", mrsigner),
            PolicyClaim.Service("$sgx-mrenclave", mrenclave),
            PolicyClaim.Service("$product-id", product),
            PolicyClaim.Service("$svn", svn),
            PolicyClaim.Service("$tee", tee),
        ];
    }

    private static void AddKssClaims(JsonObject claims, SgxReportBody report)
    {
        // Only KSS-capable platforms fill these; MAA omits them otherwise.
        if (report.ConfigId.Span.ContainsAnyExcept((byte)0))
        {
            claims["x-ms-sgx-config-id"] = Hex.Lower(report.ConfigId.Span);
        }

        if (report.ConfigSvn != 0)
        {
            claims["x-ms-sgx-config-svn"] = report.ConfigSvn;
        }

        if (report.IsvExtProdId.Span.ContainsAnyExcept((byte)0))
        {
            claims["x-ms-sgx-isv-extended-product-id"] = Hex.Lower(report.IsvExtProdId.Span);
        }

        if (report.IsvFamilyId.Span.ContainsAnyExcept((byte)0))
        {
            claims["x-ms-sgx-isv-family-id"] = Hex.Lower(report.IsvFamilyId.Span);
        }
    }

    private static JsonObject CollateralHashes(byte[] evidence, QuoteCollateral c)
    {
        // The collateral's hashes are computed once per bundle object (sources hand out the same object until it changes).
        var known = BundleHashes.GetValue(c, static bundle => new CollateralDigests(bundle));
        return new JsonObject
        {
            ["qeidcertshash"] = known.QeIdentityChain,
            ["qeidcrlhash"] = known.RootCrl,
            ["qeidhash"] = known.QeIdentity,
            ["quotehash"] = CollateralDigests.H(evidence),
            ["tcbinfocertshash"] = known.TcbInfoChain,
            ["tcbinfocrlhash"] = known.RootCrl,
            ["tcbinfohash"] = known.TcbInfo,
        };
    }

    /// <summary>Hashes per collateral bundle, dropped with the bundle.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<QuoteCollateral, CollateralDigests> BundleHashes = [];

    private sealed class CollateralDigests(QuoteCollateral c)
    {
        public string RootCrl { get; } = H(CertificateRevocationList.Normalize(c.RootCaCrl));

        public string QeIdentityChain { get; } = H(c.QeIdentityIssuerChain);

        public string QeIdentity { get; } = H(c.QeIdentity);

        public string TcbInfoChain { get; } = H(c.TcbInfoIssuerChain);

        public string TcbInfo { get; } = H(c.TcbInfo);

        public static string H(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    /// <summary>Issued claims as an object; several claims of one type become an array, types kept.</summary>
    public static JsonObject IssuedObject(IReadOnlyList<PolicyClaim> issued)
    {
        ArgumentNullException.ThrowIfNull(issued);
        var result = new JsonObject();
        HashSet<string>? several = null;
        for (var i = 0; i < issued.Count; i++)
        {
            var (type, value, _) = issued[i];
            if (!result.TryGetPropertyValue(type, out var first))
            {
                result[type] = Node(value);
            }
            else if (several?.Contains(type) == true)
            {
                ((JsonArray)first!).Add(Node(value));
            }
            else
            {
                // The second claim of a type: the first moves into an array at the same place.
                (several ??= new HashSet<string>(StringComparer.Ordinal)).Add(type);
                var array = new JsonArray();
                result[type] = array;
                array.Add(first);
                array.Add(Node(value));
            }
        }

        return result;
    }

    /// <summary>A claim value as JSON (a set as an array), as <see cref="PolicyJson.WriteValue"/> writes it.</summary>
    private static JsonNode Node(ClaimValue value) => value.Kind switch
    {
        ClaimValueKind.String => JsonValue.Create(value.AsString),
        ClaimValueKind.Integer => JsonValue.Create(value.AsInteger),
        ClaimValueKind.Boolean => JsonValue.Create(value.AsBoolean),
        _ => SetNode(value.SetElements),
    };

    private static JsonArray SetNode(ReadOnlySpan<ClaimValue> elements)
    {
        var array = new JsonArray();
        foreach (var element in elements)
        {
            array.Add(Node(element));
        }

        return array;
    }
}

/// <summary>Parses and compiles policy text, mapping diagnostics to MAA's PolicyParsingError.</summary>
public static class PolicyCompiler
{
    /// <summary>Compiles <paramref name="text"/> or throws 400 PolicyParsingError with line:column.</summary>
    public static CompiledPolicy Compile(string text)
    {
        var parsed = PolicyParser.Parse(text);
        if (parsed.Document is not { } document)
        {
            var messages = parsed.Errors.Select(d => d.ToMaaText()).ToList();
            throw new MaaException(HttpStatusCode.BadRequest, MaaErrorCodes.PolicyParsingError, string.Join(" ", messages));
        }

        return CompiledPolicy.Compile(document);
    }
}

/// <summary>The collateral service's state for the readiness check.</summary>
/// <param name="Status"><c>ok</c>, <c>degraded</c> (serving cached collateral through an outage) or <c>unreachable</c>.</param>
/// <param name="LastSuccess">When collateral was last fetched.</param>
/// <param name="LastFailure">When a fetch last failed.</param>
public sealed record CollateralServiceHealth(string Status, DateTimeOffset? LastSuccess, DateTimeOffset? LastFailure)
{
    /// <summary>When a fetched (or stored) bundle was last refused before caching, if ever.</summary>
    public DateTimeOffset? LastRejection { get; init; }

    /// <summary>Why it was refused.</summary>
    public string? Rejection { get; init; }
}
