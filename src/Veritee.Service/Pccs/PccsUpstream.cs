using System.Net;
using System.Text;
using Veritee.Dcap.Collateral;

namespace Veritee.Service.Pccs;

/// <summary>What PCS answered: status, the headers a PCCS reads, and the body (bounded).</summary>
internal sealed record UpstreamAnswer(HttpStatusCode Status, byte[] Body, IReadOnlyDictionary<string, string> Headers, string What)
{
    public bool Ok => Status == HttpStatusCode.OK;

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;

    /// <summary>An actionable reason for a non-200 answer (PCS's Error-Code and Error-Message when it sent them).</summary>
    public string Failure()
    {
        var code = Header("Error-Code");
        var message = Header("Error-Message");
        var detail = code is null && message is null ? "" : $" ({code}{(code is not null && message is not null ? ": " : "")}{message})";
        var hint = Status switch
        {
            HttpStatusCode.Unauthorized => " - check the PCS subscription key (serve --pcs-key).",
            HttpStatusCode.NotFound => " - PCS does not know this platform or item (unregistered or reset platform, wrong FMSPC, bad encrypted PPID).",
            HttpStatusCode.TooManyRequests => " - PCS rate limit; retry later.",
            _ => ".",
        };
        return $"PCS answered HTTP {(int)Status} for {What}{detail}{hint}";
    }
}

/// <summary>The upstream could not be reached (502 on the route).</summary>
internal sealed class PccsUpstreamException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The PCCS's client of the upstream PCS (or another PCCS): GETs under the base URL, redirects not followed, bodies
/// bounded. The subscription key is sent only where PCS needs it (<c>pckcerts</c>) and never as an empty header.
/// </summary>
internal sealed class PccsUpstream(HttpClient http, Uri baseAddress, Uri rootCaCrl, string? subscriptionKey)
{
    /// <summary>4 MiB: far above any real item (PCK certificate sets are ~30 KiB, a TDX TCB Info ~15 KiB).</summary>
    public const int MaxBodyBytes = 4 * 1024 * 1024;

    private static readonly string[] KeptHeaders =
    [
        "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain", "SGX-Enclave-Identity-Issuer-Chain", "SGX-PCK-CRL-Issuer-Chain",
        "SGX-PCK-Certificate-Issuer-Chain", "SGX-FMSPC", "SGX-PCK-Certificate-CA-Type", "Error-Code", "Error-Message",
    ];

    private readonly Uri _base = new(baseAddress.AbsoluteUri.EndsWith('/') ? baseAddress.AbsoluteUri : baseAddress.AbsoluteUri + "/");

    public Uri RootCaCrl => rootCaCrl;

    public Task<UpstreamAnswer> GetAsync(string relative, CancellationToken cancellationToken, bool withKey = false) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(_base, relative)), relative.Split('?')[0], withKey, cancellationToken);

    public Task<UpstreamAnswer> GetAbsoluteAsync(Uri url, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, url), url.GetLeftPart(UriPartial.Path), false, cancellationToken);

    public Task<UpstreamAnswer> PostJsonAsync(string relative, string json, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_base, relative)) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        return SendAsync(request, relative, true, cancellationToken);
    }

    private async Task<UpstreamAnswer> SendAsync(HttpRequestMessage request, string what, bool withKey, CancellationToken cancellationToken)
    {
        using (request)
        {
            if (withKey && !string.IsNullOrEmpty(subscriptionKey))
            {
                request.Headers.TryAddWithoutValidation("Ocp-Apim-Subscription-Key", subscriptionKey);
            }

            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var name in KeptHeaders)
                {
                    if (response.Headers.TryGetValues(name, out var values))
                    {
                        headers[name] = string.Join(",", values);
                    }
                }

                var body = await ReadBoundedAsync(response.Content, what, cancellationToken).ConfigureAwait(false);
                return new UpstreamAnswer(response.StatusCode, body, headers, what);
            }
            catch (HttpRequestException e)
            {
                throw new PccsUpstreamException($"{request.RequestUri!.GetLeftPart(UriPartial.Path)}: {e.Message}", e);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new PccsUpstreamException($"{request.RequestUri!.GetLeftPart(UriPartial.Path)}: timed out", e);
            }
        }
    }

    private static Task<byte[]> ReadBoundedAsync(HttpContent content, string what, CancellationToken cancellationToken) =>
        BoundedContent.ReadAsync(content, MaxBodyBytes, declared => new PccsUpstreamException(declared is { } length
            ? $"{what}: the answer is {length} bytes, more than {MaxBodyBytes}"
            : $"{what}: the answer is more than {MaxBodyBytes} bytes"), cancellationToken);
}

/// <summary>Header names as PCS and Intel's PCCS write them.</summary>
internal static class PccsHeaders
{
    public const string TcbInfoChain = "TCB-Info-Issuer-Chain";
    public const string SgxTcbInfoChain = "SGX-TCB-Info-Issuer-Chain";
    public const string IdentityChain = "SGX-Enclave-Identity-Issuer-Chain";
    public const string PckCrlChain = "SGX-PCK-CRL-Issuer-Chain";
    public const string PckCertChain = "SGX-PCK-Certificate-Issuer-Chain";
    public const string Fmspc = "SGX-FMSPC";
    public const string CaType = "SGX-PCK-Certificate-CA-Type";
    public const string Tcbm = "SGX-TCBm";
    public const string PlatformCount = "platform-count";
}
