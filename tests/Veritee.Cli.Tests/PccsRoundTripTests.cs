using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Veritee.Dcap.Pccs;
using Veritee.Enclave;
using Veritee.Service;
using Veritee.TestSupport;

namespace Veritee.Cli.Tests;

/// <summary>
/// Issue 15's air-gapped round trip, whole, on Intel's file formats (docs/pccs.md): a platform registers with an offline
/// Veritee node (real server, SQLite, loopback), <c>veritee pccs get</c> takes the queue, <c>veritee pccs fetch</c>
/// collects from a loopback fake PCS serving a simulated platform's PCK certificate set, <c>veritee pccs put</c> imports
/// it, and the node then serves the certificate and collateral without ever calling upstream.
/// </summary>
public sealed class PccsRoundTripTests : IAsyncLifetime
{
    private const string UserToken = "roundtrip-user-token";
    private const string AdminToken = "roundtrip-admin-token";
    private const string QeId = "00112233445566778899aabbccddeeff";
    private static readonly DateTimeOffset IssuedAt = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly string Ppid = new('a', 768);

    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-pccs-roundtrip-").FullName;
    private readonly SimulatedPlatform _platform;
    private readonly PckCertificateSet _set;
    private readonly PckCertificateSet _platformCaSet;
    private readonly SimulatedCollateral _collateral;
    private readonly FakeHttp _pcs;
    private readonly FakeHttp _upstream;
    private readonly HttpClient _http = new();
    private WebApplication _node = null!;
    private string _url = null!;

    public PccsRoundTripTests()
    {
        _platform = SimulatedPlatform.Create(Path.Combine(_dir, "platform"), IssuedAt);
        var p = _platform.Profile;
        _set = PckCertificateSet.Issue(_platform, new PckCertificateSetOptions
        {
            IssuedAt = IssuedAt,
            Levels = [new PcsTcb(p.TcbComponents, (ushort)(p.PceSvn + 1)), new PcsTcb(p.TcbComponents, p.PceSvn), new PcsTcb(new byte[16], 0)],
        });
        _platformCaSet = PckCertificateSet.Issue(_platform, new PckCertificateSetOptions { IssuedAt = IssuedAt, Levels = [new PcsTcb(p.TcbComponents, p.PceSvn)], CaType = PckCaType.Platform });
        _collateral = CollateralAuthority.Issue(_platform, new CollateralOptions { IssuedAt = IssuedAt });
        File.WriteAllText(Path.Combine(_dir, "anchor.pem"), _platform.RootCertificatePem);
        File.WriteAllText(Path.Combine(_dir, "admin.token"), AdminToken + "\n");
        _pcs = Pcs();

        // The offline node's configured upstream: it must never be called.
        _upstream = new FakeHttp(_ => new(500, []));
    }

    public async Task InitializeAsync()
    {
        _url = Loopback.HttpUrl();
        var options = new ServiceOptions
        {
            InstanceUrl = "https://pccs.test",
            DataDirectory = Path.Combine(_dir, "data"),
            AdminToken = "maa-admin",
            PccsMode = PccsFillMode.Offline,
            PccsUserTokenHash = Hash(UserToken),
            PccsAdminTokenHash = Hash(AdminToken),
            PccsRefreshInterval = TimeSpan.Zero,
            CollateralServiceUrl = _upstream.BaseAddress,
            RootCaCrlUrl = new Uri(_upstream.BaseAddress, "root.crl"),
            PccsTrustAnchor = _platform.TrustAnchor,
        };
        _node = await VeriteeServer.BuildAsync(options, _url, new FixedClock(IssuedAt.AddDays(1)));
        await _node.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _node.StopAsync();
        await _node.DisposeAsync();
        _http.Dispose();
        _pcs.Dispose();
        _upstream.Dispose();
        _platform.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string Hash(string token) => Convert.ToHexStringLower(SHA512.HashData(Encoding.UTF8.GetBytes(token)));

    private string V4 => _url + "/sgx/certification/v4/";

    private string RawCpuSvn => Convert.ToHexStringLower(_platform.Profile.TcbComponents);

    private string RawPceSvn
    {
        get
        {
            Span<byte> le = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(le, _platform.Profile.PceSvn);
            return Convert.ToHexStringLower(le);
        }
    }

    private string PceId => Convert.ToHexString(_set.PceId);

    private string PckCertQuery => $"pckcert?qeid={QeId}&cpusvn={RawCpuSvn}&pcesvn={RawPceSvn}&pceid={PceId}";

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    /// <summary>Intel PCS as a loopback fake: the simulated platform's PCK certificate set and its collateral.</summary>
    private FakeHttp Pcs()
    {
        var fmspc = Convert.ToHexString(_platform.Profile.Fmspc);
        string Chain(byte[] pem) => IssuerChainHeader.Encode(Encoding.ASCII.GetString(pem));
        return new FakeHttp(request => (request.Path, request.Query) switch
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

    private async Task<HttpResponseMessage> Send(HttpMethod method, string relative, string? json = null, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, V4 + relative);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await _http.SendAsync(request);
    }

    /// <summary>Registration and <c>pccs get</c> + <c>pccs fetch</c>: the file an operator carries back to the offline node.</summary>
    private async Task<string> RegisterGetAndFetchAsync()
    {
        // What PCKIDRetrievalTool posts to a PCCS (docs/pccs.md).
        var registration = new JsonObject
        {
            ["enc_ppid"] = Ppid,
            ["pce_id"] = PceId,
            ["cpu_svn"] = RawCpuSvn,
            ["pce_svn"] = RawPceSvn,
            ["qe_id"] = QeId,
            ["platform_manifest"] = "",
        }.ToJsonString();
        using (var registered = await Send(HttpMethod.Post, "platforms", registration, ("user-token", UserToken)))
        {
            Assert.Equal(HttpStatusCode.OK, registered.StatusCode);
        }

        var list = Path.Combine(_dir, "platform_list.json");
        var got = Run("pccs", "get", "--url", _url, "-o", list, "--admin-token-file", Path.Combine(_dir, "admin.token"));
        Assert.True(got.Exit == 0, got.Err);
        Assert.Contains("1 platform(s)", got.Out, StringComparison.Ordinal);
        var queued = Assert.Single(PlatformListFile.Read(File.ReadAllBytes(list)));
        Assert.Equal(QeId, queued.QeId, ignoreCase: true);
        Assert.Equal(RawCpuSvn, queued.CpuSvn, ignoreCase: true);
        Assert.Equal(RawPceSvn, queued.PceSvn, ignoreCase: true);
        Assert.Equal(Ppid, queued.EncPpid, ignoreCase: true);

        var collaterals = Path.Combine(_dir, "platform_collaterals.json");
        var fetched = Run("pccs", "fetch", "-i", list, "-o", collaterals, "--pcs", _pcs.BaseAddress + "sgx/certification/v4/", "--root-ca-crl", "/root.crl", "--trust-anchor", Path.Combine(_dir, "anchor.pem"));
        Assert.True(fetched.Exit == 0, fetched.Err);
        return collaterals;
    }

    private (int Exit, string Out, string Err) Put(string file) =>
        Run("pccs", "put", "--url", _url, "-i", file, "--trust-anchor", Path.Combine(_dir, "anchor.pem"), "--admin-token-file", Path.Combine(_dir, "admin.token"));

    [Fact]
    public async Task A_registered_platform_is_served_offline_after_get_fetch_and_put()
    {
        using (var before = await Send(HttpMethod.Get, PckCertQuery))
        {
            Assert.Equal((HttpStatusCode)461, before.StatusCode);
        }

        var collaterals = await RegisterGetAndFetchAsync();
        var put = Put(collaterals);
        Assert.True(put.Exit == 0, put.Err);

        var expected = _set.Entries.Single(e => e.Tcbm == new PcsTcb(_platform.Profile.TcbComponents, _platform.Profile.PceSvn).Tcbm);
        using var cert = await Send(HttpMethod.Get, PckCertQuery);
        Assert.True(cert.StatusCode == HttpStatusCode.OK, $"{(int)cert.StatusCode}: {await cert.Content.ReadAsStringAsync()}");
        Assert.Equal(expected.CertificatePem!.TrimEnd('\n') + "\n", await cert.Content.ReadAsStringAsync());
        Assert.Equal(expected.Tcbm, cert.Headers.GetValues("SGX-TCBm").Single(), ignoreCase: true);
        Assert.Equal(Convert.ToHexString(_platform.Profile.Fmspc), cert.Headers.GetValues("SGX-FMSPC").Single());
        Assert.Equal("PROCESSOR", cert.Headers.GetValues("SGX-PCK-Certificate-CA-Type").Single());
        Assert.Equal(_set.IssuerChainPem, IssuerChainHeader.Decode(cert.Headers.GetValues("SGX-PCK-Certificate-Issuer-Chain").Single()));

        // Another raw TCB of the same platform is selected from the imported set: the lowest level.
        using var low = await Send(HttpMethod.Get, $"pckcert?qeid={QeId}&cpusvn={new string('0', 32)}&pcesvn=0000&pceid={PceId}");
        Assert.Equal(HttpStatusCode.OK, low.StatusCode);
        Assert.Equal(new PcsTcb(new byte[16], 0).Tcbm, low.Headers.GetValues("SGX-TCBm").Single(), ignoreCase: true);

        using var tcb = await Send(HttpMethod.Get, "tcb?fmspc=" + Convert.ToHexString(_platform.Profile.Fmspc));
        Assert.Equal(HttpStatusCode.OK, tcb.StatusCode);
        Assert.Equal(_collateral.TcbInfo, await tcb.Content.ReadAsByteArrayAsync());
        using var qe = await Send(HttpMethod.Get, "qe/identity");
        Assert.Equal(HttpStatusCode.OK, qe.StatusCode);
        Assert.Equal(_collateral.QeIdentity, await qe.Content.ReadAsByteArrayAsync());
        using var crl = await Send(HttpMethod.Get, "pckcrl?ca=processor&encoding=der");
        Assert.Equal(HttpStatusCode.OK, crl.StatusCode);
        Assert.Equal(_collateral.PckCrl, await crl.Content.ReadAsByteArrayAsync());
        using var platformCrl = await Send(HttpMethod.Get, "pckcrl?ca=platform&encoding=der");
        Assert.Equal(HttpStatusCode.OK, platformCrl.StatusCode);
        Assert.Equal(_platformCaSet.PckCrl, await platformCrl.Content.ReadAsByteArrayAsync());

        // The queue was taken by get; the offline node never called its upstream.
        using var queue = await Send(HttpMethod.Get, "platforms", null, ("admin-token", AdminToken));
        Assert.Equal("[]", await queue.Content.ReadAsStringAsync());
        Assert.Empty(_upstream.Requests);
    }

    [Fact]
    public async Task A_file_whose_TCB_Info_was_altered_after_fetch_is_refused_by_put_and_changes_nothing()
    {
        var collaterals = await RegisterGetAndFetchAsync();
        var text = File.ReadAllText(collaterals);

        // The TCB Info is a JSON object inside tcbinfos[] (the QE identity is a JSON string, its quotes escaped).
        var altered = new Regex("(\"tcbEvaluationDataNumber\"\\s*:\\s*)(\\d+)", RegexOptions.None, TimeSpan.FromSeconds(1))
            .Replace(text, m => m.Groups[1].Value + (int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) + 1), 1);
        Assert.NotEqual(text, altered);
        var tampered = Path.Combine(_dir, "tampered.json");
        File.WriteAllText(tampered, altered);

        var refused = Put(tampered);
        Assert.Equal(1, refused.Exit);
        Assert.Single(refused.Err.TrimEnd().Split('\n'));
        Assert.Contains("collaterals.tcbinfos[0].sgx_tcbinfo", refused.Err, StringComparison.Ordinal);

        // Sent past the CLI's own check, the node refuses it too (460, naming the item).
        using (var direct = await Send(HttpMethod.Put, "platformcollateral", altered, ("admin-token", AdminToken)))
        {
            var body = await direct.Content.ReadAsStringAsync();
            Assert.True(direct.StatusCode == (HttpStatusCode)460, $"{(int)direct.StatusCode}: {body}");
            Assert.Contains("collaterals.tcbinfos[0].sgx_tcbinfo", body, StringComparison.Ordinal);
        }

        using var cert = await Send(HttpMethod.Get, PckCertQuery);
        Assert.Equal((HttpStatusCode)461, cert.StatusCode);
        using var tcb = await Send(HttpMethod.Get, "tcb?fmspc=" + Convert.ToHexString(_platform.Profile.Fmspc));
        Assert.Equal(HttpStatusCode.NotFound, tcb.StatusCode);
        using var qe = await Send(HttpMethod.Get, "qe/identity");
        Assert.Equal(HttpStatusCode.NotFound, qe.StatusCode);
        Assert.Empty(_upstream.Requests);
    }
}
