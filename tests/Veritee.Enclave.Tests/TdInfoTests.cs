using System.Security.Cryptography;
using System.Text;
using Veritee.Sgx;
using Veritee.TestSupport;

namespace Veritee.Enclave.Tests;

public class TdInfoTests
{
    private static byte[] RealQuote(string id) => File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "quote.bin"));

    [Theory]
    [InlineData("tdx-v4-uptodate-2025-07")]
    [InlineData("tdx-v5-td15-uptodate-2025-06")]
    public void FromQuote_ReadsEveryMeasurementFromTheQuote_AndRoundTripsThroughJson(string id)
    {
        var quote = RealQuote(id);
        var td = Quote.Parse(quote).TdReport;
        var info = TdInfo.FromQuote(quote, Encoding.UTF8.GetBytes("{\"nonce\":\"1\"}"), runtimeDataIsJson: true);

        Assert.Equal(129, info.Type);
        Assert.Equal(Convert.ToHexString(td.MrTd.Span), info.MrTdHex);
        Assert.Equal(Convert.ToHexString(td.RtMr(3).Span), info.Rtmr3Hex);
        Assert.Equal(Convert.ToHexString(td.TdAttributes.Span), info.TdAttributesHex);
        Assert.Equal("JSON", info.RuntimeDataType);

        var json = info.ToJson();
        Assert.True(TdInfo.IsTdInfo(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(info, TdInfo.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.StartsWith("{\n  \"Type\": 129,\n  \"MrTdHex\": ", json, StringComparison.Ordinal);

        // A real quote's report data binds someone else's runtime data: the file says so, and nothing else.
        Assert.Equal(["the quote's report data is not SHA-256(RuntimeData) followed by 32 zero bytes"], info.Inconsistencies());
    }

    [Fact]
    public void Inconsistencies_NameTheFieldThatDiffersFromTheQuote()
    {
        var info = TdInfo.FromQuote(RealQuote("tdx-v4-uptodate-2025-07"), [], runtimeDataIsJson: false);
        var edited = info with { Rtmr1Hex = new string('A', 96) };

        Assert.Contains(edited.Inconsistencies(), f => f.StartsWith("Rtmr1Hex " + new string('A', 96) + " differs from the quote's", StringComparison.Ordinal));
    }

    [Fact]
    public void FromQuote_RefusesAnSgxQuote()
    {
        var sgx = File.ReadAllBytes(Path.Combine(Vectors.DcapCase("sgx-v3-outofdate-2025-05"), "quote.bin"));

        var e = Assert.Throws<EnclaveInfoFormatException>(() => TdInfo.FromQuote(sgx, [], false));
        Assert.Contains("SGX enclave quote, not a TD quote", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"Type\":2}", "\"Type\" must be 129")]
    [InlineData("[1]", "must be a JSON object")]
    [InlineData("{\"Type\":129,\"RuntimeDataType\":\"Text\"}", "\"RuntimeDataType\" must be \"Binary\" or \"JSON\"")]
    [InlineData("{\"Type\":129,\"RuntimeDataType\":\"JSON\",\"MrTdHex\":\"00\"}", "\"MrTdHex\" is 1 bytes, expected 48")]
    [InlineData("{\"Type\":129,", "not valid JSON")]
    public void Parse_NamesTheFieldAtFault(string json, string expected)
    {
        var e = Assert.Throws<EnclaveInfoFormatException>(() => TdInfo.Parse(Encoding.UTF8.GetBytes(json), "td.info.json"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("td.info.json: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportDataFor_IsSha256ThenZeros()
    {
        var data = Encoding.ASCII.GetBytes("runtime");
        var reportData = TdInfo.ReportDataFor(data);

        Assert.Equal(SHA256.HashData(data), reportData[..32]);
        Assert.All(reportData[32..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void IsTdInfo_IsFalseForTheSamplesFileAndForGarbage()
    {
        var sample = File.ReadAllBytes(Path.Combine(Vectors.Directory, "maa", "azure-samples-quotes", "oe-sdk", "enclave.info.debug.json"));

        Assert.False(TdInfo.IsTdInfo(sample));
        Assert.False(TdInfo.IsTdInfo("{\"Type\":"u8));
    }
}
