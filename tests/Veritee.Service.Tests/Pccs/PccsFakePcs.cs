using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Veritee.TestSupport;

namespace Veritee.Service.Tests.Pccs;

/// <summary>
/// A loopback Intel PCS for the PCCS tests, serving Intel-signed vectors: case sgx-v3-processorca-confsw-2025-07 (SGX
/// TCB Info and QE identity of FMSPC 00A067110000, Processor CA CRL, root CA CRL, and its quote's PCK certificate as
/// a one-entry <c>pckcerts</c> set), the Platform CA CRL of sgx-v3-platformca-swhardening-2025-08, the TDX TCB Info
/// and TD_QE identity of tdx-v4-uptodate-2025-07, and a captured QvE identity (tests/vectors/dcap/pccs).
/// </summary>
public sealed class PccsFakePcs : IAsyncDisposable
{
    public const string Fmspc = "00A067110000";
    public const string TdxFmspc = "B0C06F000000";
    public const string Tcbm = "0B0B0202FF01000000000000000000000D00";
    public static readonly string SgxCase = Vectors.DcapCase("sgx-v3-processorca-confsw-2025-07");
    public static readonly string PlatformCase = Vectors.DcapCase("sgx-v3-platformca-swhardening-2025-08");
    public static readonly string TdxCase = Vectors.DcapCase("tdx-v4-uptodate-2025-07");
    public static readonly string PccsData = Path.Combine(Vectors.Directory, "dcap", "pccs");

    private readonly WebApplication _app;

    private PccsFakePcs(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    /// <summary>Every request as "METHOD path?query".</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>The subscription key header of each pckcerts request ("(none)" when absent), and of every other request.</summary>
    public ConcurrentQueue<string> KeysOnPckCerts { get; } = new();

    public ConcurrentQueue<string> KeysElsewhere { get; } = new();

    /// <summary>Status every request gets instead of its answer (0: normal).</summary>
    public int FailWith { get; set; }

    /// <summary>Flip one byte of the TCB Info body (its signature then fails).</summary>
    public bool TamperTcbInfo { get; set; }

    /// <summary>Add a "Not available" level to pckcerts.</summary>
    public bool WithNotAvailableLevel { get; set; }

    public int Count(string pathPart) => Requests.Count(r => r.Contains(pathPart, StringComparison.Ordinal));

    /// <summary>The PEM certificates embedded in the case's quote: PCK leaf, Processor CA, root.</summary>
    public static IReadOnlyList<string> QuotePems()
    {
        var text = Encoding.Latin1.GetString(File.ReadAllBytes(Path.Combine(SgxCase, "quote.bin")));
        var pems = new List<string>();
        var at = 0;
        while ((at = text.IndexOf("-----BEGIN CERTIFICATE-----", at, StringComparison.Ordinal)) >= 0)
        {
            var end = text.IndexOf("-----END CERTIFICATE-----", at, StringComparison.Ordinal) + "-----END CERTIFICATE-----".Length;
            pems.Add(text[at..end] + "\n");
            at = end;
        }

        return pems;
    }

    public static string PckLeafPem => QuotePems()[0];

    public static string PckChainPem => string.Concat(QuotePems().Skip(1));

    public static async Task<PccsFakePcs> StartAsync()
    {
        var url = Loopback.HttpUrl();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        var app = builder.Build();
        PccsFakePcs? self = null;
        static string Encode(string pem) => Uri.EscapeDataString(pem);
        static string Chain(string folder, string file) => Encode(System.IO.File.ReadAllText(Path.Combine(folder, file)));

        async Task Serve(HttpContext c, Func<Task> answer)
        {
            self!.Requests.Enqueue($"{c.Request.Method} {c.Request.Path}{c.Request.QueryString}");
            var key = c.Request.Headers["Ocp-Apim-Subscription-Key"];
            (c.Request.Path.Value!.EndsWith("/pckcerts", StringComparison.Ordinal) ? self.KeysOnPckCerts : self.KeysElsewhere).Enqueue(key.Count == 0 ? "(none)" : key.ToString());
            if (self.FailWith != 0)
            {
                c.Response.StatusCode = self.FailWith;
                c.Response.Headers["Error-Code"] = "InvalidSubscriptionKey";
                c.Response.Headers["Error-Message"] = "Test refusal";
                return;
            }

            await answer();
        }

        async Task File(HttpContext c, string folder, string file, string? header, string? chain, string type, bool tamper = false)
        {
            if (header is not null)
            {
                c.Response.Headers[header] = chain;
            }

            var body = await System.IO.File.ReadAllBytesAsync(Path.Combine(folder, file));
            if (tamper)
            {
                var at = Array.IndexOf(body, (byte)'1');
                body[at] = (byte)'2';
            }

            c.Response.ContentType = type;
            await c.Response.Body.WriteAsync(body);
        }

        Task NotFound(HttpContext c)
        {
            c.Response.StatusCode = 404;
            c.Response.Headers["Error-Code"] = "NotFound";
            return Task.CompletedTask;
        }

        app.MapGet("/sgx/certification/v4/tcb", c => Serve(c, () => c.Request.Query["fmspc"].ToString().Equals(Fmspc, StringComparison.OrdinalIgnoreCase)
            ? File(c, SgxCase, "tcb_info.json", "TCB-Info-Issuer-Chain", Chain(SgxCase, "tcb_info_issuer_chain.pem"), "application/json", self!.TamperTcbInfo)
            : NotFound(c)));
        app.MapGet("/tdx/certification/v4/tcb", c => Serve(c, () => c.Request.Query["fmspc"].ToString().Equals(TdxFmspc, StringComparison.OrdinalIgnoreCase)
            ? File(c, TdxCase, "tcb_info.json", "TCB-Info-Issuer-Chain", Chain(TdxCase, "tcb_info_issuer_chain.pem"), "application/json")
            : NotFound(c)));
        app.MapGet("/sgx/certification/v4/qe/identity", c => Serve(c, () => File(c, SgxCase, "qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", Chain(SgxCase, "qe_identity_issuer_chain.pem"), "application/json")));
        app.MapGet("/sgx/certification/v4/qve/identity", c => Serve(c, () => File(c, PccsData, "qve_identity.json", "SGX-Enclave-Identity-Issuer-Chain", Chain(PccsData, "qve_identity_issuer_chain.pem"), "application/json")));
        app.MapGet("/tdx/certification/v4/qe/identity", c => Serve(c, () => File(c, TdxCase, "qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", Chain(TdxCase, "qe_identity_issuer_chain.pem"), "application/json")));
        app.MapGet("/sgx/certification/v4/pckcrl", c => Serve(c, () => c.Request.Query["ca"].ToString() switch
        {
            "processor" => File(c, SgxCase, "pck_crl.der", "SGX-PCK-CRL-Issuer-Chain", Chain(SgxCase, "pck_crl_issuer_chain.pem"), "application/pkix-crl"),
            "platform" => File(c, PlatformCase, "pck_crl.der", "SGX-PCK-CRL-Issuer-Chain", Chain(PlatformCase, "pck_crl_issuer_chain.pem"), "application/pkix-crl"),
            _ => NotFound(c),
        }));
        app.MapGet("/rootcrl.der", c => Serve(c, () => File(c, SgxCase, "root_ca_crl.der", null, null, "application/pkix-crl")));
        async Task PckCerts(HttpContext c)
        {
            var ppid = c.Request.Query["encrypted_ppid"].ToString();
            if (ppid.StartsWith("DEAD", StringComparison.OrdinalIgnoreCase))
            {
                await NotFound(c);
                return;
            }

            var entries = new List<string>
            {
                $$"""{"tcb":{"sgxtcbcomp01svn":11,"sgxtcbcomp02svn":11,"sgxtcbcomp03svn":2,"sgxtcbcomp04svn":2,"sgxtcbcomp05svn":255,"sgxtcbcomp06svn":1,"sgxtcbcomp07svn":0,"sgxtcbcomp08svn":0,"sgxtcbcomp09svn":0,"sgxtcbcomp10svn":0,"sgxtcbcomp11svn":0,"sgxtcbcomp12svn":0,"sgxtcbcomp13svn":0,"sgxtcbcomp14svn":0,"sgxtcbcomp15svn":0,"sgxtcbcomp16svn":0,"pcesvn":13},"tcbm":"{{Tcbm.ToLowerInvariant()}}","cert":"{{Encode(PckLeafPem)}}"}""",
            };
            if (self!.WithNotAvailableLevel)
            {
                entries.Add("""{"tcb":{"sgxtcbcomp01svn":12,"sgxtcbcomp02svn":12,"sgxtcbcomp03svn":3,"sgxtcbcomp04svn":3,"sgxtcbcomp05svn":255,"sgxtcbcomp06svn":1,"sgxtcbcomp07svn":0,"sgxtcbcomp08svn":0,"sgxtcbcomp09svn":0,"sgxtcbcomp10svn":0,"sgxtcbcomp11svn":0,"sgxtcbcomp12svn":0,"sgxtcbcomp13svn":0,"sgxtcbcomp14svn":0,"sgxtcbcomp15svn":0,"sgxtcbcomp16svn":0,"pcesvn":14},"tcbm":"0C0C0303FF01000000000000000000000E00","cert":"Not available"}""");
            }

            c.Response.Headers["SGX-PCK-Certificate-Issuer-Chain"] = Encode(PckChainPem);
            c.Response.Headers["SGX-FMSPC"] = Fmspc.ToLowerInvariant();
            c.Response.Headers["SGX-PCK-Certificate-CA-Type"] = "processor";
            c.Response.ContentType = "application/json";
            await c.Response.WriteAsync("[" + string.Join(",", entries) + "]");
        }

        app.MapGet("/sgx/certification/v4/pckcerts", c => Serve(c, () => PckCerts(c)));
        app.MapPost("/sgx/certification/v4/pckcerts", c => Serve(c, () => PckCerts(c)));
        await app.StartAsync();
        self = new PccsFakePcs(app, url);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
