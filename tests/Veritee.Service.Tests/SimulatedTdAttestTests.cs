using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Veritee.Dcap;
using Veritee.Enclave;
using Veritee.Tokens;

namespace Veritee.Service.Tests;

/// <summary>
/// A service trusting a simulated platform through a TDX collateral folder written by the platform's collateral
/// authority with a chosen status (what <c>veritee platform collateral --tdx</c> writes and
/// <c>serve --simulation-collateral</c> reads). The clock is the fixture's pinned time.
/// </summary>
public sealed class SimulatedTdNode : ServiceFixture
{
    private readonly string _folder = Directory.CreateTempSubdirectory("veritee-sim-td-").FullName;

    public SimulatedTdNode(CollateralOptions options)
    {
        Platform = SimulatedPlatform.Create(Path.Combine(_folder, "platform"), PinnedTime);
        CollateralAuthority.IssueTdx(Platform, options with { IssuedAt = PinnedTime.AddHours(-1) }).WriteTo(Collateral);
    }

    public SimulatedPlatform Platform { get; }

    private string Collateral => Path.Combine(_folder, "collateral");

    public static async Task<SimulatedTdNode> StartAsync(CollateralOptions options)
    {
        var node = new SimulatedTdNode(options);
        await node.InitializeAsync();
        return node;
    }

    protected override ServiceOptions Configure(ServiceOptions options) => options with { SimulationCollateralDirectory = Collateral };

    public async Task StopAsync()
    {
        await DisposeAsync();
        Platform.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    public Task<(HttpStatusCode Status, JsonObject Body)> Attest(byte[] quote, byte[]? runtimeData = null, string dataType = "JSON", string? extra = null)
    {
        var body = new StringBuilder("{\"quote\":\"").Append(System.Buffers.Text.Base64Url.EncodeToString(quote)).Append('"');
        if (runtimeData is not null)
        {
            body.Append(",\"runtimeData\":{\"data\":\"").Append(System.Buffers.Text.Base64Url.EncodeToString(runtimeData)).Append("\",\"dataType\":\"").Append(dataType).Append("\"}");
        }

        return Send(HttpMethod.Post, "/attest/TdxVm?api-version=2025-06-01", body.Append(extra).Append('}').ToString());
    }

    public async Task SetPolicy(string text)
    {
        var (status, body) = await Send(HttpMethod.Put, "/policies/TdxVm?api-version=2025-06-01", PolicyJws.CreateUnsigned(text), "text/plain", admin: true);
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
    }
}

/// <summary>
/// The simulated TD through the service end to end: the quote a TD makes for its runtime data attests, the token's
/// claims are the TD's, and for every status the simulated collateral can state, a token is issued exactly when
/// Intel's verifier verifies and the policy in force allows it.
/// </summary>
public sealed class SimulatedTdAttestTests
{
    private static readonly byte[] RuntimeJson = Encoding.UTF8.GetBytes("{\"nonce\":\"n-42\",\"pub\":\"key\"}");

    public static TheoryData<string, int, bool> Statuses()
    {
        var data = new TheoryData<string, int, bool>();
        foreach (var status in CollateralAuthority.TcbInfoStatuses)
        {
            data.Add(status.ToWireString(), 4, false);
            data.Add(status.ToWireString(), 5, true);
        }

        data.Add("TDX module OutOfDate", 4, false);
        data.Add("TD relaunch", 5, true);
        return data;
    }

    private static CollateralOptions OptionsFor(string status) => status switch
    {
        "TDX module OutOfDate" => new CollateralOptions { IssuedAt = default, TdxModuleStatus = TcbStatus.OutOfDate },
        "TD relaunch" => new CollateralOptions { IssuedAt = default, TdRelaunch = true },
        _ => new CollateralOptions { IssuedAt = default, TcbStatus = TcbStatuses.Parse(status)!.Value },
    };

    private static (SimulatedTd Td, byte[] Quote) Quote(SimulatedPlatform platform, int version, bool td15, bool debug = false)
    {
        var td = SimulatedTd.CreateDefault("service-e2e", debug);
        return (td, platform.TdQuote(td, TdInfo.ReportDataFor(RuntimeJson), version, td15));
    }

    [Theory]
    [MemberData(nameof(Statuses))]
    public async Task Every_status_gets_a_token_exactly_when_verified_and_the_policy_allows(string status, int version, bool td15)
    {
        var node = await SimulatedTdNode.StartAsync(OptionsFor(status));
        try
        {
            var (td, quote) = Quote(node.Platform, version, td15);
            var expected = QuoteVerifierStatus(node, quote);
            var wanted = status switch
            {
                "TDX module OutOfDate" => TcbStatus.OutOfDate,
                "TD relaunch" => TcbStatus.TDRelaunchAdvised,
                _ => TcbStatuses.Parse(status)!.Value,
            };
            Assert.Equal(wanted != TcbStatus.Revoked, expected.IsVerified);
            Assert.Equal(wanted, expected.TcbStatus);

            // The default TdxVm policy permits every verified TD; Intel's terminal verdicts get no token.
            var (got, body) = await node.Attest(quote, RuntimeJson);
            if (!expected.IsVerified)
            {
                Assert.Equal(HttpStatusCode.BadRequest, got);
                Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
                return;
            }

            Assert.True(got == HttpStatusCode.OK, body.ToJsonString());
            var claims = Jwt.Claims(body["token"]!.GetValue<string>());
            Assert.Equal(expected.TcbStatus!.Value.ToWireString(), claims["attester_tcb_status"]!.GetValue<string>());
            Assert.Equal("tdxvm", claims["x-ms-attestation-type"]!.GetValue<string>());
            Assert.True(claims["veritee-simulated"]!.GetValue<bool>());
            Assert.Equal(Convert.ToHexStringLower(td.MrTd), claims["tdx_mrtd"]!.GetValue<string>());
            Assert.Equal(Convert.ToHexStringLower(td.RtMr1), claims["tdx_rtmr1"]!.GetValue<string>());
            Assert.Equal("n-42", claims["x-ms-runtime"]!["nonce"]!.GetValue<string>());
            Assert.Equal(Convert.ToHexStringLower(TdInfo.ReportDataFor(RuntimeJson)), claims["tdx_report_data"]!.GetValue<string>());
            Assert.False(claims["tdx_td_attributes_debug"]!.GetValue<bool>());

            // The documented example policy (MRTD pinned, no debug, UpToDate only) lets only an UpToDate TD through.
            await node.SetPolicy(TdxVmTests.ExamplePolicy(Convert.ToHexStringLower(td.MrTd)));
            var (pinned, pinnedBody) = await node.Attest(quote, RuntimeJson);
            if (expected.TcbStatus == TcbStatus.UpToDate)
            {
                Assert.True(pinned == HttpStatusCode.OK, pinnedBody.ToJsonString());
                Assert.Equal(Convert.ToHexStringLower(td.MrTd), Jwt.Claims(pinnedBody["token"]!.GetValue<string>())["mrtd"]!.GetValue<string>());
            }
            else
            {
                Assert.Equal(HttpStatusCode.BadRequest, pinned);
                Assert.Equal("PolicyEvaluationError", pinnedBody["error"]!["code"]!.GetValue<string>());
            }
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task A_debug_TD_attests_under_the_default_policy_and_is_refused_by_the_example_policy()
    {
        var node = await SimulatedTdNode.StartAsync(new CollateralOptions { IssuedAt = default });
        try
        {
            var (td, quote) = Quote(node.Platform, 4, false, debug: true);
            var (got, body) = await node.Attest(quote, RuntimeJson);
            Assert.True(got == HttpStatusCode.OK, body.ToJsonString());
            var claims = Jwt.Claims(body["token"]!.GetValue<string>());
            Assert.True(claims["tdx_td_attributes_debug"]!.GetValue<bool>());
            Assert.Equal("enabled", claims["dbgstat"]!.GetValue<string>());

            await node.SetPolicy(TdxVmTests.ExamplePolicy(Convert.ToHexStringLower(td.MrTd)));
            var (refused, error) = await node.Attest(quote, RuntimeJson);
            Assert.Equal(HttpStatusCode.BadRequest, refused);
            Assert.Equal("PolicyEvaluationError", error["error"]!["code"]!.GetValue<string>());
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task Runtime_data_binds_only_the_data_the_TD_reported_and_binary_data_adds_no_claim()
    {
        var node = await SimulatedTdNode.StartAsync(new CollateralOptions { IssuedAt = default });
        try
        {
            var (_, quote) = Quote(node.Platform, 5, true);
            var (ok, body) = await node.Attest(quote, RuntimeJson, "Binary");
            Assert.True(ok == HttpStatusCode.OK, body.ToJsonString());
            var claims = Jwt.Claims(body["token"]!.GetValue<string>());
            Assert.Null(claims["x-ms-runtime"]);

            var other = (byte[])RuntimeJson.Clone();
            other[^2] ^= 1;
            var (refused, error) = await node.Attest(quote, other);
            Assert.Equal(HttpStatusCode.BadRequest, refused);
            Assert.Equal("InvalidParameter", error["error"]!["code"]!.GetValue<string>());
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task Init_time_data_binds_to_MRCONFIGID_of_a_simulated_TD()
    {
        var node = await SimulatedTdNode.StartAsync(new CollateralOptions { IssuedAt = default });
        try
        {
            var init = Encoding.UTF8.GetBytes("{\"workload\":\"w1\"}");
            var td = SimulatedTd.CreateDefault("init-time") with { MrConfigId = SHA384.HashData(init) };
            var quote = node.Platform.TdQuote(td, TdInfo.ReportDataFor(RuntimeJson));
            var initField = ",\"initTimeData\":{\"data\":\"" + System.Buffers.Text.Base64Url.EncodeToString(init) + "\",\"dataType\":\"JSON\"}";

            var (ok, body) = await node.Attest(quote, RuntimeJson, extra: initField);
            Assert.True(ok == HttpStatusCode.OK, body.ToJsonString());
            Assert.Equal("w1", Jwt.Claims(body["token"]!.GetValue<string>())["x-ms-inittime"]!["workload"]!.GetValue<string>());

            var wrong = ",\"initTimeData\":{\"data\":\"" + System.Buffers.Text.Base64Url.EncodeToString("{}"u8.ToArray()) + "\",\"dataType\":\"JSON\"}";
            var (refused, _) = await node.Attest(quote, RuntimeJson, extra: wrong);
            Assert.Equal(HttpStatusCode.BadRequest, refused);
        }
        finally
        {
            await node.StopAsync();
        }
    }

    private static Veritee.Dcap.Verification.VerificationResult QuoteVerifierStatus(SimulatedTdNode node, byte[] quote)
    {
        var collateral = Veritee.Dcap.Collateral.QuoteCollateral.Load(Path.Combine(Path.GetDirectoryName(node.Platform.Folder)!, "collateral"));
        return Veritee.Dcap.Verification.QuoteVerifier.VerifyCold(quote, collateral, node.Platform.TrustAnchor, ServiceFixture.PinnedTime);
    }
}
