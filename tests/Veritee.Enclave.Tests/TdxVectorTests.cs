using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using Veritee.Sgx;
using Veritee.TestSupport;

namespace Veritee.Enclave.Tests;

/// <summary>Real Azure and Trustee TD evidence (tests/vectors/tdx) and the Azure HCL report parser, including hostile input.</summary>
public sealed class TdxVectorTests
{
    private static readonly string Tdx = Path.Combine(Vectors.Directory, "tdx");

    private static byte[] Read(string relative) => File.ReadAllBytes(Path.Combine(Tdx, relative));

    private static byte[] TrusteeHcl => Read("trustee/az-tdx-vtpm-hcl-report.bin");

    [Fact]
    public void Trustee_Azure_HCL_report_parses_and_binds_its_runtime_JSON_to_the_quote()
    {
        var hcl = AzureHclReport.Parse(TrusteeHcl);
        Assert.Equal(2u, hcl.Version);
        Assert.Equal(AzureHclReport.ReportTypeTdx, hcl.ReportType);
        Assert.Equal(1u, hcl.HashType);
        Assert.Equal(1201, hcl.VariableData.Length);
        Assert.True(hcl.BindsVariableData);
        Assert.Equal("9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839", Convert.ToHexStringLower(hcl.ReportData.Span[..32]));

        using var json = JsonDocument.Parse(hcl.VariableData);
        Assert.Equal("HCLAkPub", json.RootElement.GetProperty("keys")[0].GetProperty("kid").GetString());
        Assert.Equal(JsonValueKind.Object, json.RootElement.GetProperty("vm-configuration").ValueKind);

        // The quote IMDS made from this TDREPORT carries the same report data, MRTD and attributes.
        var quote = Quote.Parse(Read("trustee/az-tdx-vtpm-td-quote.bin"));
        Assert.Equal(hcl.ReportData.ToArray(), quote.TdReport.ReportData.ToArray());
        Assert.Equal(hcl.MrTd.ToArray(), quote.TdReport.MrTd.ToArray());
        Assert.Equal(hcl.TdAttributes.ToArray(), quote.TdReport.TdAttributes.ToArray());

        // So the TD evidence file (the CVM tools' request: quote + JSON runtime data) is consistent.
        var info = TdInfo.FromQuote(Read("trustee/az-tdx-vtpm-td-quote.bin"), hcl.VariableData.Span, runtimeDataIsJson: true);
        Assert.Empty(info.Inconsistencies());
        Assert.Equal(SHA256.HashData(hcl.VariableData.Span), Convert.FromHexString(info.QuoteHex).AsSpan(48 + 520, 32).ToArray());
    }

    [Fact]
    public void CVM_tools_HCL_report_is_a_TDX_report_with_user_data()
    {
        // Named snp_hcl_report.bin upstream, but its report type is 4 (TDX) and the CVM tools' tests read a TDREPORT from it.
        var hcl = AzureHclReport.Parse(Read("cvm-attestation-tools/snp_hcl_report.bin"));
        Assert.True(hcl.BindsVariableData);
        using var json = JsonDocument.Parse(hcl.VariableData);
        Assert.Equal(128, json.RootElement.GetProperty("user-data").GetString()!.Length);
    }

    [Theory]
    [InlineData("cvm-attestation-tools/td_quote_v4.dat", 4, "90C06F000000")]
    [InlineData("cvm-attestation-tools/td_quote_v5.dat", 5, "90C06F000000")]
    [InlineData("trustee/tdx_quote_4.dat", 4, "50806F000000")]
    [InlineData("trustee/tdx_quote_5.dat", 5, "90C06F000000")]
    [InlineData("trustee/az-tdx-vtpm-td-quote.bin", 4, "00806F050000")]
    [InlineData("cases/trustee-tdx-v4-00a06d080000-outofdate-2025-10/quote.bin", 4, "00A06D080000")]
    public void Real_TD_quotes_parse_and_give_the_claims_a_token_would_carry(string file, int version, string fmspc)
    {
        var bytes = Read(file);
        var quote = Quote.Parse(bytes);
        Assert.Equal(version, quote.Header.Version);
        Assert.Equal(TeeType.Tdx, quote.TeeType);
        Assert.Equal(fmspc, Convert.ToHexString(PckFmspc(quote)));

        var info = TdInfo.FromQuote(bytes, [], runtimeDataIsJson: false);
        var body = quote.TdReport;
        Assert.Equal(Convert.ToHexString(body.MrTd.Span), info.MrTdHex);
        Assert.Equal(Convert.ToHexString(body.RtMr(3).Span), info.Rtmr3Hex);
        Assert.Equal(Convert.ToHexString(body.TdAttributes.Span), info.TdAttributesHex);
        Assert.Equal(Convert.ToHexString(body.Xfam.Span), info.XfamHex);
        Assert.Equal(body.IsDebuggable, info.IsDebuggable);
        Assert.Equal(Convert.ToHexString(bytes), info.QuoteHex);
    }

    [Fact]
    public void Azure_CVM_quotes_have_what_the_TDX_notes_say()
    {
        foreach (var file in new[] { "cvm-attestation-tools/td_quote_v4.dat", "cvm-attestation-tools/td_quote_v5.dat" })
        {
            var info = TdInfo.FromQuote(Read(file), [], runtimeDataIsJson: false);
            Assert.Equal("0000001000000000", info.TdAttributesHex); // SEPT_VE_DISABLE, not debug
            Assert.False(info.IsDebuggable);
            Assert.All(Enumerable.Range(0, 4), i => Assert.Equal(new string('0', 96), info.Rtmr(i)));
            Assert.Equal(new string('0', 96), info.MrConfigIdHex);
        }
    }

    private static byte[] PckFmspc(Quote quote)
    {
        var pem = System.Text.Encoding.ASCII.GetString(quote.SignatureData.CertificationData.Data.Span).TrimEnd('\0');
        using var leaf = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
        return PckCertificateExtension.Parse(leaf.Extensions[PckCertificateExtension.Oid]!.RawData).Fmspc;
    }

    private static byte[] Patch(int offset, uint value)
    {
        var bytes = TrusteeHcl;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(offset, 4), value);
        return bytes;
    }

    public static TheoryData<string, string> Hostile() => new()
    {
        { "empty", "shorter than its fixed part" },
        { "truncated-1235", "shorter than its fixed part" },
        { "signature", "not 'HCLA'" },
        { "snp", "report_type at offset 1224 is 2 (SEV-SNP)" },
        { "hash-0", "report_data_hash_type at offset 1228 is 0" },
        { "hash-4", "report_data_hash_type at offset 1228 is 4" },
        { "var-huge", "variable_data_size at offset 1232 is 4294967295" },
        { "var-beyond", "only 1364 bytes follow offset 1236" },
        { "report-size", "report_size at offset 8 is 4294967295" },
        { "data-size", "data_size at offset 1216 is 0" },
        { "tdreport-type", "not 0x81" },
        { "too-big", "exceeds the limit of 65536" },
        { "var-cut", "only 1000 bytes follow offset 1236" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_HCL_reports_are_refused_naming_field_offset_and_limit(string mutation, string expected)
    {
        var input = mutation switch
        {
            "empty" => [],
            "truncated-1235" => TrusteeHcl[..1235],
            "signature" => Patch(0, 0x41434C47),
            "snp" => Patch(1224, 2),
            "hash-0" => Patch(1228, 0),
            "hash-4" => Patch(1228, 4),
            "var-huge" => Patch(1232, uint.MaxValue),
            "var-beyond" => Patch(1232, 1365),
            "report-size" => Patch(8, uint.MaxValue),
            "data-size" => Patch(1216, 0),
            "tdreport-type" => Patch(32, 0x02),
            "too-big" => new byte[AzureHclReport.MaxSize + 1],
            "var-cut" => TrusteeHcl[..2236],
            _ => throw new ArgumentOutOfRangeException(nameof(mutation)),
        };
        var e = Assert.Throws<AzureHclReportFormatException>(() => AzureHclReport.Parse(input));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_header_byte_set_to_any_extreme_gives_a_report_or_a_format_error()
    {
        foreach (var offset in Enumerable.Range(0, 32).Concat(Enumerable.Range(AzureHclReport.RuntimeDataOffset, 20)))
        {
            foreach (var value in new byte[] { 0x00, 0x01, 0x7F, 0x80, 0xFF })
            {
                var bytes = TrusteeHcl;
                bytes[offset] = value;
                try
                {
                    _ = AzureHclReport.Parse(bytes).BindsVariableData;
                }
                catch (AzureHclReportFormatException)
                {
                }
            }
        }
    }

    [Fact]
    public void Random_mutations_and_truncations_give_a_report_or_a_format_error()
    {
        // Fixed seed: the same 2,000 inputs every run.
        var random = new Random(12);
        var original = TrusteeHcl;
        for (var i = 0; i < 2000; i++)
        {
            var bytes = original[..random.Next(0, original.Length + 1)];
            for (var flips = random.Next(1, 8); flips > 0 && bytes.Length > 0; flips--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            try
            {
                var hcl = AzureHclReport.Parse(bytes);
                Assert.True(hcl.VariableData.Length <= bytes.Length - AzureHclReport.VariableDataOffset);
                _ = hcl.BindsVariableData;
            }
            catch (AzureHclReportFormatException)
            {
            }
        }
    }

    [Fact]
    public void Changed_runtime_JSON_no_longer_binds()
    {
        var bytes = TrusteeHcl;
        bytes[AzureHclReport.VariableDataOffset + 10] ^= 1;
        Assert.False(AzureHclReport.Parse(bytes).BindsVariableData);
    }
}
