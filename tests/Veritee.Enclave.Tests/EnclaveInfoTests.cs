using Veritee.TestSupport;

namespace Veritee.Enclave.Tests;

public class EnclaveInfoTests
{
    private static readonly string SamplesRoot = Path.Combine(Vectors.Directory, "maa", "azure-samples-quotes");

    public static TheoryData<string> SampleFiles()
    {
        var data = new TheoryData<string>();
        foreach (var sdk in new[] { "oe-sdk", "intel-sdk" })
        {
            foreach (var variant in new[] { "debug", "release", "prodid", "securityversion" })
            {
                data.Add(Path.Combine(sdk, $"enclave.info.{variant}.json"));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SampleFiles))]
    public void The_samples_own_files_parse_and_agree_with_their_quotes(string file)
    {
        var path = Path.Combine(SamplesRoot, file);
        var info = EnclaveInfo.Load(path);
        Assert.Equal(EnclaveInfo.SgxType, info.Type);
        Assert.Empty(info.Inconsistencies());
        Assert.Equal(file.Contains("prodid", StringComparison.Ordinal) ? 9999 : 1, info.ProductId);
        Assert.Equal(file.Contains("securityversion", StringComparison.Ordinal) ? 8888u : 1u, info.SecurityVersion);

        // Writing gives back the samples' exact bytes.
        Assert.Equal(File.ReadAllText(path), info.ToJson());

        // Describing the same quote and EHD reproduces the file, Attributes included (OE: 3/2, Intel SDK: 7/5).
        Assert.Equal(info, EnclaveInfo.FromQuote(info.Quote, info.EnclaveHeldData));
    }

    [Fact]
    public void Attributes_follow_the_sample_that_wrote_the_file()
    {
        Assert.Equal(3UL, EnclaveInfo.Load(Path.Combine(SamplesRoot, "oe-sdk", "enclave.info.debug.json")).Attributes);
        Assert.Equal(2UL, EnclaveInfo.Load(Path.Combine(SamplesRoot, "oe-sdk", "enclave.info.release.json")).Attributes);
        Assert.Equal(7UL, EnclaveInfo.Load(Path.Combine(SamplesRoot, "intel-sdk", "enclave.info.debug.json")).Attributes);
        Assert.Equal(5UL, EnclaveInfo.Load(Path.Combine(SamplesRoot, "intel-sdk", "enclave.info.release.json")).Attributes);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("{}", "\"Type\" is missing")]
    [InlineData("{\"Type\":\"2\"}", "\"Type\" must be an integer")]
    [InlineData("{\"Type\":2,\"MrEnclaveHex\":\"XYZ\"}", "\"MrEnclaveHex\" is not hex")]
    [InlineData("{\"Type\":2,\"MrEnclaveHex\":\"0102\"}", "\"MrEnclaveHex\" is 2 bytes")]
    [InlineData("{\"Type\":2,\"MrEnclaveHex\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"MrSignerHex\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"ProductIdHex\":\"00000000000000000000000000000000\",\"SecurityVersion\":-1}", "\"SecurityVersion\" must be an integer")]
    [InlineData("{\"Type\":2,\"MrEnclaveHex\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"MrSignerHex\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"ProductIdHex\":\"00000000000000000000000000000000\",\"SecurityVersion\":1,\"Attributes\":1,\"QuoteHex\":\"\",\"EnclaveHeldDataHex\":\"\"}", "\"QuoteHex\" is empty")]
    public void Malformed_files_name_the_field(string json, string expected)
    {
        var e = Assert.Throws<EnclaveInfoFormatException>(() => EnclaveInfo.Parse(System.Text.Encoding.UTF8.GetBytes(json), "x.json"));
        Assert.StartsWith("x.json: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_quote_that_does_not_parse_is_a_format_error_and_an_inconsistency()
    {
        Assert.Throws<EnclaveInfoFormatException>(() => EnclaveInfo.FromQuote(new byte[100], []));
        var info = EnclaveInfo.Load(Path.Combine(SamplesRoot, "intel-sdk", "enclave.info.debug.json")) with { QuoteHex = "0300" };
        Assert.Contains("does not parse", Assert.Single(info.Inconsistencies()), StringComparison.Ordinal);
        var wrongEhd = EnclaveInfo.Load(Path.Combine(SamplesRoot, "intel-sdk", "enclave.info.debug.json")) with { EnclaveHeldDataHex = "00" };
        Assert.Contains("report data", Assert.Single(wrongEhd.Inconsistencies()), StringComparison.Ordinal);
    }

    [Fact]
    public void Sample_enclave_binds_its_rsa_public_key()
    {
        using var enclave = new SampleEnclave();
        Assert.Equal(2048, enclave.Key.KeySize);
        var pem = System.Text.Encoding.ASCII.GetString(enclave.EnclaveHeldData);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", pem, StringComparison.Ordinal);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(enclave.EnclaveHeldData), enclave.ReportData[..32]);
        Assert.Equal(new byte[32], enclave.ReportData[32..]);
    }
}
