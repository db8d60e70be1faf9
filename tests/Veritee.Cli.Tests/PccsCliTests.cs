using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Veritee.Dcap;
using Veritee.Dcap.Pccs;
using Veritee.Enclave;

namespace Veritee.Cli.Tests;

/// <summary>
/// <c>veritee pccs collect|fetch|get|put</c> against loopback fakes of Intel PCS and of a PCCS (real HTTP), with real
/// simulated PCK certificates and collateral: Intel's file formats, verification before writing or sending, one-line errors.
/// </summary>
public sealed class PccsCliTests : IDisposable
{
    private static readonly DateTimeOffset IssuedAt = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-pccs-cli-").FullName;
    private readonly SimulatedPlatform _platform;
    private readonly PckCertificateSet _set;
    private readonly PckCertificateSet _platformCaSet;
    private readonly SimulatedCollateral _collateral;

    public PccsCliTests()
    {
        _platform = SimulatedPlatform.Create(Path.Combine(_dir, "platform"), IssuedAt);
        var p = _platform.Profile;
        _set = PckCertificateSet.Issue(_platform, new PckCertificateSetOptions
        {
            IssuedAt = IssuedAt,
            Levels = [new PcsTcb(p.TcbComponents, (ushort)(p.PceSvn + 1)), new PcsTcb(p.TcbComponents, p.PceSvn), new PcsTcb(new byte[16], 0)],
            NotAvailable = new HashSet<int> { 0 },
        });
        _platformCaSet = PckCertificateSet.Issue(_platform, new PckCertificateSetOptions { IssuedAt = IssuedAt, Levels = [new PcsTcb(p.TcbComponents, p.PceSvn)], CaType = PckCaType.Platform });
        _collateral = CollateralAuthority.Issue(_platform, new CollateralOptions { IssuedAt = IssuedAt });
        File.WriteAllText(Path.Combine(_dir, "anchor.pem"), _platform.RootCertificatePem);
    }

    public void Dispose()
    {
        _platform.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string AnchorFile => Path.Combine(_dir, "anchor.pem");

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Csv(string encPpid, string cpuSvn, string manifest = "") =>
        $"{encPpid},0000,{cpuSvn},0D00,00112233445566778899AABBCCDDEEFF" + (manifest.Length > 0 ? "," + manifest : "") + "\n";

    private string PlatformList()
    {
        var csvDir = Path.Combine(_dir, "csv");
        Directory.CreateDirectory(csvDir);
        File.WriteAllText(Path.Combine(csvDir, "host1.csv"), Csv(new string('a', 768), new string('0', 32)));
        var output = Path.Combine(_dir, "platform_list.json");
        var (exit, _, err) = Run("pccs", "collect", "-d", csvDir, "-o", output);
        Assert.True(exit == 0, err);
        return output;
    }

    /// <summary>A PCS serving the simulated platform's set and collateral (TDX, QvE and TD QE absent, as for an SGX-only FMSPC).</summary>
    private FakeHttp Pcs(Func<FakeHttp.Request, FakeHttp.Response?>? overrideFirst = null)
    {
        var fmspc = Convert.ToHexString(_platform.Profile.Fmspc);
        string Chain(byte[] pem) => IssuerChainHeader.Encode(Encoding.ASCII.GetString(pem));
        return new FakeHttp(request => overrideFirst?.Invoke(request) ?? (request.Path, request.Query) switch
        {
            ("/sgx/certification/v4/pckcerts", _) => new(200, _set.PckCertsJson, [.. _set.PckCertsHeaders]),
            ("/sgx/certification/v4/fmspcs", _) => new(200, Encoding.ASCII.GetBytes($"[{{\"fmspc\":\"{fmspc}\",\"platform\":\"E3\"}}]")),
            ("/sgx/certification/v4/tcb", _) => new(200, _collateral.TcbInfo, KeyValuePair.Create("TCB-Info-Issuer-Chain", Chain(_collateral.TcbInfoIssuerChain))),
            ("/sgx/certification/v4/qe/identity", _) => new(200, _collateral.QeIdentity, KeyValuePair.Create("SGX-Enclave-Identity-Issuer-Chain", Chain(_collateral.QeIdentityIssuerChain))),
            ("/sgx/certification/v4/pckcrl", "ca=processor&encoding=der") => new(200, _collateral.PckCrl, KeyValuePair.Create("SGX-PCK-CRL-Issuer-Chain", Chain(_collateral.PckCrlIssuerChain))),
            ("/sgx/certification/v4/pckcrl", "ca=platform&encoding=der") => new(200, _platformCaSet.PckCrl, KeyValuePair.Create("SGX-PCK-CRL-Issuer-Chain", IssuerChainHeader.Encode(_platformCaSet.IssuerChainPem))),
            ("/root.crl", _) => new(200, _collateral.RootCaCrl),
            _ => new(404, Encoding.ASCII.GetBytes("{}"), KeyValuePair.Create("Error-Code", "NotFound")),
        });
    }

    private (int Exit, string Out, string Err) Fetch(FakeHttp pcs, string list, string output, params string[] extra) =>
        Run(["pccs", "fetch", "-i", list, "-o", output, "--pcs", pcs.BaseAddress + "sgx/certification/v4/", "--root-ca-crl", "/root.crl", "--trust-anchor", AnchorFile, .. extra]);

    [Fact]
    public void CollectGathersPckIdRetrievalToolCsvFiles()
    {
        var csvDir = Path.Combine(_dir, "csv");
        Directory.CreateDirectory(csvDir);
        File.WriteAllText(Path.Combine(csvDir, "a.csv"), Csv(new string('a', 768), new string('0', 32)));
        File.WriteAllText(Path.Combine(csvDir, "b.csv"), Csv("", "", "0A0B0C0D"));
        var output = Path.Combine(_dir, "list.json");
        var (exit, stdout, _) = Run("pccs", "collect", "-d", csvDir, "-o", output);
        Assert.Equal(0, exit);
        Assert.Contains("2 platform(s)", stdout, StringComparison.Ordinal);
        var list = PlatformListFile.Read(File.ReadAllBytes(output));
        Assert.Equal(["a", "b"], list.Select(p => p.PckIdFileName));
        Assert.Equal("0A0B0C0D", list[1].PlatformManifest);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(output));
        }

        var again = Run("pccs", "collect", "-d", csvDir, "-o", output);
        Assert.Equal(2, again.Exit);
        Assert.Contains("already exists (--force replaces it)", again.Err, StringComparison.Ordinal);
        Assert.Equal(0, Run("pccs", "collect", "-d", csvDir, "-o", output, "--force").Exit);

        File.WriteAllText(Path.Combine(csvDir, "c.csv"), "abc,0000\n");
        var bad = Run("pccs", "collect", "-d", csvDir, "-o", Path.Combine(_dir, "x.json"));
        Assert.Equal(2, bad.Exit);
        Assert.Single(bad.Err.TrimEnd().Split('\n'));
        Assert.Contains("c.csv:1: 2 fields; 5 or 6 expected", bad.Err, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(csvDir, "c.csv"), Csv("abc", new string('0', 32)));
        Assert.Contains("c.csv:1: platform.enc_ppid: must be 768 hex digits", Run("pccs", "collect", "-d", csvDir, "-o", Path.Combine(_dir, "x.json")).Err, StringComparison.Ordinal);
    }

    [Fact]
    public void FetchWritesAVerifiedIntelShapedFileAndSendsTheKeyOnlyForPckCerts()
    {
        var list = PlatformList();
        var keyFile = Write("api.key", "my-pcs-key\n");
        using var pcs = Pcs();
        var output = Path.Combine(_dir, "platform_collaterals.json");
        var (exit, stdout, stderr) = Fetch(pcs, list, output, "--api-key-file", keyFile);
        Assert.True(exit == 0, stderr);
        Assert.Contains("1 platform(s), 2 PCK certificate(s), 1 FMSPC(s) verified", stdout, StringComparison.Ordinal);
        Assert.Contains("\"Not available\"", stderr, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(output));
        }

        var file = PlatformCollateralFile.Read(File.ReadAllBytes(output));
        Assert.Equal(_collateral.TcbInfo, file.TcbInfos[0].Sgx);
        Assert.Equal(_collateral.QeIdentity, file.QeIdentity);
        Assert.Null(file.TdQeIdentity);
        Assert.Equal(2, file.PckCertificates[0].Certificates.Count);
        Assert.True(PccsIngest.Verify(file, TrustAnchor.Load(File.ReadAllBytes(AnchorFile), "anchor"), IssuedAt).IsValid);

        var pckRequest = Assert.Single(pcs.Requests, r => r.Path.EndsWith("/pckcerts", StringComparison.Ordinal));
        Assert.Equal("my-pcs-key", pckRequest.Headers["Ocp-Apim-Subscription-Key"]);
        Assert.Equal($"encrypted_ppid={new string('a', 768)}&pceid=0000", pckRequest.Query);
        Assert.All(pcs.Requests.Where(r => r != pckRequest), r => Assert.False(r.Headers.ContainsKey("Ocp-Apim-Subscription-Key")));

        // Without a key, no key header at all (PCS rejects an empty one).
        using var keyless = Pcs();
        Assert.Equal(0, Fetch(keyless, list, Path.Combine(_dir, "keyless.json")).Exit);
        Assert.All(keyless.Requests, r => Assert.False(r.Headers.ContainsKey("Ocp-Apim-Subscription-Key")));
    }

    [Fact]
    public void FetchRefusesCollateralThatDoesNotVerifyAndWritesNothing()
    {
        var list = PlatformList();
        var forged = _collateral.TcbInfo.ToArray();
        forged[^4] = forged[^4] == (byte)'0' ? (byte)'1' : (byte)'0';
        var chain = IssuerChainHeader.Encode(Encoding.ASCII.GetString(_collateral.TcbInfoIssuerChain));
        using var pcs = Pcs(r => r.Path == "/sgx/certification/v4/tcb" ? new(200, forged, KeyValuePair.Create("TCB-Info-Issuer-Chain", chain)) : null);
        var output = Path.Combine(_dir, "forged.json");
        var (exit, _, stderr) = Fetch(pcs, list, output);
        Assert.Equal(1, exit);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains("refused, nothing written: collaterals.tcbinfos[0].sgx_tcbinfo: TCB Info signature does not verify", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));

        // Intel's own root is not the simulated one: everything is refused without --trust-anchor.
        using var pcs2 = Pcs();
        var untrusted = Run("pccs", "fetch", "-i", list, "-o", output, "--pcs", pcs2.BaseAddress.AbsoluteUri, "--root-ca-crl", "/root.crl");
        Assert.Equal(1, untrusted.Exit);
        Assert.Contains("STATUS_SGX_ROOT_CA_UNTRUSTED", untrusted.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void FetchReportsPcsErrorsWithIntelsReason()
    {
        var list = PlatformList();
        using var pcs = Pcs(r => r.Path.EndsWith("/pckcerts", StringComparison.Ordinal)
            ? new(401, [], KeyValuePair.Create("Error-Code", "InvalidSubscriptionKey"), KeyValuePair.Create("Error-Message", "Subscription key is invalid"))
            : null);
        var (exit, _, stderr) = Fetch(pcs, list, Path.Combine(_dir, "out.json"));
        Assert.Equal(2, exit);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains("platform qe_id 00112233445566778899AABBCCDDEEFF", stderr, StringComparison.Ordinal);
        Assert.Contains("HTTP 401", stderr, StringComparison.Ordinal);
        Assert.Contains("Error-Message: Subscription key is invalid", stderr, StringComparison.Ordinal);

        Assert.Contains("--update: 'sometimes' is not standard, early or all", Fetch(pcs, list, Path.Combine(_dir, "o.json"), "--update", "sometimes").Err, StringComparison.Ordinal);
        Assert.Equal(2, Run("pccs", "fetch", "-i", Write("bad.json", "{}"), "-o", Path.Combine(_dir, "o.json")).Exit);
    }

    [Fact]
    public void GetAndPutSpeakThePccsAdminContract()
    {
        const string Token = "pccs-admin-token";
        var tokenFile = Write("admin.token", Token + "\n");
        var platformsJson = File.ReadAllText(PlatformList());
        var putBodies = new ConcurrentQueue<byte[]>();
        using var pccs = new FakeHttp(request =>
        {
            if (!request.Headers.TryGetValue("admin-token", out var token) || token != Token)
            {
                return new(401, Encoding.ASCII.GetBytes("Authentication failed."));
            }

            return (request.Method, request.Path) switch
            {
                ("GET", "/sgx/certification/v4/platforms") when request.Query == "source=reg" => new(200, Encoding.UTF8.GetBytes(platformsJson), KeyValuePair.Create("platform-count", "1")),
                ("GET", "/sgx/certification/v4/platforms") when request.Query == "source=%5B30606A000000%5D" => new(200, "[]"u8.ToArray(), KeyValuePair.Create("platform-count", "0")),
                ("PUT", "/sgx/certification/v4/platformcollateral") => Accept(request),
                _ => new(404, []),
            };

            FakeHttp.Response Accept(FakeHttp.Request r)
            {
                putBodies.Enqueue(r.Body);
                return new(200, Encoding.ASCII.GetBytes("Operation successful."));
            }
        });

        var list = Path.Combine(_dir, "got.json");
        var got = Run("pccs", "get", "--url", pccs.BaseAddress.AbsoluteUri, "-o", list, "--admin-token-file", tokenFile);
        Assert.True(got.Exit == 0, got.Err);
        Assert.Contains("1 platform(s) (platform-count 1)", got.Out, StringComparison.Ordinal);
        Assert.Single(PlatformListFile.Read(File.ReadAllBytes(list)));
        Assert.Equal(0, Run("pccs", "get", "--url", pccs.BaseAddress.AbsoluteUri, "-s", "[30606A000000]", "-o", Path.Combine(_dir, "cached.json"), "--admin-token-file", tokenFile).Exit);

        var wrong = Run("pccs", "get", "--url", pccs.BaseAddress.AbsoluteUri, "-o", Path.Combine(_dir, "w.json"), "--admin-token-file", Write("wrong.token", "nope"));
        Assert.Equal(2, wrong.Exit);
        Assert.Contains("HTTP 401: Authentication failed.", wrong.Err, StringComparison.Ordinal);
        Assert.Contains("--source: '30606A000000' is not reg", Run("pccs", "get", "--url", pccs.BaseAddress.AbsoluteUri, "-s", "30606A000000", "--admin-token-file", tokenFile).Err, StringComparison.Ordinal);
        Assert.Contains("an admin token is needed", Run("pccs", "get", "--url", pccs.BaseAddress.AbsoluteUri, "-o", Path.Combine(_dir, "n.json")).Err, StringComparison.Ordinal);

        // put: a verified file goes over whole; a tampered one is refused before anything is sent.
        using var pcs = Pcs();
        var collaterals = Path.Combine(_dir, "collaterals.json");
        Assert.Equal(0, Fetch(pcs, list, collaterals).Exit);
        var put = Run("pccs", "put", "--url", pccs.BaseAddress + "sgx/certification/v4/", "-i", collaterals, "--trust-anchor", AnchorFile, "--admin-token-file", tokenFile);
        Assert.True(put.Exit == 0, put.Err);
        Assert.Equal(File.ReadAllBytes(collaterals), Assert.Single(putBodies));

        var json = JsonNode.Parse(File.ReadAllText(collaterals))!;
        json["collaterals"]!["qeidentity"] = ((string)json["collaterals"]!["qeidentity"]!).Replace("\"isvprodid\":1", "\"isvprodid\":2", StringComparison.Ordinal);
        var tampered = Write("tampered.json", json.ToJsonString());
        var refused = Run("pccs", "put", "--url", pccs.BaseAddress.AbsoluteUri, "-i", tampered, "--trust-anchor", AnchorFile, "--admin-token-file", tokenFile);
        Assert.Equal(1, refused.Exit);
        Assert.Contains("collaterals.qeidentity", refused.Err, StringComparison.Ordinal);
        Assert.Single(putBodies);
    }

    [Fact]
    public void TheAdminTokenAlsoComesFromTheEnvironmentButNeverFromTheCommandLine()
    {
        var help = Run("pccs", "put", "--help");
        Assert.DoesNotContain("--admin-token ", help.Out, StringComparison.Ordinal);
        var bad = Run("pccs", "get", "--url", "http://127.0.0.1:1/", "--admin-token", "x");
        Assert.Equal(2, bad.Exit);
        Assert.Contains("unknown option '--admin-token'", bad.Err, StringComparison.Ordinal);
    }
}
