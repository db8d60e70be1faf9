using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Veritee.Dcap.Collateral;

namespace Veritee.Dcap.Pccs;

/// <summary>Where and how <see cref="PcsPckClient"/> fetches.</summary>
public sealed class PcsPckClientOptions
{
    /// <summary>
    /// The PCS or PCCS root (default Intel PCS, <c>https://api.trustedservices.intel.com/</c>); API paths
    /// (<c>sgx/certification/v4/pckcerts</c>, …) are resolved under it. A URL ending in <c>sgx/certification/v4/</c> is
    /// also accepted (the form pcsclient and QCNL configurations use).
    /// </summary>
    public Uri BaseAddress { get; set; } = PcsCollateralSourceOptions.IntelPcs;

    /// <summary>
    /// The PCS subscription key, sent as <c>Ocp-Apim-Subscription-Key</c> on <c>pckcerts</c> only, and only when not empty
    /// (PCS v4 rejects an empty key header).
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Largest accepted response body (default 4 MiB).</summary>
    public long MaxResponseBytes { get; set; } = PcsCollateralSourceOptions.DefaultMaxResponseBytes;

    /// <summary>Per-request time limit for headers and body; null for the HttpClient's own timeout only.</summary>
    public TimeSpan? RequestTimeout { get; set; }
}

/// <summary>A platform's PCK certificates as PCS returned them.</summary>
/// <param name="Certificates">The set, PCS order; "Not available" entries have a null certificate.</param>
/// <param name="IssuerChain">The <c>SGX-PCK-Certificate-Issuer-Chain</c> header value, percent-encoded as received.</param>
/// <param name="Fmspc">The <c>SGX-FMSPC</c> header, upper-cased.</param>
/// <param name="CaType">The <c>SGX-PCK-Certificate-CA-Type</c> header, upper-cased (<c>PROCESSOR</c> or <c>PLATFORM</c>).</param>
/// <param name="RequestId">PCS's <c>Request-ID</c>, when sent.</param>
public sealed record PcsPckCertificatesResponse(IReadOnlyList<PckCertificateEntry> Certificates, string IssuerChain, string Fmspc, string CaType, string? RequestId);

/// <summary>One collateral item as PCS returned it: the exact body and the issuer-chain header value (percent-encoded).</summary>
/// <param name="Body">The response body, byte for byte.</param>
/// <param name="IssuerChain">The issuer-chain header value as received; null for items without one (root CA CRL).</param>
/// <param name="RequestId">PCS's <c>Request-ID</c>, when sent.</param>
public sealed record PcsItem(byte[] Body, string? IssuerChain, string? RequestId);

/// <summary>
/// What a PCCS needs from Intel PCS (Intel PCS API v4): a platform's PCK certificates (<c>GET pckcerts</c> with the
/// encrypted PPID, or <c>POST pckcerts</c> with the platform manifest), TCB Infos, enclave identities, PCK CRLs, the root
/// CA CRL and the FMSPC list, over a caller-supplied <see cref="HttpClient"/> (use
/// <see cref="PcsCollateralSource.CreateHttpClient"/>: no redirects). Every failure is a
/// <see cref="CollateralFetchException"/> keeping PCS's status, <c>Error-Code</c>, <c>Error-Message</c> and
/// <c>Request-ID</c>, so a PCCS can say why instead of a bare "No cache data".
/// </summary>
public sealed class PcsPckClient
{
    private const int ApiVersion = 4;
    private readonly HttpClient _http;
    private readonly PcsPckClientOptions _options;
    private readonly Uri _base;

    /// <summary>A client over <paramref name="http"/>.</summary>
    /// <exception cref="ArgumentException">The base address is not absolute or the size limit not positive.</exception>
    public PcsPckClient(HttpClient http, PcsPckClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http;
        _options = options ?? new PcsPckClientOptions();
        if (!_options.BaseAddress.IsAbsoluteUri)
        {
            throw new ArgumentException($"BaseAddress {_options.BaseAddress} is not absolute", nameof(options));
        }

        if (_options.MaxResponseBytes <= 0)
        {
            throw new ArgumentException("MaxResponseBytes must be positive", nameof(options));
        }

        _base = Root(_options.BaseAddress);
    }

    /// <summary>The PCS root of <paramref name="url"/>: a trailing <c>sgx/certification/vN/</c> (or <c>tdx/…</c>) is removed.</summary>
    public static Uri Root(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var text = url.AbsoluteUri.TrimEnd('/') + "/";
        foreach (var tee in new[] { "sgx", "tdx" })
        {
            foreach (var v in new[] { "v3", "v4" })
            {
                var tail = $"{tee}/certification/{v}/";
                if (text.EndsWith(tail, StringComparison.OrdinalIgnoreCase))
                {
                    return new Uri(text[..^tail.Length]);
                }
            }
        }

        return new Uri(text);
    }

    /// <summary><c>GET sgx/certification/v4/pckcerts?encrypted_ppid=…&amp;pceid=…</c>.</summary>
    public Task<PcsPckCertificatesResponse> GetPckCertificatesAsync(string encryptedPpidHex, string pceIdHex, CancellationToken cancellationToken = default)
    {
        RequireHex(encryptedPpidHex, 768, nameof(encryptedPpidHex));
        RequireHex(pceIdHex, 4, nameof(pceIdHex));
        var url = Api("sgx", "pckcerts", $"encrypted_ppid={encryptedPpidHex}&pceid={pceIdHex}");
        return PckCertificatesAsync(HttpMethod.Get, url, null, cancellationToken);
    }

    /// <summary><c>POST sgx/certification/v4/pckcerts</c> with <c>{"platformManifest":…,"pceid":…}</c> (multi-package platforms).</summary>
    public Task<PcsPckCertificatesResponse> GetPckCertificatesByManifestAsync(string platformManifestHex, string pceIdHex, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(platformManifestHex);
        if (platformManifestHex.Length == 0 || platformManifestHex.Length > PlatformEntry.MaxManifestChars || platformManifestHex.Length % 2 != 0 || !PlatformEntry.IsHex(platformManifestHex))
        {
            throw new ArgumentException($"platform manifest must be non-empty hex of at most {PlatformEntry.MaxManifestChars} characters", nameof(platformManifestHex));
        }

        RequireHex(pceIdHex, 4, nameof(pceIdHex));
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["platformManifest"] = platformManifestHex, ["pceid"] = pceIdHex });
        return PckCertificatesAsync(HttpMethod.Post, Api("sgx", "pckcerts", null), body, cancellationToken);
    }

    /// <summary><c>GET {sgx|tdx}/certification/v4/tcb?fmspc=…&amp;update=…</c>; the chain from <c>TCB-Info-Issuer-Chain</c>.</summary>
    public async Task<PcsItem> GetTcbInfoAsync(bool tdx, string fmspcHex, string update = "standard", CancellationToken cancellationToken = default)
    {
        RequireHex(fmspcHex, 12, nameof(fmspcHex));
        var url = Api(tdx ? "tdx" : "sgx", "tcb", $"fmspc={fmspcHex}&update={Update(update)}");
        var (response, body, _) = await SendAsync(HttpMethod.Get, url, null, api: false, cancellationToken).ConfigureAwait(false);
        return new PcsItem(body, RequireHeader(url, response, PcsCollateralSource.TcbInfoIssuerChainHeader, PcsCollateralSource.SgxTcbInfoIssuerChainHeader), response.RequestId);
    }

    /// <summary>
    /// An enclave identity: <paramref name="id"/> <c>QE</c> (<c>sgx/…/qe/identity</c>), <c>QVE</c> (<c>sgx/…/qve/identity</c>)
    /// or <c>TD_QE</c> (<c>tdx/…/qe/identity</c>).
    /// </summary>
    public async Task<PcsItem> GetEnclaveIdentityAsync(string id, string update = "standard", CancellationToken cancellationToken = default)
    {
        var (tee, path) = id switch
        {
            "QE" => ("sgx", "qe/identity"),
            "QVE" => ("sgx", "qve/identity"),
            "TD_QE" => ("tdx", "qe/identity"),
            _ => throw new ArgumentException($"identity {id} is not QE, QVE or TD_QE", nameof(id)),
        };
        var url = Api(tee, path, $"update={Update(update)}");
        var (response, body, _) = await SendAsync(HttpMethod.Get, url, null, api: false, cancellationToken).ConfigureAwait(false);
        return new PcsItem(body, RequireHeader(url, response, PcsCollateralSource.EnclaveIdentityIssuerChainHeader), response.RequestId);
    }

    /// <summary><c>GET sgx/certification/v4/pckcrl?ca=processor|platform&amp;encoding=der</c>: the DER CRL and its chain.</summary>
    public async Task<PcsItem> GetPckCrlAsync(string ca, CancellationToken cancellationToken = default)
    {
        var kind = ca?.ToLowerInvariant() switch
        {
            "processor" => "processor",
            "platform" => "platform",
            _ => throw new ArgumentException($"CA {ca} is not processor or platform", nameof(ca)),
        };
        var url = Api("sgx", "pckcrl", $"ca={kind}&encoding=der");
        var (response, body, _) = await SendAsync(HttpMethod.Get, url, null, api: false, cancellationToken).ConfigureAwait(false);
        return new PcsItem(body, RequireHeader(url, response, PcsCollateralSource.PckCrlIssuerChainHeader), response.RequestId);
    }

    /// <summary>The root CA CRL from its distribution point (absolute, or relative to the base address), DER as served.</summary>
    public async Task<PcsItem> GetRootCaCrlAsync(Uri distributionPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(distributionPoint);
        var url = distributionPoint.IsAbsoluteUri ? distributionPoint : new Uri(_base, distributionPoint.OriginalString.TrimStart('/'));
        var (response, body, _) = await SendAsync(HttpMethod.Get, url, null, api: false, cancellationToken).ConfigureAwait(false);
        return new PcsItem(body, null, response.RequestId);
    }

    /// <summary><c>GET sgx/certification/v4/fmspcs?platform=all</c>: every FMSPC PCS knows (upper-case hex).</summary>
    public async Task<IReadOnlyList<string>> GetFmspcsAsync(CancellationToken cancellationToken = default)
    {
        var url = Api("sgx", "fmspcs", "platform=all");
        var (_, body, _) = await SendAsync(HttpMethod.Get, url, null, api: false, cancellationToken).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new DcapFormatException("fmspcs: must be a JSON array");
            }

            var list = new List<string>();
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                var fmspc = e.ValueKind == JsonValueKind.Object ? PccsJson.String(e, "fmspc", $"fmspcs[{list.Count}]") : "";
                if (fmspc.Length != 12 || !PlatformEntry.IsHex(fmspc))
                {
                    throw new DcapFormatException($"fmspcs[{list.Count}].fmspc: must be 12 hex digits");
                }

                list.Add(fmspc.ToUpperInvariant());
            }

            return list;
        }
        catch (Exception e) when (e is JsonException or DcapFormatException)
        {
            throw Invalid(url, HttpStatusCode.OK, e);
        }
    }

    private async Task<PcsPckCertificatesResponse> PckCertificatesAsync(HttpMethod method, Uri url, byte[]? body, CancellationToken cancellationToken)
    {
        var (response, content, _) = await SendAsync(method, url, body, api: true, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<PckCertificateEntry> certificates;
        try
        {
            certificates = PcsPckCertificates.Parse(content);
        }
        catch (DcapFormatException e)
        {
            throw Invalid(url, HttpStatusCode.OK, e);
        }

        var chain = RequireHeader(url, response, "SGX-PCK-Certificate-Issuer-Chain");
        var fmspc = RequireHeader(url, response, "SGX-FMSPC").Trim().ToUpperInvariant();
        var caType = RequireHeader(url, response, "SGX-PCK-Certificate-CA-Type").Trim().ToUpperInvariant();
        if (fmspc.Length != 12 || !PlatformEntry.IsHex(fmspc) || caType is not ("PROCESSOR" or "PLATFORM"))
        {
            throw Invalid(url, HttpStatusCode.OK, new DcapFormatException($"SGX-FMSPC \"{Short(fmspc)}\" or SGX-PCK-Certificate-CA-Type \"{Short(caType)}\" is malformed"));
        }

        try
        {
            IssuerChainHeader.Decode(chain);
        }
        catch (DcapFormatException e)
        {
            throw Invalid(url, HttpStatusCode.OK, e);
        }

        return new PcsPckCertificatesResponse(certificates, chain, fmspc, caType, response.RequestId);
    }

    private async Task<(Received Response, byte[] Body, Uri Url)> SendAsync(HttpMethod method, Uri url, byte[]? body, bool api, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_options.RequestTimeout is { } timeout)
        {
            limit.CancelAfter(timeout);
        }

        var verb = method.Method;
        try
        {
            using var request = new HttpRequestMessage(method, url);
            if (api && !string.IsNullOrWhiteSpace(_options.ApiKey))
            {
                request.Headers.TryAddWithoutValidation(PcsCollateralSource.SubscriptionKeyHeader, _options.ApiKey.Trim());
            }

            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token).ConfigureAwait(false);
            var requestId = PcsCollateralSource.Header(response, "Request-ID");
            if ((int)response.StatusCode is >= 300 and < 400 || (response.RequestMessage?.RequestUri is { } final && final != url))
            {
                throw new CollateralFetchException($"{verb} {url}: HTTP {(int)response.StatusCode} redirect; PCS requests do not follow redirects (the API key would go along)")
                {
                    Failure = CollateralFetchFailure.Redirect,
                    Url = url,
                    StatusCode = response.StatusCode,
                    RequestId = requestId,
                    IsTransient = true,
                };
            }

            if (!response.IsSuccessStatusCode)
            {
                throw PcsCollateralSource.StatusError(url, response, verb);
            }

            var headers = new Received(response, requestId);
            var content = await ReadBoundedAsync(verb, url, response, limit.Token).ConfigureAwait(false);
            return (headers, content, url);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException e)
        {
            throw new CollateralFetchException($"{verb} {url}: timed out", e) { Failure = CollateralFetchFailure.Timeout, Url = url, IsTransient = true };
        }
        catch (HttpRequestException e)
        {
            throw new CollateralFetchException($"{verb} {url}: {e.Message}", e) { Failure = CollateralFetchFailure.Network, Url = url, StatusCode = e.StatusCode, IsTransient = true };
        }
        catch (IOException e)
        {
            throw new CollateralFetchException($"{verb} {url}: response cut short: {e.Message}", e) { Failure = CollateralFetchFailure.Network, Url = url, IsTransient = true };
        }
    }

    private Task<byte[]> ReadBoundedAsync(string verb, Uri url, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var max = _options.MaxResponseBytes;
        return BoundedContent.ReadAsync(response.Content, max, _ => new CollateralFetchException($"{verb} {url}: response body exceeds the {max}-byte limit")
        {
            Failure = CollateralFetchFailure.ResponseTooLarge,
            Url = url,
            StatusCode = response.StatusCode,
        }, cancellationToken);
    }

    private Uri Api(string tee, string path, string? query) =>
        new(_base, $"{tee}/certification/v{ApiVersion}/{path}" + (query is null ? "" : "?" + query));

    private static string Update(string update) => update?.ToLowerInvariant() switch
    {
        "standard" => "standard",
        "early" => "early",
        _ => throw new ArgumentException($"update {update} is not standard or early", nameof(update)),
    };

    private static void RequireHex(string value, int length, string name)
    {
        ArgumentNullException.ThrowIfNull(value, name);
        if (value.Length != length || !PlatformEntry.IsHex(value))
        {
            throw new ArgumentException($"{name} must be {length} hex digits, got {value.Length} characters", name);
        }
    }

    private static string RequireHeader(Uri url, Received response, params string[] names)
    {
        foreach (var name in names)
        {
            if (response.Headers.TryGetValue(name, out var value))
            {
                return value;
            }
        }

        throw new CollateralFetchException($"{url}: response lacks the {names[0]} header")
        {
            Failure = CollateralFetchFailure.MissingHeader,
            Url = url,
            StatusCode = HttpStatusCode.OK,
            RequestId = response.RequestId,
        };
    }

    private static CollateralFetchException Invalid(Uri url, HttpStatusCode status, Exception e) =>
        new($"{url}: {e.Message}", e) { Failure = CollateralFetchFailure.InvalidContent, Url = url, StatusCode = status };

    private static string Short(string text) => text.Length <= 24 ? text : text[..24] + "…";

    /// <summary>The response headers kept after the response is disposed (case-insensitive names).</summary>
    private sealed class Received
    {
        public Received(HttpResponseMessage response, string? requestId)
        {
            RequestId = requestId;
            foreach (var (name, values) in response.Headers.NonValidated.Concat(response.Content.Headers.NonValidated))
            {
                foreach (var value in values)
                {
                    Headers.TryAdd(name, value);
                    break;
                }
            }
        }

        public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

        public string? RequestId { get; }
    }
}
