using System.Net;
using System.Text.Json.Nodes;
using Veritee.Enclave;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>
/// A real Azure TDX CVM's evidence (Trustee's az-tdx-vtpm test data: the paravisor's HCL report and the TD quote the
/// IMDS made from it) attested as Microsoft's CVM tools send it, at a time inside its Intel collateral's window.
/// </summary>
public sealed class AzureTdxEvidenceTests : ServiceFixture
{
    private const string Case = "azure-trustee-tdx-v4-00806f050000-outofdate-2025-10";
    private static readonly string CaseFolder = Path.Combine(Vectors.Directory, "tdx", "cases", Case);

    public AzureTdxEvidenceTests()
    {
        Clock.Now = DateTimeOffset.Parse("2025-10-20T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
    }

    protected override ServiceOptions Configure(ServiceOptions options) => options with { CollateralDirectory = CaseFolder };

    [Fact]
    public async Task The_CVM_tools_request_gets_a_token_whose_x_ms_runtime_is_the_paravisors_JSON()
    {
        var hcl = AzureHclReport.Parse(File.ReadAllBytes(Path.Combine(Vectors.Directory, "tdx", "trustee", "az-tdx-vtpm-hcl-report.bin")));
        var quote = File.ReadAllBytes(Path.Combine(CaseFolder, "quote.bin"));
        var runtime = hcl.VariableData.ToArray();

        // As the CVM tools post it: api-version 2023-04-01-preview, unpadded base64url, the HCL JSON as JSON runtime data.
        var body = "{\"quote\":\"" + System.Buffers.Text.Base64Url.EncodeToString(quote) + "\",\"runtimeData\":{\"data\":\"" +
            System.Buffers.Text.Base64Url.EncodeToString(runtime) + "\",\"dataType\":\"JSON\"}}";
        var (status, response) = await Send(HttpMethod.Post, "/attest/TdxVm?api-version=2023-04-01-preview", body);

        Assert.True(status == HttpStatusCode.OK, response.ToJsonString());
        var claims = Jwt.Claims(response["token"]!.GetValue<string>());
        Assert.Equal("tdxvm", claims["x-ms-attestation-type"]!.GetValue<string>());
        Assert.Equal("OutOfDate", claims["attester_tcb_status"]!.GetValue<string>());
        Assert.Null(claims["veritee-simulated"]);
        Assert.Equal(Convert.ToHexStringLower(hcl.MrTd.Span), claims["tdx_mrtd"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexStringLower(hcl.ExpectedReportData()), claims["tdx_report_data"]!.GetValue<string>());

        // Azure relying parties find the vTPM keys and their nonce (user-data) in x-ms-runtime, as the paravisor wrote it.
        var expected = JsonNode.Parse(System.Text.Encoding.UTF8.GetString(runtime).TrimEnd('\0'))!;
        Assert.True(JsonNode.DeepEquals(expected, claims["x-ms-runtime"]), claims["x-ms-runtime"]?.ToJsonString());
        Assert.Equal(expected["user-data"]!.GetValue<string>(), claims["x-ms-runtime"]!["user-data"]!.GetValue<string>());
        Assert.Contains(claims["x-ms-runtime"]!["keys"]!.AsArray(), k => k!["kid"]!.GetValue<string>() == "HCLAkPub");
    }

    [Fact]
    public async Task The_same_quote_with_edited_paravisor_JSON_is_refused()
    {
        var hcl = AzureHclReport.Parse(File.ReadAllBytes(Path.Combine(Vectors.Directory, "tdx", "trustee", "az-tdx-vtpm-hcl-report.bin")));
        var runtime = hcl.VariableData.ToArray();
        var text = System.Text.Encoding.UTF8.GetString(runtime);
        var edited = System.Text.Encoding.UTF8.GetBytes(text.Replace("\"user-data\":\"", "\"user-data\":\"0", StringComparison.Ordinal));
        Assert.NotEqual(runtime, edited);
        var body = "{\"quote\":\"" + System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(Path.Combine(CaseFolder, "quote.bin"))) +
            "\",\"runtimeData\":{\"data\":\"" + System.Buffers.Text.Base64Url.EncodeToString(edited) + "\",\"dataType\":\"JSON\"}}";

        var (status, response) = await Send(HttpMethod.Post, "/attest/TdxVm?api-version=2023-04-01-preview", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", response["error"]!["code"]!.GetValue<string>());
    }
}
