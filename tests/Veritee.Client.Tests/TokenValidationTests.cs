using System.Net;
using System.Text;
using Veritee.Tokens;

namespace Veritee.Client.Tests;

/// <summary>Fail-closed validation of the tokens a service hands back, against a fake instance whose keys the test holds.</summary>
public sealed class TokenValidationTests : IDisposable
{
    private readonly FakeInstance _instance = new();
    private readonly FakeKey _key = new(FakeInstance.Url, "instance-key");
    private readonly FakeKey _attacker = new("https://evil.example", "attacker-key");

    public TokenValidationTests() => _instance.Keys.Add(_key);

    public void Dispose()
    {
        _key.Dispose();
        _attacker.Dispose();
        _instance.Dispose();
    }

    private async Task<string> ReasonFor(string token)
    {
        _instance.Answer = _ => FakeInstance.TokenBody(token);
        using var client = _instance.Client();
        var e = await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 } }));
        return e.Reason;
    }

    [Fact]
    public async Task A_token_signed_by_the_instance_key_is_accepted()
    {
        _instance.Answer = _ => FakeInstance.TokenBody(FakeInstance.Token(_key));
        using var client = _instance.Client();
        var response = await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 } });
        Assert.True(response.Token.IsSigned);
        Assert.Equal("instance-key", response.Token.Kid);
        Assert.Equal("aa", response.Value.MrEnclave);
        Assert.False(response.Value.IsSimulated);

        _instance.Answer = _ => FakeInstance.TokenBody(FakeInstance.Token(_key, extraClaims: ",\"veritee-simulated\":true"));
        Assert.True((await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 } })).Value.IsSimulated);
    }

    [Fact]
    public async Task A_jku_pointing_elsewhere_is_refused_even_with_a_valid_signature()
    {
        Assert.Equal(nameof(MaaTokenFailure.JkuMismatch), await ReasonFor(FakeInstance.Token(_key, jku: "https://evil.example/certs")));
        Assert.Equal(nameof(MaaTokenFailure.JkuMismatch), await ReasonFor(FakeInstance.Token(_key, jku: null)));
        Assert.Equal(nameof(MaaTokenFailure.JkuMismatch), await ReasonFor(FakeInstance.Token(_key, jku: FakeInstance.Url + "/certs/")));

        // Nothing but the pinned instance's /certs was ever fetched.
        Assert.All(_instance.Requests, r => Assert.Equal("fake.wus.attest.azure.net", r.RequestUri!.Host));
    }

    [Fact]
    public async Task Another_issuer_is_refused()
    {
        Assert.Equal(nameof(MaaTokenFailure.IssuerMismatch), await ReasonFor(FakeInstance.Token(_key, iss: "https://sharedwus.wus.attest.azure.net")));
        Assert.Equal(nameof(MaaTokenFailure.IssuerMismatch), await ReasonFor(FakeInstance.Token(_key, iss: FakeInstance.Url + "/")));
    }

    [Fact]
    public async Task The_tokens_own_keys_are_never_trusted()
    {
        // Signed by the attacker, who names its own certificate in x5c and jwk and uses a kid the instance does not have.
        var x5c = Convert.ToBase64String(_attacker.Certificate.RawData);
        var forged = FakeInstance.Token(_attacker, extraHeader: ",\"x5c\":[\"" + x5c + "\"],\"jwk\":{\"kty\":\"RSA\",\"x5c\":[\"" + x5c + "\"]}");
        Assert.Equal(nameof(MaaTokenFailure.UnknownKid), await ReasonFor(forged));

        // Same, but claiming the instance's kid.
        Assert.Equal(nameof(MaaTokenFailure.BadSignature), await ReasonFor(FakeInstance.Token(_attacker, kid: _key.Kid)));
    }

    [Fact]
    public async Task An_unknown_kid_refreshes_the_keys_once_then_fails()
    {
        _instance.Answer = _ => FakeInstance.TokenBody(FakeInstance.Token(_key));
        using var client = _instance.Client();
        await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 } });
        Assert.Equal(1, _instance.CertsRequests);

        var result = await client.ValidateTokenAsync(FakeInstance.Token(_attacker));
        Assert.Equal(MaaTokenFailure.UnknownKid, result.Failure);
        Assert.Equal(2, _instance.CertsRequests);
        Assert.Equal(2, client.SigningKeysFetchCount);
    }

    [Fact]
    public async Task A_rotated_key_is_picked_up_by_the_one_refresh()
    {
        using var client = _instance.Client();
        Assert.True((await client.ValidateTokenAsync(FakeInstance.Token(_key))).IsValid);
        using var rotated = new FakeKey(FakeInstance.Url, "rotated-key");
        _instance.Keys.Clear();
        _instance.Keys.Add(rotated);
        var result = await client.ValidateTokenAsync(FakeInstance.Token(rotated));
        Assert.True(result.IsValid, result.Message);
        Assert.Equal(2, _instance.CertsRequests);

        // The first fetch of a validation is not followed by a second one.
        using var fresh = _instance.Client();
        Assert.Equal(MaaTokenFailure.UnknownKid, (await fresh.ValidateTokenAsync(FakeInstance.Token(_attacker))).Failure);
        Assert.Equal(3, _instance.CertsRequests);
    }

    [Fact]
    public async Task Alg_none_and_HS256_are_refused_for_ordinary_attestation()
    {
        var claims = FakeInstance.B64("{\"exp\":1700028800,\"iat\":1700000000,\"iss\":\"" + FakeInstance.Url + "\",\"nbf\":1700000000}");
        var none = FakeInstance.B64("{\"alg\":\"none\",\"jku\":\"" + FakeInstance.Url + "/certs\",\"kid\":\"instance-key\",\"typ\":\"JWT\"}") + "." + claims + ".";
        Assert.Equal(nameof(MaaTokenFailure.AlgorithmNotAllowed), await ReasonFor(none));

        var hsInput = FakeInstance.B64("{\"alg\":\"HS256\",\"jku\":\"" + FakeInstance.Url + "/certs\",\"kid\":\"instance-key\",\"typ\":\"JWT\"}") + "." + claims;
        var secret = _key.Rsa.ExportSubjectPublicKeyInfo();
        var mac = System.Security.Cryptography.HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(hsInput));
        Assert.Equal(nameof(MaaTokenFailure.AlgorithmNotAllowed), await ReasonFor(hsInput + "." + System.Buffers.Text.Base64Url.EncodeToString(mac)));
    }

    [Fact]
    public async Task Expired_and_not_yet_valid_tokens_are_refused_with_the_configured_skew()
    {
        var now = FakeInstance.Now.ToUnixTimeSeconds();
        Assert.Equal(nameof(MaaTokenFailure.Expired), await ReasonFor(FakeInstance.Token(_key, iat: now - 100, exp: now - 11)));
        Assert.Equal(nameof(MaaTokenFailure.NotYetValid), await ReasonFor(FakeInstance.Token(_key, iat: now + 11)));

        // Within the default 10 s skew.
        _instance.Answer = _ => FakeInstance.TokenBody(FakeInstance.Token(_key, iat: now - 100, exp: now - 9));
        using var client = _instance.Client();
        Assert.True((await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 } })).Token.IsSigned);
    }

    [Fact]
    public async Task A_tampered_claim_breaks_the_signature()
    {
        var token = FakeInstance.Token(_key);
        var parts = token.Split('.');
        var claims = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1])).Replace("\"aa\"", "\"bb\"", StringComparison.Ordinal);
        Assert.Equal(nameof(MaaTokenFailure.BadSignature), await ReasonFor(parts[0] + "." + FakeInstance.B64(claims) + "." + parts[2]));
    }

    [Fact]
    public async Task A_nonce_other_than_the_one_sent_is_refused()
    {
        _instance.Answer = _ => FakeInstance.TokenBody(FakeInstance.Token(_key, extraClaims: ",\"nonce\":\"other\""));
        using var client = _instance.Client();
        var e = await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 }, Nonce = "mine" }));
        Assert.Equal("UnexpectedContent", e.Reason);
    }

    [Fact]
    public async Task An_unsigned_draft_answer_must_still_name_the_pinned_instance()
    {
        string Draft(string jku, string iss) =>
            FakeInstance.B64("{\"alg\":\"none\",\"jku\":\"" + jku + "\",\"kid\":\"instance-key\",\"typ\":\"JWT\"}") + "." +
            FakeInstance.B64("{\"exp\":1700028800,\"iat\":1700000000,\"iss\":\"" + iss + "\",\"nbf\":1700000000}") + ".";
        using var client = _instance.Client();
        var request = new AttestationRequest { Evidence = new byte[] { 1 }, DraftPolicyForAttestation = "version=1.0; authorizationrules{=> permit();};" };

        _instance.Answer = _ => FakeInstance.TokenBody(Draft(FakeInstance.Url + "/certs", FakeInstance.Url));
        Assert.False((await client.AttestSgxEnclaveAsync(request)).Token.IsSigned);

        _instance.Answer = _ => FakeInstance.TokenBody(Draft("https://evil.example/certs", FakeInstance.Url));
        Assert.Equal("JkuMismatch", (await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestSgxEnclaveAsync(request))).Reason);

        _instance.Answer = _ => FakeInstance.TokenBody(Draft(FakeInstance.Url + "/certs", "https://evil.example"));
        Assert.Equal("IssuerMismatch", (await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestSgxEnclaveAsync(request))).Reason);

        // A signed answer to a draft request is validated in full.
        _instance.Answer = _ => FakeInstance.TokenBody(FakeInstance.Token(_attacker, kid: _key.Kid));
        Assert.Equal("BadSignature", (await Assert.ThrowsAsync<AttestationTokenValidationException>(() => client.AttestSgxEnclaveAsync(request))).Reason);
    }

    [Fact]
    public async Task Error_envelopes_map_to_status_code_and_message()
    {
        _instance.Answer = _ => (HttpStatusCode.Unauthorized, "{\"error\":{\"code\":\"Unauthorized\",\"message\":\"no\",\"innererror\":{\"code\":\"Unauthorized\",\"message\":\"no\"}}}");
        using var client = _instance.Client();
        var e = await Assert.ThrowsAsync<AttestationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 } }));
        Assert.Equal(HttpStatusCode.Unauthorized, e.Status);
        Assert.Equal("Unauthorized", e.ErrorCode);
        Assert.Equal("no", e.ServiceMessage);

        _instance.Answer = _ => (HttpStatusCode.BadGateway, "<html>proxy error</html>");
        e = await Assert.ThrowsAsync<AttestationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 } }));
        Assert.Equal(HttpStatusCode.BadGateway, e.Status);
        Assert.Null(e.ErrorCode);
        Assert.Contains("no MAA error envelope", e.Message, StringComparison.Ordinal);

        _instance.Answer = _ => (HttpStatusCode.OK, "{\"notatoken\":1}");
        e = await Assert.ThrowsAsync<AttestationException>(() => client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 1 } }));
        Assert.Equal(HttpStatusCode.OK, e.Status);
    }

    [Fact]
    public async Task The_request_body_is_MAAs()
    {
        _instance.Answer = _ => FakeInstance.TokenBody(FakeInstance.Token(_key, extraClaims: ",\"nonce\":\"n\""));
        using var client = _instance.Client();
        await client.AttestOpenEnclaveAsync(new AttestationRequest { Evidence = new byte[] { 0xfb, 0xff }, RuntimeData = new AttestationData(new byte[] { 0xfe }), Nonce = "n", DraftPolicyForAttestation = null });
        var index = _instance.Requests.FindIndex(r => r.RequestUri!.AbsolutePath != "/certs");
        var request = _instance.Requests[index];
        Assert.Equal("/attest/OpenEnclave", request.RequestUri!.AbsolutePath);
        Assert.Equal("?api-version=2022-08-01", request.RequestUri.Query);
        Assert.Equal("{\"report\":\"-_8\",\"runtimeData\":{\"data\":\"_g\",\"dataType\":\"Binary\"},\"nonce\":\"n\"}", _instance.Bodies[index]);
        Assert.Null(request.Headers.Authorization);
    }
}
