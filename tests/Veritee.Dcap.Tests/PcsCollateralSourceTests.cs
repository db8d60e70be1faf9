using System.Net;
using System.Text;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Sgx;

namespace Veritee.Dcap.Tests;

/// <summary><see cref="PcsCollateralSource"/> against a PCS-shaped server on loopback serving real Intel collateral.</summary>
public sealed class PcsCollateralSourceTests : IDisposable
{
    private const string Tdx = "tdx-v4-uptodate-2025-07";
    private const string SgxProcessor = "sgx-v3-processorca-confsw-2025-07";

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose() => _http.Dispose();

    [Theory]
    [MemberData(nameof(VectorCase.All), MemberType = typeof(VectorCase))]
    public async Task Fetched_collateral_verifies_the_case_quote_with_the_expected_status(string id)
    {
        var c = VectorCase.Load(id);
        await using var pcs = PcsFixture.ForCase(c.Folder);
        var source = Source(pcs);

        var collateral = await source.GetCollateralAsync(CollateralRequest.FromQuote(c.Quote));

        // Bytes exactly as served: the JSON bodies verbatim, the chains percent-decoded, the CRLs as DER.
        var files = c.Collateral;
        Assert.Equal(files.TcbInfo, collateral.TcbInfo);
        Assert.Equal(files.QeIdentity, collateral.QeIdentity);
        Assert.Equal(files.TcbInfoIssuerChain, collateral.TcbInfoIssuerChain);
        Assert.Equal(files.QeIdentityIssuerChain, collateral.QeIdentityIssuerChain);
        Assert.Equal(files.PckCrlIssuerChain, collateral.PckCrlIssuerChain);
        Assert.Equal(files.PckCrl, collateral.PckCrl);
        Assert.Equal(files.RootCaCrl, collateral.RootCaCrl);

        var result = QuoteVerifier.VerifyCold(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.True(c.ExpectedStatus == result.Status.Name(), $"{id}: expected {c.ExpectedStatus}, got {result.Status.Name()} ({result.Detail})");
        Assert.Equal(c.ExpectedTcbStatus, result.TcbStatus?.ToWireString());
        Assert.Equal(c.ExpectedAdvisories, result.AdvisoryIds);
    }

    [Fact]
    public async Task Requests_use_the_pcs_routes_for_the_quotes_platform()
    {
        var c = VectorCase.Load(Tdx);
        await using var pcs = PcsFixture.ForCase(c.Folder);
        var source = Source(pcs, o => o.SubscriptionKey = "key-123");
        var request = CollateralRequest.FromQuote(c.Quote, CollateralUpdate.Early);
        Assert.Equal("B0C06F000000", request.Fmspc);
        Assert.Equal(TeeType.Tdx, request.Tee);
        Assert.Equal(PckCaKind.Platform, request.CaKind);
        Assert.Equal("tdx/B0C06F000000/platform/early", request.CacheKey);

        _ = await source.GetCollateralAsync(request);

        var targets = pcs.Requests.Select(r => r.Target).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(
        [
            PcsFixture.RootCrlPath,
            "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
            "/tdx/certification/v4/qe/identity?update=early",
            "/tdx/certification/v4/tcb?fmspc=B0C06F000000&update=early",
        ], targets);
        foreach (var r in pcs.Requests)
        {
            var sent = r.Headers.TryGetValue(PcsCollateralSource.SubscriptionKeyHeader, out var key) ? key : null;
            Assert.Equal(r.Path == PcsFixture.RootCrlPath ? null : "key-123", sent);
        }
    }

    [Fact]
    public async Task Sgx_processor_ca_on_api_v3_with_an_extra_query()
    {
        var c = VectorCase.Load(SgxProcessor);
        await using var pcs = PcsFixture.ForCase(c.Folder, new CaseServing { V3TcbHeader = true });
        var source = Source(pcs, o =>
        {
            o.ApiVersion = 3;
            o.AdditionalQuery = "api-version=2020-10-01";
        });
        var request = CollateralRequest.FromQuote(c.Quote);
        Assert.Equal(PckCaKind.Processor, request.CaKind);
        Assert.Equal(TeeType.Sgx, request.Tee);

        var collateral = await source.GetCollateralAsync(request);

        Assert.Equal(c.Collateral.TcbInfoIssuerChain, collateral.TcbInfoIssuerChain);
        var targets = pcs.Requests.Select(r => r.Target).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(
        [
            PcsFixture.RootCrlPath,
            "/sgx/certification/v3/pckcrl?ca=processor&encoding=der&api-version=2020-10-01",
            "/sgx/certification/v3/qe/identity?api-version=2020-10-01",
            $"/sgx/certification/v3/tcb?fmspc={request.Fmspc}&api-version=2020-10-01",
        ], targets);
        await Assert.ThrowsAsync<ArgumentException>(() => source.GetCollateralAsync(
            new CollateralRequest(Convert.FromHexString(request.Fmspc), TeeType.Tdx, PckCaKind.Platform)));
    }

    public static TheoryData<bool, bool, bool> HeaderShapes() => new()
    {
        { false, false, false },
        { true, false, false },
        { false, true, false },
        { true, true, true },
    };

    [Theory]
    [MemberData(nameof(HeaderShapes))]
    public async Task Issuer_chain_headers_decode_to_the_exact_pem_whatever_their_shape(bool lowerCase, bool literalPlus, bool v3Name)
    {
        var c = VectorCase.Load(Tdx);
        var serving = new CaseServing { LowerCaseHeaderNames = lowerCase, MinimalEscaping = literalPlus, V3TcbHeader = v3Name };
        await using var pcs = PcsFixture.ForCase(c.Folder, serving);

        var collateral = await Source(pcs).GetCollateralAsync(CollateralRequest.FromQuote(c.Quote));

        Assert.Equal(c.Collateral.TcbInfoIssuerChain, collateral.TcbInfoIssuerChain);
        Assert.Equal(c.Collateral.QeIdentityIssuerChain, collateral.QeIdentityIssuerChain);
        Assert.Equal(c.Collateral.PckCrlIssuerChain, collateral.PckCrlIssuerChain);
        Assert.Contains((byte)'+', collateral.TcbInfoIssuerChain);
        Assert.True(QuoteVerifier.VerifyCold(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time).IsVerified);
    }

    [Fact]
    public void A_literal_plus_in_a_header_survives_decoding_where_form_decoding_breaks_it()
    {
        var pem = VectorCase.Load(Tdx).Collateral.TcbInfoIssuerChain;
        var header = PcsFixture.EscapeMinimal(pem);
        Assert.Contains("+", header, StringComparison.Ordinal);

        Assert.Equal(pem, PcsCollateralSource.DecodeIssuerChainHeader(header));
        Assert.Equal(pem, PcsCollateralSource.DecodeIssuerChainHeader(Uri.EscapeDataString(Encoding.UTF8.GetString(pem))));

        // The trap docs/verification.md §4.1 warns about: form decoding turns '+' into ' '.
        Assert.NotEqual(Encoding.UTF8.GetString(pem), WebUtility.UrlDecode(header));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Root_crl_in_pccs_hex_or_pem_form_becomes_der(bool hex)
    {
        var c = VectorCase.Load(Tdx);
        await using var pcs = PcsFixture.ForCase(c.Folder, new CaseServing { HexRootCrl = hex, PemCrls = !hex });
        var source = Source(pcs, o => o.RootCaCrl = hex ? new Uri("sgx/certification/v4/rootcacrl", UriKind.Relative) : new Uri(pcs.BaseAddress, PcsFixture.RootCrlPath));

        var collateral = await source.GetCollateralAsync(CollateralRequest.FromQuote(c.Quote));

        Assert.Equal(c.Collateral.RootCaCrl, collateral.RootCaCrl);
        Assert.Equal(c.Collateral.PckCrl, collateral.PckCrl);
        Assert.Equal(hex ? 1 : 0, pcs.Count("/rootcacrl"));
        Assert.True(QuoteVerifier.VerifyCold(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time).IsVerified);
    }

    [Theory]
    [InlineData(404, false)]
    [InlineData(410, false)]
    [InlineData(401, false)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(503, true)]
    public async Task Http_errors_become_typed_errors_with_a_transient_flag(int status, bool transient)
    {
        var c = VectorCase.Load(Tdx);
        var good = PcsFixture.CaseHandler(c.Folder, new CaseServing());
        await using var pcs = new PcsFixture(r => r.Path.EndsWith("/tcb", StringComparison.Ordinal)
            ? FixtureResponse.Error(status, "Code" + status, "Message for " + status, new KeyValuePair<string, string>("Retry-After", "7"))
            : good(r));

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() =>
            Source(pcs).GetCollateralAsync(CollateralRequest.FromQuote(c.Quote)));

        Assert.Equal(CollateralFetchFailure.HttpStatus, e.Failure);
        Assert.Equal((HttpStatusCode)status, e.StatusCode);
        Assert.Equal(transient, e.IsTransient);
        Assert.Equal("Code" + status, e.ErrorCode);
        Assert.Equal("Message for " + status, e.ErrorMessage);
        Assert.Equal("fixture-" + status, e.RequestId);
        Assert.Equal(TimeSpan.FromSeconds(7), e.RetryAfter);
        Assert.Equal(new Uri(pcs.BaseAddress, "tdx/certification/v4/tcb?fmspc=B0C06F000000"), e.Url);
        Assert.Contains($"HTTP {status}", e.Message, StringComparison.Ordinal);
        Assert.Contains("Code" + status, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_issuer_chain_header_is_a_typed_error()
    {
        var c = VectorCase.Load(Tdx);
        var good = PcsFixture.CaseHandler(c.Folder, new CaseServing());
        await using var pcs = new PcsFixture(r => r.Path.EndsWith("/qe/identity", StringComparison.Ordinal)
            ? new FixtureResponse { Body = c.Collateral.QeIdentity }
            : good(r));

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() =>
            Source(pcs).GetCollateralAsync(CollateralRequest.FromQuote(c.Quote)));

        Assert.Equal(CollateralFetchFailure.MissingHeader, e.Failure);
        Assert.False(e.IsTransient);
        Assert.Contains(PcsCollateralSource.EnclaveIdentityIssuerChainHeader, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Oversized_responses_are_refused_while_reading(bool declared)
    {
        var c = VectorCase.Load(Tdx);
        var good = PcsFixture.CaseHandler(c.Folder, new CaseServing());
        const int Limit = 64 * 1024;
        await using var pcs = new PcsFixture(r =>
        {
            if (r.Path != PcsFixture.RootCrlPath)
            {
                return good(r);
            }

            // Without Content-Length the body runs until the server closes: only the running count can stop it.
            return new FixtureResponse { Body = new byte[Limit + 1], OmitContentLength = !declared };
        });

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() =>
            Source(pcs, o => o.MaxResponseBytes = Limit).GetCollateralAsync(CollateralRequest.FromQuote(c.Quote)));

        Assert.Equal(CollateralFetchFailure.ResponseTooLarge, e.Failure);
        Assert.False(e.IsTransient);
        Assert.Contains(declared ? "Content-Length" : "read so far", e.Message, StringComparison.Ordinal);
        Assert.Equal(4L * 1024 * 1024, new PcsCollateralSourceOptions().MaxResponseBytes);
    }

    [Fact]
    public async Task A_huge_declared_length_is_refused_before_reading()
    {
        var c = VectorCase.Load(Tdx);
        var good = PcsFixture.CaseHandler(c.Folder, new CaseServing());
        await using var pcs = new PcsFixture(r => r.Path.EndsWith("/tcb", StringComparison.Ordinal)
            ? new FixtureResponse { Headers = good(r).Headers, Body = [], DeclaredLength = 1L << 40 }
            : good(r));

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() =>
            Source(pcs).GetCollateralAsync(CollateralRequest.FromQuote(c.Quote)));

        Assert.Equal(CollateralFetchFailure.ResponseTooLarge, e.Failure);
    }

    [Fact]
    public async Task A_body_cut_short_is_a_transient_network_error()
    {
        var c = VectorCase.Load(Tdx);
        var good = PcsFixture.CaseHandler(c.Folder, new CaseServing());
        await using var pcs = new PcsFixture(r =>
        {
            var response = good(r);
            return r.Path.EndsWith("/tcb", StringComparison.Ordinal)
                ? new FixtureResponse { Headers = response.Headers, Body = response.Body[..100], DeclaredLength = response.Body.Length }
                : response;
        });

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() =>
            Source(pcs).GetCollateralAsync(CollateralRequest.FromQuote(c.Quote)));

        Assert.Equal(CollateralFetchFailure.Network, e.Failure);
        Assert.True(e.IsTransient);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_slow_server_is_a_transient_timeout(bool httpClientTimeout)
    {
        var c = VectorCase.Load(Tdx);
        var good = PcsFixture.CaseHandler(c.Folder, new CaseServing());
        await using var pcs = new PcsFixture(r => r.Path.EndsWith("/qe/identity", StringComparison.Ordinal)
            ? new FixtureResponse { Delay = TimeSpan.FromSeconds(20) }
            : good(r));
        using var http = new HttpClient { Timeout = httpClientTimeout ? TimeSpan.FromMilliseconds(300) : Timeout.InfiniteTimeSpan };
        var source = new PcsCollateralSource(http, new PcsCollateralSourceOptions
        {
            BaseAddress = pcs.BaseAddress,
            RootCaCrl = new Uri(pcs.BaseAddress, PcsFixture.RootCrlPath),
            RequestTimeout = httpClientTimeout ? null : TimeSpan.FromMilliseconds(300),
        });

        var e = await Assert.ThrowsAsync<CollateralFetchException>(() =>
            source.GetCollateralAsync(CollateralRequest.FromQuote(c.Quote)));

        Assert.Equal(CollateralFetchFailure.Timeout, e.Failure);
        Assert.True(e.IsTransient);
        Assert.EndsWith("/qe/identity", e.Url!.AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_callers_cancellation_is_a_cancellation_not_a_fetch_error()
    {
        var c = VectorCase.Load(Tdx);
        await using var pcs = new PcsFixture(_ => new FixtureResponse { Delay = TimeSpan.FromSeconds(20) });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Source(pcs).GetCollateralAsync(CollateralRequest.FromQuote(c.Quote), cts.Token));
    }

    [Fact]
    public async Task A_refused_connection_is_a_transient_network_error()
    {
        Uri closed;
        await using (var pcs = new PcsFixture(_ => new FixtureResponse()))
        {
            closed = pcs.BaseAddress;
        }

        var source = new PcsCollateralSource(_http, new PcsCollateralSourceOptions { BaseAddress = closed, RootCaCrl = new Uri(closed, PcsFixture.RootCrlPath) });
        var e = await Assert.ThrowsAsync<CollateralFetchException>(() =>
            source.GetCollateralAsync(CollateralRequest.FromQuote(VectorCase.Load(Tdx).Quote)));

        Assert.Equal(CollateralFetchFailure.Network, e.Failure);
        Assert.True(e.IsTransient);
        Assert.IsType<HttpRequestException>(e.InnerException);
    }

    public static TheoryData<string> Garblings() => ["truncated", "empty", "html", "binary", "signature-cut", "nested-deep"];

    [Theory]
    [MemberData(nameof(Garblings))]
    public async Task A_garbled_tcb_info_gives_a_verification_failure_never_a_stray_exception(string garbling)
    {
        var c = VectorCase.Load(Tdx);
        var good = PcsFixture.CaseHandler(c.Folder, new CaseServing());
        var body = Garble(c.Collateral.TcbInfo, garbling);
        await using var pcs = new PcsFixture(r =>
        {
            var response = good(r);
            return r.Path.EndsWith("/tcb", StringComparison.Ordinal) ? new FixtureResponse { Headers = response.Headers, Body = body } : response;
        });

        // The source hands over what was served, byte for byte ...
        var collateral = await Source(pcs).GetCollateralAsync(CollateralRequest.FromQuote(c.Quote));
        Assert.Equal(body, collateral.TcbInfo);

        // ... and the verifier turns it into a failure status, not an exception.
        var result = QuoteVerifier.VerifyCold(c.Quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.False(result.IsVerified);
        Assert.Contains("TCB_INFO", result.Status.Name(), StringComparison.Ordinal);
    }

    [Fact]
    public void Ca_kind_comes_from_the_pck_issuer()
    {
        Assert.Equal(PckCaKind.Processor, CollateralRequest.FromQuote(VectorCase.Load(SgxProcessor).Quote).CaKind);
        Assert.Equal(PckCaKind.Platform, CollateralRequest.FromQuote(VectorCase.Load("sgx-v3-platformca-swhardening-2025-08").Quote).CaKind);

        // The Open Enclave envelope is unwrapped.
        var oe = VectorCase.Load("sgx-v3-oe-envelope-legacy-root-2022-05");
        Assert.Equal(oe.Json.GetProperty("pck").GetProperty("fmspc").GetString()!.ToUpperInvariant(), CollateralRequest.FromQuote(oe.Quote).Fmspc);

        Assert.ThrowsAny<FormatException>(() => CollateralRequest.FromQuote(new byte[100]));
        Assert.Throws<ArgumentException>(() => new CollateralRequest(new byte[5], TeeType.Sgx, PckCaKind.Processor));
        Assert.Equal(new CollateralRequest(Convert.FromHexString("b0c06f000000"), TeeType.Tdx, PckCaKind.Platform),
            new CollateralRequest(Convert.FromHexString("B0C06F000000"), TeeType.Tdx, PckCaKind.Platform));
    }

    internal static byte[] Garble(byte[] tcbInfo, string how) => how switch
    {
        "truncated" => tcbInfo[..(tcbInfo.Length / 2)],
        "empty" => [],
        "html" => Encoding.ASCII.GetBytes("<html><body>502 Bad Gateway</body></html>"),
        "binary" => [0xff, 0xfe, 0x00, 0x7b, 0x22, 0x80, 0x81],
        "signature-cut" => tcbInfo[..^10],
        "nested-deep" => Encoding.ASCII.GetBytes("{\"tcbInfo\":" + new string('[', 5000) + new string(']', 5000) + ",\"signature\":\"00\"}"),
        _ => throw new ArgumentOutOfRangeException(nameof(how)),
    };

    private PcsCollateralSource Source(PcsFixture pcs, Action<PcsCollateralSourceOptions>? configure = null)
    {
        var options = new PcsCollateralSourceOptions
        {
            BaseAddress = pcs.BaseAddress,
            RootCaCrl = new Uri(pcs.BaseAddress, PcsFixture.RootCrlPath),
        };
        configure?.Invoke(options);
        return new PcsCollateralSource(_http, options);
    }
}
