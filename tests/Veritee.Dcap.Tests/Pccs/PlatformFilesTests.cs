using System.Text;
using System.Text.Json.Nodes;
using Veritee.Dcap.Pccs;

namespace Veritee.Dcap.Tests.Pccs;

/// <summary><c>platform_list.json</c> and <c>platform_collaterals.json</c>: Intel's shapes read, ours write the same.</summary>
public sealed class PlatformFilesTests
{
    private const string IntelPlatformList = """
        [{"qe_id": "00112233445566778899AABBCCDDEEFF", "pce_id": "0000", "cpu_svn": "0b0b0202ff0100000000000000000000", "pce_svn": "0d00",
          "enc_ppid": "ENCPPID", "platform_manifest": ""},
         {"qe_id": "1122", "pce_id": "0000", "cpu_svn": "", "pce_svn": "", "enc_ppid": "", "platform_manifest": "0a0b0c0d", "pckid_filename": "host2.csv"}]
        """;

    private static string List(string json = IntelPlatformList) => json.Replace("ENCPPID", new string('e', 768), StringComparison.Ordinal);

    private static DcapFormatException ListRefused(string json) =>
        Assert.Throws<DcapFormatException>(() => PlatformListFile.Read(Encoding.UTF8.GetBytes(json)));

    private static DcapFormatException FileRefused(Action<JsonObject> tweak) =>
        Assert.Throws<DcapFormatException>(() => PlatformCollateralFile.Read(IntelVectorFiles.PcsClientFile(tweak)));

    private static JsonObject Collaterals(JsonObject root) => root["collaterals"]!.AsObject();

    [Fact]
    public void PccsAdminPlatformListReadsAndRoundTrips()
    {
        var platforms = PlatformListFile.Read(Encoding.UTF8.GetBytes(List()));
        Assert.Equal(2, platforms.Count);
        Assert.Equal("0b0b0202ff0100000000000000000000", platforms[0].CpuSvn);
        Assert.Equal("0a0b0c0d", platforms[1].PlatformManifest);
        Assert.Equal("host2.csv", platforms[1].PckIdFileName);
        Assert.Null(platforms[0].PckIdFileName);
        Assert.Equal(platforms, PlatformListFile.Read(PlatformListFile.Write(platforms)));
    }

    [Fact]
    public void PlatformListRulesNameTheEntryAndField()
    {
        Assert.Contains("platforms[0].pce_id: must be 4 hex digits", ListRefused(List().Replace("\"pce_id\": \"0000\", \"cpu_svn\": \"0b", "\"pce_id\": \"000\", \"cpu_svn\": \"0b", StringComparison.Ordinal)).Message, StringComparison.Ordinal);
        Assert.Contains("platforms[0].enc_ppid: must be 768 hex", ListRefused(List(IntelPlatformList.Replace("ENCPPID", "abc", StringComparison.Ordinal))).Message, StringComparison.Ordinal);
        Assert.Contains("platforms[1]: without platform_manifest", ListRefused(List().Replace("\"0a0b0c0d\"", "\"\"", StringComparison.Ordinal)).Message, StringComparison.Ordinal);
        Assert.Contains("platforms[1].qe_id: must be 1 to 260", ListRefused(List().Replace("\"1122\"", "\"" + new string('1', 261) + "\"", StringComparison.Ordinal)).Message, StringComparison.Ordinal);
        Assert.Contains("platforms[1].platform_manifest: must be hex", ListRefused(List().Replace("0a0b0c0d", "zz", StringComparison.Ordinal)).Message, StringComparison.Ordinal);
        Assert.Contains("platforms[0]: \"qe_id\" is missing", ListRefused("[{\"pce_id\":\"0000\"}]").Message, StringComparison.Ordinal);
        Assert.Contains("platforms[0].qe_id: must be a string", ListRefused("[{\"qe_id\":1}]").Message, StringComparison.Ordinal);
        Assert.Contains("must be a JSON array", ListRefused("{}").Message, StringComparison.Ordinal);
        Assert.Contains("byte limit", Assert.Throws<DcapFormatException>(() => PlatformListFile.Read(new byte[PlatformListFile.MaxBytes + 1])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PcsClientFileReadsWithTheExactSignedTcbInfoBytes()
    {
        var file = PlatformCollateralFile.Read(IntelVectorFiles.PcsClientFile());
        Assert.Equal(4, file.Version);
        var platform = Assert.Single(file.Platforms);
        Assert.Equal("00112233445566778899aabbccddeeff", platform.QeId);
        var pck = Assert.Single(file.PckCertificates);
        Assert.Equal(IntelVectorFiles.PckEntry(), Assert.Single(pck.Certificates));
        var tcb = Assert.Single(file.TcbInfos);
        Assert.Equal("00A067110000", tcb.Fmspc);

        // The file holds the TCB Info indented; the compact form is Intel's signed bytes again.
        Assert.Equal(IntelVectorFiles.Read("tcb_info.json"), tcb.Sgx);
        Assert.Null(tcb.Tdx);
        Assert.Equal(IntelVectorFiles.Read("qe_identity.json"), file.QeIdentity);
        Assert.Equal(IntelVectorFiles.Read("pck_crl.der"), file.ProcessorCrl);
        Assert.Null(file.PlatformCrl);
        Assert.Equal(IntelVectorFiles.Read("root_ca_crl.der"), file.RootCaCrl);
        Assert.Equal(Encoding.ASCII.GetString(IntelVectorFiles.Read("pck_crl_issuer_chain.pem")), IssuerChainHeader.Decode(file.PckIssuerChainProcessor!));
        Assert.NotNull(file.TcbInfoIssuerChain);
        Assert.NotNull(file.EnclaveIdentityIssuerChain);
    }

    [Fact]
    public void WrittenFilesReadBackTheSame()
    {
        var file = PlatformCollateralFile.Read(IntelVectorFiles.PcsClientFile());
        var written = file.Write();
        var again = PlatformCollateralFile.Read(written);
        Assert.Equal(written, again.Write());
        Assert.Equal(file.TcbInfos[0].Sgx, again.TcbInfos[0].Sgx);
        Assert.Equal(file.PckCertificates[0].Certificates, again.PckCertificates[0].Certificates);
        Assert.Equal(file.Platforms, again.Platforms);

        // Intel's shape: TCB Info an object, identity a string, CRL hex.
        var json = JsonNode.Parse(written)!["collaterals"]!;
        Assert.IsType<JsonObject>(json["tcbinfos"]![0]!["sgx_tcbinfo"]);
        Assert.Equal(System.Text.Json.JsonValueKind.String, json["qeidentity"]!.GetValueKind());
        Assert.Equal(Convert.ToHexStringLower(IntelVectorFiles.Read("pck_crl.der")), (string?)json["pckcacrl"]!["processorCrl"]);
    }

    [Fact]
    public void Version3FilesUseTheV3Keys()
    {
        var file = PlatformCollateralFile.Read(IntelVectorFiles.PcsClientFile(root =>
        {
            var c = Collaterals(root);
            c["version"] = 3;
            var info = c["tcbinfos"]![0]!.AsObject();
            info["tcbinfo"] = info["sgx_tcbinfo"]!.DeepClone();
            info.Remove("sgx_tcbinfo");
            var certs = c["certificates"]!.AsObject();
            certs["SGX-TCB-Info-Issuer-Chain"] = certs["TCB-Info-Issuer-Chain"]!.DeepClone();
            certs.Remove("TCB-Info-Issuer-Chain");
        }));
        Assert.Equal(3, file.Version);
        Assert.Equal(IntelVectorFiles.Read("tcb_info.json"), file.TcbInfos[0].Sgx);
        Assert.NotNull(file.TcbInfoIssuerChain);
        var written = Encoding.UTF8.GetString(file.Write());
        Assert.Contains("\"tcbinfo\"", written, StringComparison.Ordinal);
        Assert.Contains("\"SGX-TCB-Info-Issuer-Chain\"", written, StringComparison.Ordinal);
    }

    [Fact]
    public void SchemaViolationsNameTheItem()
    {
        Assert.Contains("\"platforms\" is missing", FileRefused(r => r.Remove("platforms")).Message, StringComparison.Ordinal);
        Assert.Contains("collaterals.version: must be 3 or 4, got 5", FileRefused(r => Collaterals(r)["version"] = 5).Message, StringComparison.Ordinal);
        Assert.Contains("collaterals: \"pck_certs\" is missing", FileRefused(r => Collaterals(r).Remove("pck_certs")).Message, StringComparison.Ordinal);
        Assert.Contains("collaterals.tcbinfos[0].fmspc: must be 12 hex", FileRefused(r => Collaterals(r)["tcbinfos"]![0]!["fmspc"] = "00A0671100").Message, StringComparison.Ordinal);
        Assert.Contains("collaterals.tcbinfos[0].sgx_tcbinfo: must be a JSON object", FileRefused(r => Collaterals(r)["tcbinfos"]![0]!["sgx_tcbinfo"] = "x").Message, StringComparison.Ordinal);
        Assert.Contains("collaterals.pck_certs[0].certs[0].tcbm", FileRefused(r => Collaterals(r)["pck_certs"]![0]!["certs"]![0]!["tcbm"] = "00").Message, StringComparison.Ordinal);
        Assert.Contains("SGX-PCK-Certificate-Issuer-Chain.PROCESSOR: issuer chain", FileRefused(r => Collaterals(r)["certificates"]!["SGX-PCK-Certificate-Issuer-Chain"]!["PROCESSOR"] = "nothing").Message, StringComparison.Ordinal);
        Assert.Contains("\"SGX-PCK-Certificate-Issuer-Chain\" is missing", FileRefused(r => Collaterals(r)["certificates"]!.AsObject().Remove("SGX-PCK-Certificate-Issuer-Chain")).Message, StringComparison.Ordinal);
        Assert.Contains("collaterals.pckcacrl.processorCrl: not hex", FileRefused(r => Collaterals(r)["pckcacrl"]!["processorCrl"] = "xyz1").Message, StringComparison.Ordinal);
        Assert.Contains("collaterals.rootcacrl: not hex", FileRefused(r => Collaterals(r)["rootcacrl"] = "abc").Message, StringComparison.Ordinal);
        Assert.Contains("collaterals.qeidentity: must be a string", FileRefused(r => Collaterals(r)["qeidentity"] = new JsonObject()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedOversizedAndBitFlippedFilesFailOnlyWithFormatErrors()
    {
        var bytes = IntelVectorFiles.PcsClientFile();
        Assert.Contains("byte limit", Assert.Throws<DcapFormatException>(() => PlatformCollateralFile.Read(new byte[PlatformCollateralFile.MaxBytes + 1])).Message, StringComparison.Ordinal);
        var random = new Random(42);
        for (var i = 0; i < 400; i++)
        {
            byte[] mutated;
            if (i < 150)
            {
                mutated = bytes[..random.Next(bytes.Length)];
            }
            else
            {
                mutated = bytes.ToArray();
                mutated[random.Next(mutated.Length)] ^= (byte)(1 << random.Next(8));
            }

            try
            {
                var file = PlatformCollateralFile.Read(mutated);
                file.Write();
            }
            catch (DcapFormatException)
            {
            }
        }

        for (var i = 0; i < 100; i++)
        {
            try
            {
                PlatformListFile.Read(Encoding.UTF8.GetBytes(List())[..random.Next(List().Length)]);
            }
            catch (DcapFormatException)
            {
            }
        }
    }
}
