using System.Buffers.Text;
using System.Net.Http.Headers;
using System.Text.Json;
using Veritee.Tokens;

namespace Veritee.Client;

/// <summary>
/// Attests SGX quotes and Open Enclave reports with a Microsoft Azure Attestation compatible instance
/// (<c>https://&lt;name&gt;.&lt;region&gt;.attest.azure.net</c>, <c>veritee serve</c>, …) and validates every token it
/// returns against that instance: keys only from its <c>/certs</c>, <c>jku</c> = <c>{instance}/certs</c>, issuer =
/// instance, RS256, lifetime. The token's own <c>jku</c>, <c>x5c</c> or <c>jwk</c> are never used to find keys.
/// </summary>
public sealed class AttestationClient : IDisposable
{
    private readonly MaaConnection _connection;
    private readonly AttestationCredential? _credential;

    /// <summary>Creates a client for <paramref name="endpoint"/> (the instance URI; a trailing slash is ignored).</summary>
    /// <param name="endpoint">The instance URI: the pinned token issuer.</param>
    /// <param name="options">Options, or null for the defaults.</param>
    /// <param name="credential">Optional bearer credential sent with attest requests (anonymous by default).</param>
    /// <exception cref="ArgumentException">Not an absolute http(s) URI, or invalid options.</exception>
    public AttestationClient(Uri endpoint, AttestationClientOptions? options = null, AttestationCredential? credential = null)
    {
        _connection = new MaaConnection(endpoint, options);
        _credential = credential;
    }

    /// <summary>The pinned instance (no trailing slash).</summary>
    public string Endpoint => _connection.Instance;

    /// <summary>How many times this client fetched the instance's <c>/certs</c>.</summary>
    public long SigningKeysFetchCount => _connection.KeysFetchCount;

    /// <summary>Attests a raw SGX quote at <c>POST /attest/SgxEnclave</c>.</summary>
    /// <exception cref="AttestationException">The service refused the request.</exception>
    /// <exception cref="AttestationTokenValidationException">The returned token is not valid for the pinned instance.</exception>
    public Task<AttestationResponse<AttestationResult>> AttestSgxEnclaveAsync(AttestationRequest request, CancellationToken cancellationToken = default) =>
        AttestAsync(AttestationType.SgxEnclave, request, cancellationToken);

    /// <summary>Attests an Open Enclave report at <c>POST /attest/OpenEnclave</c>.</summary>
    /// <exception cref="AttestationException">The service refused the request.</exception>
    /// <exception cref="AttestationTokenValidationException">The returned token is not valid for the pinned instance.</exception>
    public Task<AttestationResponse<AttestationResult>> AttestOpenEnclaveAsync(AttestationRequest request, CancellationToken cancellationToken = default) =>
        AttestAsync(AttestationType.OpenEnclave, request, cancellationToken);

    /// <summary>
    /// Attests an Intel TDX quote (v4 or v5) at <c>POST /attest/TdxVm</c> with
    /// <see cref="AttestationClientOptions.TdxApiVersion"/>. The token is validated against the pinned instance as
    /// for SGX, must say <c>x-ms-attestation-type: tdxvm</c>, and its TDX claims must be well formed.
    /// </summary>
    /// <exception cref="AttestationException">The service refused the request.</exception>
    /// <exception cref="AttestationTokenValidationException">The returned token is not valid for the pinned instance, or is not a well-formed TDX token.</exception>
    public async Task<AttestationResponse<TdxAttestationResult>> AttestTdxVmAsync(AttestationRequest request, CancellationToken cancellationToken = default)
    {
        var token = await SendAttestAsync(AttestationType.TdxVm, request, cancellationToken).ConfigureAwait(false);
        var result = TdxClaims.Read(token.Claims);
        CheckNonce(request, result.Nonce);
        return new AttestationResponse<TdxAttestationResult>(result, token);
    }

    /// <summary>
    /// Attests evidence of <paramref name="type"/> and reads the SGX claims (for <see cref="AttestationType.TdxVm"/>
    /// prefer <see cref="AttestTdxVmAsync"/>, which reads the TDX claims).
    /// </summary>
    /// <exception cref="AttestationException">The service refused the request.</exception>
    /// <exception cref="AttestationTokenValidationException">The returned token is not valid for the pinned instance.</exception>
    public async Task<AttestationResponse<AttestationResult>> AttestAsync(AttestationType type, AttestationRequest request, CancellationToken cancellationToken = default)
    {
        var token = await SendAttestAsync(type, request, cancellationToken).ConfigureAwait(false);
        var result = ReadResult(token.Claims);
        CheckNonce(request, result.Nonce);
        return new AttestationResponse<AttestationResult>(result, token);
    }

    /// <summary>The instance's token signing keys (<c>GET /certs</c>, cached by this client).</summary>
    public async Task<IReadOnlyList<MaaSigningKey>> GetSigningCertificatesAsync(CancellationToken cancellationToken = default) =>
        (await _connection.GetKeysAsync(cancellationToken).ConfigureAwait(false)).Keys;

    /// <summary>The instance's OpenID metadata (<c>GET /.well-known/openid-configuration</c>), as JSON.</summary>
    /// <exception cref="AttestationException">The service answered with an error or not with a JSON object.</exception>
    public async Task<JsonElement> GetOpenIdMetadataAsync(CancellationToken cancellationToken = default)
    {
        var (status, body) = await _connection.SendAsync(HttpMethod.Get, Endpoint + "/.well-known/openid-configuration", null, "application/json", null, cancellationToken).ConfigureAwait(false);
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document.RootElement.Clone();
            }
        }
        catch (JsonException)
        {
        }

        throw new AttestationException(status, null, null, "the OpenID metadata is not a JSON object");
    }

    /// <summary>
    /// Validates a token against this instance (what the attest methods do with every answer). Never throws for a bad
    /// token: the result names the failure. The instance's <c>/certs</c> is fetched again once for an unknown <c>kid</c>.
    /// </summary>
    /// <exception cref="AttestationException">The instance's <c>/certs</c> could not be fetched.</exception>
    public Task<MaaTokenValidationResult> ValidateTokenAsync(string token, CancellationToken cancellationToken = default) =>
        _connection.ValidateAsync(token, cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

    private static void CheckNonce(AttestationRequest request, string? nonce)
    {
        if (request.Nonce is not null && !string.Equals(nonce, request.Nonce, StringComparison.Ordinal))
        {
            throw new AttestationTokenValidationException("UnexpectedContent", $"the token's nonce '{nonce ?? "(absent)"}' is not the nonce sent");
        }
    }

    private async Task<AttestationToken> SendAttestAsync(AttestationType type, AttestationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Evidence.IsEmpty)
        {
            throw new ArgumentException("the evidence is empty", nameof(request));
        }

        using var content = new ByteArrayContent(RequestBody(type, request));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var apiVersion = type == AttestationType.TdxVm ? _connection.Options.TdxApiVersion : null;
        var text = await _connection.SendForTokenAsync(HttpMethod.Post, "/attest/" + type, content, _credential, cancellationToken, apiVersion).ConfigureAwait(false);
        return request.DraftPolicyForAttestation is null
            ? await _connection.ValidateOrThrowAsync(text, cancellationToken).ConfigureAwait(false)
            : await _connection.ValidateDraftAnswerAsync(text, cancellationToken).ConfigureAwait(false);
    }

    internal static byte[] RequestBody(AttestationType type, AttestationRequest request)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString(type == AttestationType.OpenEnclave ? "report" : "quote", Base64Url.EncodeToString(request.Evidence.Span));
            WriteData(w, "runtimeData", request.RuntimeData);
            WriteData(w, "initTimeData", request.InitTimeData);
            if (request.DraftPolicyForAttestation is { } draft)
            {
                w.WriteString("draftPolicyForAttestation", draft);
            }

            if (request.Nonce is { } nonce)
            {
                w.WriteString("nonce", nonce);
            }

            w.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static void WriteData(Utf8JsonWriter w, string name, AttestationData? data)
    {
        if (data is null)
        {
            return;
        }

        w.WriteStartObject(name);
        w.WriteString("data", Base64Url.EncodeToString(data.Data.Span));
        w.WriteString("dataType", data.IsJson ? "JSON" : "Binary");
        w.WriteEndObject();
    }

    internal static AttestationResult ReadResult(JsonElement claims)
    {
        string? Str(string name) => claims.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        ulong? UInt(string name) => claims.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetUInt64(out var n) ? n : null;
        JsonElement? Obj(string name) => claims.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.Clone() : null;
        bool? Bool(string name) => claims.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

        ReadOnlyMemory<byte>? ehd = null;
        if (Str("x-ms-sgx-ehd") is { } ehdText)
        {
            try
            {
                ehd = Base64Url.DecodeFromChars(ehdText);
            }
            catch (FormatException)
            {
                throw new AttestationTokenValidationException("UnexpectedContent", "the token's x-ms-sgx-ehd is not base64url");
            }
        }

        return new AttestationResult
        {
            Issuer = Str("iss") ?? string.Empty,
            IssuedAt = MaaConnection.UnixTime(claims, "iat"),
            NotBefore = MaaConnection.UnixTime(claims, "nbf"),
            Expires = MaaConnection.UnixTime(claims, "exp"),
            UniqueIdentifier = Str("jti"),
            Version = Str("x-ms-ver"),
            VerifierType = Str("x-ms-attestation-type"),
            IsDebuggable = Bool("x-ms-sgx-is-debuggable"),
            MrEnclave = Str("x-ms-sgx-mrenclave"),
            MrSigner = Str("x-ms-sgx-mrsigner"),
            ProductId = UInt("x-ms-sgx-product-id"),
            Svn = UInt("x-ms-sgx-svn"),
            EnclaveHeldData = ehd,
            ReportData = Str("x-ms-sgx-report-data"),
            PolicyHash = Str("x-ms-policy-hash"),
            Nonce = Str("nonce"),
            RuntimeClaims = Obj("x-ms-runtime"),
            InitTimeClaims = Obj("x-ms-inittime"),
            PolicyClaims = Obj("x-ms-policy"),
            SgxCollateral = Obj("x-ms-sgx-collateral"),
            IsSimulated = Bool("veritee-simulated") == true,
            Claims = claims.Clone(),
        };
    }
}
