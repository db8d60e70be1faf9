using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Veritee.Dcap.Pccs;
using Veritee.Dcap.X509;
using Veritee.Sgx;

namespace Veritee.Dcap.Tests.Pccs;

/// <summary>
/// Intel-signed collateral from a vector case, arranged as the §6.2 <c>platform_collaterals.json</c> that Intel's
/// <c>pcsclient fetch</c> writes (Python <c>json.dump</c> with indentation, so the TCB Info objects are NOT in their signed
/// byte form in the file), with the real PCK certificate cut from the case's quote.
/// </summary>
internal static class IntelVectorFiles
{
    public const string CaseId = "sgx-v3-processorca-confsw-2025-07";

    public static string Case => TestSupport.Vectors.DcapCase(CaseId);

    public static byte[] Read(string name) => File.ReadAllBytes(Path.Combine(Case, name));

    /// <summary>The quote's PCK chain: leaf, Processor CA, root (PEM each, canonical).</summary>
    public static IReadOnlyList<string> QuotePckChain()
    {
        var quote = Quote.Parse(Read("quote.bin"));
        return [.. Pem.DecodeCertificates(quote.SignatureData.CertificationData.Data.Span).Select(der => new string(System.Security.Cryptography.PemEncoding.Write("CERTIFICATE", der)) + "\n")];
    }

    public static PckCertificateEntry PckEntry()
    {
        var leaf = QuotePckChain()[0];
        var cert = DcapCertificate.Parse(Pem.DecodeCertificates(Encoding.ASCII.GetBytes(leaf))[0]);
        var ext = PckCertificateExtension.Parse(cert.SgxExtension!.Value);
        var tcb = new PcsTcb(ext.TcbComponentSvns, ext.PceSvn);
        return new PckCertificateEntry(tcb, tcb.Tcbm, leaf);
    }

    public static string Encoded(string file) => Uri.EscapeDataString(Encoding.ASCII.GetString(Read(file)));

    /// <summary>A pcsclient-style v4 file (indented, TCB Info as objects, identities as strings, hex CRLs).</summary>
    public static byte[] PcsClientFile(Action<JsonObject>? tweak = null)
    {
        var chain = QuotePckChain();
        var entry = PckEntry();
        var platform = new JsonObject
        {
            ["enc_ppid"] = new string('a', 768),
            ["pce_id"] = "0000",
            ["cpu_svn"] = entry.Tcbm[..32].ToLowerInvariant(),
            ["pce_svn"] = entry.Tcbm[32..].ToLowerInvariant(),
            ["qe_id"] = "00112233445566778899aabbccddeeff",
            ["platform_manifest"] = "",
        };
        var root = new JsonObject
        {
            ["platforms"] = new JsonArray(platform),
            ["collaterals"] = new JsonObject
            {
                ["version"] = 4,
                ["pck_certs"] = new JsonArray(new JsonObject
                {
                    ["qe_id"] = "00112233445566778899aabbccddeeff",
                    ["pce_id"] = "0000",
                    ["enc_ppid"] = new string('a', 768),
                    ["platform_manifest"] = "",
                    ["certs"] = new JsonArray(new JsonObject
                    {
                        ["tcb"] = JsonNode.Parse(Encoding.UTF8.GetString(PcsPckCertificates.Write([entry])))![0]!["tcb"]!.DeepClone(),
                        ["tcbm"] = entry.Tcbm,
                        ["cert"] = Uri.EscapeDataString(chain[0]),
                    }),
                }),
                ["tcbinfos"] = new JsonArray(new JsonObject { ["fmspc"] = "00A067110000", ["sgx_tcbinfo"] = JsonNode.Parse(Read("tcb_info.json")) }),
                ["pckcacrl"] = new JsonObject { ["processorCrl"] = Convert.ToHexStringLower(Read("pck_crl.der")) },
                ["qeidentity"] = Encoding.UTF8.GetString(Read("qe_identity.json")),
                ["certificates"] = new JsonObject
                {
                    ["SGX-PCK-Certificate-Issuer-Chain"] = new JsonObject { ["PROCESSOR"] = Encoded("pck_crl_issuer_chain.pem") },
                    ["TCB-Info-Issuer-Chain"] = Encoded("tcb_info_issuer_chain.pem"),
                    ["SGX-Enclave-Identity-Issuer-Chain"] = Encoded("qe_identity_issuer_chain.pem"),
                },
                ["rootcacrl"] = Convert.ToHexStringLower(Read("root_ca_crl.der")),
                ["rootcacrl_cdp"] = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der",
            },
        };
        tweak?.Invoke(root);
        return Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
