using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Veritee.Tokens;

namespace Veritee.Client;

/// <summary>
/// What both clients share: the pinned instance, HTTP with MAA's error envelope mapped to <see cref="AttestationException"/>,
/// the instance's <c>/certs</c> (cached, fetched again once when a token names an unknown <c>kid</c>) and token validation.
/// </summary>
internal sealed class MaaConnection : IDisposable
{
    private const string JwksAccept = "application/jwk+json, application/json";
    private const int MaxResponseBytes = 4 * 1024 * 1024;

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly AttestationClientOptions _options;
    private readonly SemaphoreSlim _keysLock = new(1, 1);
    private MaaSigningKeys? _keys;
    private long _keysVersion;

    public MaaConnection(Uri endpoint, AttestationClientOptions? options)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _options = options ?? new AttestationClientOptions();
        _options.Check();
        Instance = NormalizeInstance(endpoint);

        // The token-signing keys come from /certs over this connection: plain http to another host would let anyone on
        // the path substitute them. Loopback (tests, sidecars) is allowed; elsewhere only by explicit choice.
        if (endpoint.Scheme == Uri.UriSchemeHttp && !endpoint.IsLoopback && !_options.AllowInsecureHttp)
        {
            throw new ArgumentException($"'{endpoint}' is plain http to a non-loopback host; use https, or set AllowInsecureHttp", nameof(endpoint));
        }

        if (_options.HttpClient is { } http)
        {
            _http = http;
        }
        else
        {
            _http = new HttpClient(_options.Handler ?? CreateHandler(_options.TrustedServerCertificates), disposeHandler: _options.Handler is null)
            {
                Timeout = _options.RequestTimeout,
            };
            _ownsHttp = true;
        }
    }

    /// <summary>The instance URI without trailing slash: the pinned issuer and the <c>jku</c> prefix.</summary>
    public string Instance { get; }

    public AttestationClientOptions Options => _options;

    /// <summary>How many times the JWKS was fetched (diagnostics and tests).</summary>
    public long KeysFetchCount => Interlocked.Read(ref _keysVersion);

    public static string NormalizeInstance(Uri endpoint)
    {
        if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp))
        {
            throw new ArgumentException($"the endpoint must be an absolute http(s) URI, not '{endpoint}'", nameof(endpoint));
        }

        if (endpoint.Query.Length > 0 || endpoint.Fragment.Length > 0 || endpoint.UserInfo.Length > 0)
        {
            throw new ArgumentException($"the endpoint must not carry a query, fragment or user info: '{endpoint}'", nameof(endpoint));
        }

        return endpoint.GetLeftPart(UriPartial.Path).TrimEnd('/');
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }

        _keysLock.Dispose();
    }

    /// <summary>Sends a request to <c>{instance}{path}?api-version=…</c> (the options' version unless <paramref name="apiVersion"/> is given) and returns the <c>token</c> of the <c>{"token": …}</c> answer.</summary>
    public async Task<string> SendForTokenAsync(HttpMethod method, string path, HttpContent? content, AttestationCredential? credential, CancellationToken cancellationToken, string? apiVersion = null)
    {
        var url = Instance + path + "?api-version=" + Uri.EscapeDataString(apiVersion ?? _options.ApiVersion);
        var (_, body) = await SendAsync(method, url, content, "application/json", credential, cancellationToken).ConfigureAwait(false);
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("token", out var token) && token.ValueKind == JsonValueKind.String &&
                token.GetString() is { Length: > 0 } text)
            {
                return text;
            }
        }
        catch (JsonException)
        {
        }

        throw new AttestationException(HttpStatusCode.OK, null, null, $"{method} {path}: the answer is not an MAA {{\"token\": …}} body");
    }

    /// <summary>The pinned signing keys, fetched from <c>{instance}/certs</c> on first use.</summary>
    public async Task<MaaSigningKeys> GetKeysAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _keys) is { } keys)
        {
            return keys;
        }

        return await RefreshKeysAsync(-1, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Fetches <c>/certs</c> again unless another caller already did so since <paramref name="seenVersion"/> (concurrent
    /// validations share one fetch).
    /// </summary>
    private async Task<MaaSigningKeys> RefreshKeysAsync(long seenVersion, CancellationToken cancellationToken)
    {
        await _keysLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_keys is { } current && Interlocked.Read(ref _keysVersion) != seenVersion)
            {
                return current;
            }

            var (_, body) = await SendAsync(HttpMethod.Get, Instance + "/certs", null, JwksAccept, null, cancellationToken).ConfigureAwait(false);
            MaaSigningKeys parsed;
            try
            {
                parsed = MaaSigningKeys.Parse(body);
            }
            catch (TokenFormatException e)
            {
                throw new AttestationException(HttpStatusCode.OK, null, null, $"{Instance}/certs is not a usable JWKS: {e.Message}", e);
            }

            Volatile.Write(ref _keys, parsed);
            Interlocked.Increment(ref _keysVersion);
            return parsed;
        }
        finally
        {
            _keysLock.Release();
        }
    }

    /// <summary>
    /// Validates a token issued by the pinned instance: RS256 with a key from its <c>/certs</c> (fetched again once
    /// when the <c>kid</c> is unknown), <c>jku</c> = <c>{instance}/certs</c>, <c>iss</c> = instance, lifetime with skew.
    /// </summary>
    public async Task<MaaTokenValidationResult> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        var version = Interlocked.Read(ref _keysVersion);
        var keys = await GetKeysAsync(cancellationToken).ConfigureAwait(false);
        var fetchedNow = Interlocked.Read(ref _keysVersion) != version;
        var result = await Validator(keys).ValidateAsync(token).ConfigureAwait(false);
        if (result.Failure == MaaTokenFailure.UnknownKid && result.Kid is not null && !fetchedNow)
        {
            // The instance may have rotated its key: fetch /certs once more, then decide.
            keys = await RefreshKeysAsync(Interlocked.Read(ref _keysVersion), cancellationToken).ConfigureAwait(false);
            result = await Validator(keys).ValidateAsync(token).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>Validates and throws <see cref="AttestationTokenValidationException"/> when invalid.</summary>
    public async Task<AttestationToken> ValidateOrThrowAsync(string token, CancellationToken cancellationToken)
    {
        var result = await ValidateAsync(token, cancellationToken).ConfigureAwait(false);
        if (!result.IsValid)
        {
            throw new AttestationTokenValidationException(result.Failure.ToString(), $"the token from {Instance} is not valid: {result.Failure}: {result.Message}", result);
        }

        return new AttestationToken
        {
            Text = token,
            Header = result.Header!.Value,
            Claims = result.Claims!.Value,
            IsSigned = true,
            Kid = result.Kid,
            SigningKey = result.SigningKey,
            ValidatedAt = result.ValidatedAt,
        };
    }

    /// <summary>
    /// The answer to a draft-policy attest is unsigned by design (<c>alg: none</c>, empty signature). Nothing in it is
    /// authenticated; the header <c>jku</c>, the issuer and the lifetime are still checked so that a token from elsewhere
    /// is not mistaken for it. Any other <c>alg</c> goes through full validation.
    /// </summary>
    public async Task<AttestationToken> ValidateDraftAnswerAsync(string token, CancellationToken cancellationToken)
    {
        CompactJws jws;
        try
        {
            jws = CompactJws.Parse(token);
        }
        catch (TokenFormatException e)
        {
            throw new AttestationTokenValidationException(nameof(MaaTokenFailure.Malformed), $"the token from {Instance} is not valid: Malformed: {e.Message}");
        }

        if (!string.Equals(jws.Algorithm, "none", StringComparison.Ordinal))
        {
            return await ValidateOrThrowAsync(token, cancellationToken).ConfigureAwait(false);
        }

        var now = _options.TimeProvider.GetUtcNow();
        if (jws.Signature.Length != 0)
        {
            throw DraftFailure(MaaTokenFailure.Malformed, "alg none with a non-empty signature");
        }

        if (!string.Equals(jws.HeaderString("jku"), Instance + "/certs", StringComparison.Ordinal))
        {
            throw DraftFailure(MaaTokenFailure.JkuMismatch, $"header jku '{jws.HeaderString("jku") ?? "(absent)"}' is not '{Instance}/certs'");
        }

        JsonElement claims;
        try
        {
            claims = jws.PayloadJson();
        }
        catch (TokenFormatException e)
        {
            throw DraftFailure(MaaTokenFailure.Malformed, e.Message);
        }

        if (!claims.TryGetProperty("iss", out var iss) || iss.ValueKind != JsonValueKind.String || iss.GetString() != Instance)
        {
            throw DraftFailure(MaaTokenFailure.IssuerMismatch, $"issuer is not the pinned '{Instance}'");
        }

        var exp = UnixTime(claims, "exp") ?? throw DraftFailure(MaaTokenFailure.MissingOrInvalidLifetime, "no exp claim");
        if (exp + _options.ClockSkew < now)
        {
            throw DraftFailure(MaaTokenFailure.Expired, "expired");
        }

        if (UnixTime(claims, "nbf") is { } nbf && nbf - _options.ClockSkew > now)
        {
            throw DraftFailure(MaaTokenFailure.NotYetValid, "not yet valid");
        }

        return new AttestationToken
        {
            Text = token,
            Header = jws.Header,
            Claims = claims.Clone(),
            IsSigned = false,
            Kid = jws.HeaderString("kid"),
            ValidatedAt = now,
        };
    }

    private AttestationTokenValidationException DraftFailure(MaaTokenFailure failure, string message) =>
        new(failure.ToString(), $"the unsigned draft-policy token from {Instance} is not valid: {failure}: {message}");

    internal static DateTimeOffset? UnixTime(JsonElement claims, string name) =>
        claims.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var s) && s is >= -62135596800 and <= 253402300799
            ? DateTimeOffset.FromUnixTimeSeconds(s)
            : null;

    private MaaTokenValidator Validator(MaaSigningKeys keys) => new(keys, new MaaTokenValidationOptions
    {
        Issuer = Instance,
        Instance = Instance,
        ClockSkew = _options.ClockSkew,
        SigningCertificateIssuer = _options.SigningCertificateIssuer,
        TimeProvider = _options.TimeProvider,
    });

    public async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string url, HttpContent? content, string accept, AttestationCredential? credential, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        request.Headers.Accept.ParseAdd(accept);
        if (credential is not null)
        {
            var bearer = await credential.GetTokenAsync(cancellationToken).ConfigureAwait(false);
            if (string.IsNullOrWhiteSpace(bearer))
            {
                throw new InvalidOperationException("the credential returned an empty bearer token");
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var body = await ReadLimitedAsync(response.Content, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return (response.StatusCode, body);
        }

        var (code, message) = ReadEnvelope(body);
        var what = string.Create(CultureInfo.InvariantCulture, $"{method} {new Uri(url).AbsolutePath}: {(int)response.StatusCode} {response.ReasonPhrase}");
        var text = code is null ? what + (body.Length > 0 ? " (no MAA error envelope)" : string.Empty) : $"{what}: {code}: {message}";
        throw new AttestationException(response.StatusCode, code, message, text);
    }

    private static async Task<string> ReadLimitedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxResponseBytes)
            {
                throw new AttestationException(HttpStatusCode.OK, null, null, "the service's answer is larger than 4 MiB");
            }

            buffer.Write(chunk, 0, read);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Reads <c>{"error":{"code","message"}}</c>; (null, null) for anything else.</summary>
    internal static (string? Code, string? Message) ReadEnvelope(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object &&
                error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String)
            {
                var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                return (code.GetString(), message);
            }
        }
        catch (JsonException)
        {
        }

        return (null, null);
    }

    private static SocketsHttpHandler CreateHandler(IReadOnlyList<X509Certificate2>? trusted)
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        if (trusted is { Count: > 0 })
        {
            var anchors = new X509Certificate2Collection();
            foreach (var cert in trusted)
            {
                anchors.Add(cert);
            }

            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                errors == SslPolicyErrors.None || (errors == SslPolicyErrors.RemoteCertificateChainErrors && certificate is not null && ChainsTo(certificate, anchors));
        }

        return handler;
    }

    private static bool ChainsTo(X509Certificate certificate, X509Certificate2Collection anchors)
    {
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }
}
