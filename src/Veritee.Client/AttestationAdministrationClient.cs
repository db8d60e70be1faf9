using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Veritee.Tokens;

namespace Veritee.Client;

/// <summary>
/// Manages an MAA-compatible instance: attestation policies (get, set unsigned or signed, reset) and, on isolated
/// instances, the policy-management certificates. Every request carries the credential's bearer token; every answer
/// is a token validated against the pinned instance like <see cref="AttestationClient"/> does.
/// </summary>
public sealed class AttestationAdministrationClient : IDisposable
{
    private readonly MaaConnection _connection;
    private readonly AttestationCredential _credential;

    /// <summary>Creates a client for <paramref name="endpoint"/>.</summary>
    /// <param name="endpoint">The instance URI: the pinned token issuer.</param>
    /// <param name="credential">Supplies the bearer token of every request.</param>
    /// <param name="options">Options, or null for the defaults.</param>
    /// <exception cref="ArgumentException">
    /// Not an absolute http(s) URI, invalid options, or plain http to a host other than loopback (a bearer token is
    /// never sent in clear text over the network).
    /// </exception>
    public AttestationAdministrationClient(Uri endpoint, AttestationCredential credential, AttestationClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(credential);
        if (endpoint.IsAbsoluteUri && endpoint.Scheme == Uri.UriSchemeHttp && !endpoint.IsLoopback)
        {
            throw new ArgumentException($"refusing to send an administrator bearer token over plain http to {endpoint.Host}; use https", nameof(endpoint));
        }

        _connection = new MaaConnection(endpoint, options);
        _credential = credential;
    }

    /// <summary>The pinned instance (no trailing slash).</summary>
    public string Endpoint => _connection.Instance;

    /// <summary>The stored (or default) policy of <paramref name="type"/> (<c>GET /policies/{type}</c>).</summary>
    /// <exception cref="AttestationException">The service refused the request.</exception>
    /// <exception cref="AttestationTokenValidationException">The answer is not a valid token of the instance, or carries no readable policy.</exception>
    public async Task<AttestationResponse<AttestationPolicy>> GetPolicyAsync(AttestationType type, CancellationToken cancellationToken = default)
    {
        var token = await SendAsync(HttpMethod.Get, "/policies/" + type, null, cancellationToken).ConfigureAwait(false);
        if (!token.Claims.TryGetProperty("x-ms-policy", out var policy) || policy.ValueKind != JsonValueKind.String)
        {
            throw new AttestationTokenValidationException("UnexpectedContent", "the policy token has no x-ms-policy string");
        }

        var jws = policy.GetString()!;
        PolicyJws parsed;
        try
        {
            parsed = PolicyJws.Parse(jws);
        }
        catch (TokenFormatException e)
        {
            throw new AttestationTokenValidationException("UnexpectedContent", "x-ms-policy is not a policy JWS: " + e.Message);
        }

        if (parsed.PolicyText is null)
        {
            throw new AttestationTokenValidationException("UnexpectedContent", "x-ms-policy has an empty payload");
        }

        if (parsed.IsSigned && parsed.VerifySignature() != JwsSignatureStatus.Valid)
        {
            throw new AttestationTokenValidationException("UnexpectedContent", "x-ms-policy is signed but its signature does not verify with its certificate");
        }

        return new AttestationResponse<AttestationPolicy>(new AttestationPolicy(parsed.PolicyText, jws, parsed.SignerCertificate), token);
    }

    /// <summary>
    /// Sets the policy of <paramref name="type"/> (<c>PUT /policies/{type}</c>) as an unsigned JWS, or signed by
    /// <paramref name="signer"/> (required on isolated instances). The answer's <c>x-ms-policy-token-hash</c> must be
    /// the SHA-256 of the JWS sent.
    /// </summary>
    /// <exception cref="AttestationException">The service refused the policy (e.g. <c>PolicyParsingError</c>, <c>Unauthorized</c>).</exception>
    /// <exception cref="AttestationTokenValidationException">The answer is not a valid token of the instance or does not confirm this policy.</exception>
    public async Task<AttestationResponse<PolicyResult>> SetPolicyAsync(AttestationType type, string policyText, JwsSigningKey? signer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policyText);
        var jws = signer is null ? PolicyJws.CreateUnsigned(policyText) : PolicyJws.CreateSigned(policyText, signer);
        using var content = new StringContent(jws, Encoding.ASCII, "text/plain");
        var token = await SendAsync(HttpMethod.Put, "/policies/" + type, content, cancellationToken).ConfigureAwait(false);
        var result = ReadPolicyResult(token, jws);
        if (result.Result != PolicyModification.Updated)
        {
            throw new AttestationTokenValidationException("UnexpectedContent", $"the service answered '{result.Result}' to a policy set");
        }

        var expected = System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(jws)));
        if (!string.Equals(result.PolicyTokenHash, expected, StringComparison.Ordinal))
        {
            throw new AttestationTokenValidationException("PolicyTokenHashMismatch", $"x-ms-policy-token-hash '{result.PolicyTokenHash ?? "(absent)"}' is not the hash of the policy sent ('{expected}')");
        }

        return new AttestationResponse<PolicyResult>(result, token);
    }

    /// <summary>Removes the stored policy of <paramref name="type"/> (<c>POST /policies/{type}:reset</c>); the default applies again.</summary>
    /// <exception cref="AttestationException">The service refused the request.</exception>
    /// <exception cref="AttestationTokenValidationException">The answer is not a valid token of the instance or does not confirm the reset.</exception>
    public async Task<AttestationResponse<PolicyResult>> ResetPolicyAsync(AttestationType type, JwsSigningKey? signer = null, CancellationToken cancellationToken = default)
    {
        var jws = signer is null ? PolicyJws.CreateUnsigned(null) : PolicyJws.CreateSigned(null, signer);
        using var content = new StringContent(jws, Encoding.ASCII, "text/plain");
        var token = await SendAsync(HttpMethod.Post, "/policies/" + type + ":reset", content, cancellationToken).ConfigureAwait(false);
        var result = ReadPolicyResult(token, jws);
        if (result.Result != PolicyModification.Removed)
        {
            throw new AttestationTokenValidationException("UnexpectedContent", $"the service answered '{result.Result}' to a policy reset");
        }

        return new AttestationResponse<PolicyResult>(result, token);
    }

    /// <summary>The policy-management certificates (<c>GET /certificates</c>); empty on AAD and shared instances.</summary>
    /// <exception cref="AttestationException">The service refused the request.</exception>
    /// <exception cref="AttestationTokenValidationException">The answer is not a valid token of the instance or has no certificate list.</exception>
    public async Task<AttestationResponse<IReadOnlyList<X509Certificate2>>> GetPolicyManagementCertificatesAsync(CancellationToken cancellationToken = default)
    {
        var token = await SendAsync(HttpMethod.Get, "/certificates", null, cancellationToken).ConfigureAwait(false);
        if (!token.Claims.TryGetProperty("x-ms-policy-certificates", out var set) || set.ValueKind != JsonValueKind.Object ||
            !set.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            throw new AttestationTokenValidationException("UnexpectedContent", "the token has no x-ms-policy-certificates.keys array");
        }

        var list = new List<X509Certificate2>();
        foreach (var key in keys.EnumerateArray())
        {
            list.Add(FirstCertificate(key, "x-ms-policy-certificates"));
        }

        return new AttestationResponse<IReadOnlyList<X509Certificate2>>(list, token);
    }

    /// <summary>
    /// Adds <paramref name="certificate"/> to the policy-management set (<c>POST /certificates:add</c>) with a JWS signed
    /// by <paramref name="signer"/>, a current member. Only isolated instances accept it; others answer 400
    /// <c>InvalidOperation</c>, raised as <see cref="AttestationException"/>.
    /// </summary>
    /// <exception cref="AttestationException">The service refused the request.</exception>
    /// <exception cref="AttestationTokenValidationException">The answer is not a valid token of the instance or names another certificate.</exception>
    public Task<AttestationResponse<PolicyCertificatesModificationResult>> AddPolicyManagementCertificateAsync(X509Certificate2 certificate, JwsSigningKey signer, CancellationToken cancellationToken = default) =>
        ModifyCertificatesAsync("/certificates:add", certificate, signer, cancellationToken);

    /// <summary>Removes <paramref name="certificate"/> from the policy-management set (<c>POST /certificates:remove</c>); see <see cref="AddPolicyManagementCertificateAsync"/>.</summary>
    /// <exception cref="AttestationException">The service refused the request.</exception>
    /// <exception cref="AttestationTokenValidationException">The answer is not a valid token of the instance or names another certificate.</exception>
    public Task<AttestationResponse<PolicyCertificatesModificationResult>> RemovePolicyManagementCertificateAsync(X509Certificate2 certificate, JwsSigningKey signer, CancellationToken cancellationToken = default) =>
        ModifyCertificatesAsync("/certificates:remove", certificate, signer, cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

    private async Task<AttestationResponse<PolicyCertificatesModificationResult>> ModifyCertificatesAsync(string path, X509Certificate2 certificate, JwsSigningKey signer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(signer);
        var jws = PolicyCertificateJws.Create(certificate, signer);

        // MAA takes this body as a JSON string holding the JWS.
        using var content = new StringContent(JsonSerializer.Serialize(jws, ClientJson.Default.String), Encoding.UTF8, "application/json");
        var token = await SendAsync(HttpMethod.Post, path, content, cancellationToken).ConfigureAwait(false);
        var claims = token.Claims;
        var thumbprint = claims.TryGetProperty("x-ms-certificate-thumbprint", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : string.Empty;
        var resolution = claims.TryGetProperty("x-ms-policycertificates-result", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        var expectedThumbprint = Convert.ToHexString(SHA1.HashData(certificate.RawData));
        if (!string.Equals(thumbprint, expectedThumbprint, StringComparison.OrdinalIgnoreCase))
        {
            throw new AttestationTokenValidationException("UnexpectedContent", $"the answer names certificate '{thumbprint}', not '{expectedThumbprint}'");
        }

        var parsed = resolution switch
        {
            "IsPresent" => PolicyCertificateResolution.IsPresent,
            "IsAbsent" => PolicyCertificateResolution.IsAbsent,
            _ => throw new AttestationTokenValidationException("UnexpectedContent", $"x-ms-policycertificates-result '{resolution ?? "(absent)"}' is neither IsPresent nor IsAbsent"),
        };
        return new AttestationResponse<PolicyCertificatesModificationResult>(new PolicyCertificatesModificationResult(parsed, thumbprint.ToUpperInvariant()), token);
    }

    /// <summary>
    /// One page of the instance's audit trail of management operations (<c>GET /audit</c>, a Veritee extension that
    /// MAA does not have), oldest first. The answer is plain JSON over the pinned endpoint, not a token.
    /// </summary>
    /// <param name="since">Only records at or after this time.</param>
    /// <param name="limit">At most this many records, 1–1000 (the service's default: 100).</param>
    /// <param name="after">Continue after this record id (<see cref="AuditTrailPage.NextAfter"/> of the previous page).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="AttestationException">The service refused the request, or its answer is not an audit page.</exception>
    public async Task<AuditTrailPage> GetAuditRecordsAsync(DateTimeOffset? since = null, int? limit = null, long? after = null, CancellationToken cancellationToken = default)
    {
        var url = new StringBuilder(_connection.Instance).Append("/audit?api-version=").Append(Uri.EscapeDataString(_connection.Options.ApiVersion));
        if (since is { } s)
        {
            url.Append("&since=").Append(Uri.EscapeDataString(s.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture)));
        }

        if (limit is { } l)
        {
            url.Append("&limit=").Append(l.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (after is { } a)
        {
            url.Append("&after=").Append(a.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var (_, body) = await _connection.SendAsync(HttpMethod.Get, url.ToString(), null, "application/json", _credential, cancellationToken).ConfigureAwait(false);
        return AuditTrailPage.Parse(body);
    }

    private async Task<AttestationToken> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        // MAA serves TdxVm only from api-version 2023-04-01-preview on: its policies go with the TdxVm version.
        var apiVersion = path.StartsWith("/policies/" + nameof(AttestationType.TdxVm), StringComparison.Ordinal) ? _connection.Options.TdxApiVersion : null;
        var text = await _connection.SendForTokenAsync(method, path, content, _credential, cancellationToken, apiVersion).ConfigureAwait(false);
        return await _connection.ValidateOrThrowAsync(text, cancellationToken).ConfigureAwait(false);
    }

    private static PolicyResult ReadPolicyResult(AttestationToken token, string sent)
    {
        var claims = token.Claims;
        var resultText = claims.TryGetProperty("x-ms-policy-result", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        var result = resultText switch
        {
            "Updated" => PolicyModification.Updated,
            "Removed" => PolicyModification.Removed,
            _ => throw new AttestationTokenValidationException("UnexpectedContent", $"x-ms-policy-result '{resultText ?? "(absent)"}' is neither Updated nor Removed"),
        };
        var hash = claims.TryGetProperty("x-ms-policy-token-hash", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString() : null;
        X509Certificate2? signer = claims.TryGetProperty("x-ms-policy-signer", out var s) && s.ValueKind == JsonValueKind.Object ? FirstCertificate(s, "x-ms-policy-signer") : null;
        return new PolicyResult(result, hash, signer, sent);
    }

    private static X509Certificate2 FirstCertificate(JsonElement jwk, string where)
    {
        if (jwk.ValueKind == JsonValueKind.Object && jwk.TryGetProperty("x5c", out var x5c) && x5c.ValueKind == JsonValueKind.Array &&
            x5c.GetArrayLength() > 0 && x5c[0].ValueKind == JsonValueKind.String)
        {
            try
            {
                return X509CertificateLoader.LoadCertificate(Convert.FromBase64String(x5c[0].GetString()!));
            }
            catch (Exception e) when (e is FormatException or CryptographicException)
            {
                throw new AttestationTokenValidationException("UnexpectedContent", $"{where}: x5c[0] is not a base64 DER certificate");
            }
        }

        throw new AttestationTokenValidationException("UnexpectedContent", $"{where}: an entry has no x5c certificate");
    }
}

/// <summary>Source-generated JSON metadata for the few values the client serializes.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class ClientJson : System.Text.Json.Serialization.JsonSerializerContext;
