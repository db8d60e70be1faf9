// The Azure attestation samples' flow in user code: an enclave quotes, an MAA-compatible service attests it, the
// token is validated against the service's own keys, and the raw quote is also verified offline with Intel's
// algorithm. Run `veritee serve --simulation` first; pass its URL and its simulated platform folder.
using Veritee.Client;
using Veritee.Dcap;
using Veritee.Dcap.Verification;
using Veritee.Enclave;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: AttestAndVerify ENDPOINT PLATFORM_DIR   (e.g. http://127.0.0.1:5080 ~/.veritee/platform)");
    return 2;
}

// The enclave: a simulated SGX machine (the one `veritee serve --simulation` trusts) and an RSA key held inside.
using var platform = SimulatedPlatform.Load(args[1]);
var enclave = new SimulatedEnclave { MrEnclave = SimulatedEnclave.MeasureName("attest-and-verify"), MrSigner = SimulatedEnclave.MrSignerOf(platform.EnclaveSignerKey) };
using var held = new SampleEnclave();
var quote = platform.Quote(enclave, held.ReportData);

// Attest: the client validates the token against the endpoint's /certs before returning its claims.
using var client = new AttestationClient(new Uri(args[0]));
var attested = await client.AttestSgxEnclaveAsync(new AttestationRequest { Evidence = quote, RuntimeData = new AttestationData(held.EnclaveHeldData) });
var claims = attested.Value;
var matches = claims.MrEnclave == Convert.ToHexStringLower(enclave.MrEnclave)
    && claims.EnclaveHeldData is { } ehd && ehd.Span.SequenceEqual(held.EnclaveHeldData);
Console.WriteLine($"attested by {claims.Issuer}: MRENCLAVE {claims.MrEnclave}, simulated {claims.IsSimulated}, claims match the enclave: {matches}");

// Verify offline: Intel's algorithm over the raw quote, with collateral issued by the simulated platform.
var collateral = CollateralAuthority.Issue(platform, new CollateralOptions { IssuedAt = DateTimeOffset.UtcNow.AddMinutes(-1) }).ToQuoteCollateral();
var verdict = new QuoteVerifier().Verify(quote, collateral, platform.TrustAnchor, DateTimeOffset.UtcNow);
Console.WriteLine($"verified offline: {verdict.Status.Name()}, TCB {verdict.TcbStatus}");

return matches && verdict.IsVerified ? 0 : 1;
