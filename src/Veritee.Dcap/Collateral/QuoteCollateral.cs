using System.Text;
using System.Text.Json;

namespace Veritee.Dcap.Collateral;

/// <summary>
/// The collateral for one quote, as raw bytes in Intel PCS wire form (the shape of DCAP's
/// <c>sgx_ql_qve_collateral_t</c>). Parsing and signature checks happen in the verifier, so the same bytes
/// always give the same verdict.
/// </summary>
public sealed record QuoteCollateral(
    byte[] PckCrlIssuerChain,
    byte[] RootCaCrl,
    byte[] PckCrl,
    byte[] TcbInfoIssuerChain,
    byte[] TcbInfo,
    byte[] QeIdentityIssuerChain,
    byte[] QeIdentity)
{
    /// <summary>File names of a collateral folder (the layout of the vector cases).</summary>
    public static readonly IReadOnlyList<string> FolderFiles =
    [
        "tcb_info.json", "qe_identity.json", "tcb_info_issuer_chain.pem", "qe_identity_issuer_chain.pem",
        "pck_crl_issuer_chain.pem", "root_ca_crl.der", "pck_crl.der",
    ];

    /// <summary>
    /// Loads a collateral folder (<see cref="FolderFiles"/>; CRLs may be DER, PEM or hex, also as <c>.pem</c>/<c>.hex</c>)
    /// or a dcap-qvl <c>QuoteCollateralV3</c> JSON file.
    /// </summary>
    public static QuoteCollateral Load(string path)
    {
        if (File.Exists(path))
        {
            return FromDcapQvlJson(File.ReadAllBytes(path), path);
        }

        if (!Directory.Exists(path))
        {
            throw new FileNotFoundException($"collateral not found: {path} is neither a folder nor a file");
        }

        byte[] Read(params string[] names)
        {
            foreach (var name in names)
            {
                var file = Path.Combine(path, name);
                if (File.Exists(file))
                {
                    return File.ReadAllBytes(file);
                }
            }

            throw new FileNotFoundException($"collateral folder {path} lacks {names[0]}");
        }

        return new QuoteCollateral(
            Read("pck_crl_issuer_chain.pem"),
            Read("root_ca_crl.der", "root_ca_crl.pem", "root_ca_crl.hex"),
            Read("pck_crl.der", "pck_crl.pem", "pck_crl.hex"),
            Read("tcb_info_issuer_chain.pem"),
            Read("tcb_info.json"),
            Read("qe_identity_issuer_chain.pem"),
            Read("qe_identity.json"));
    }

    /// <summary>Reads dcap-qvl's <c>QuoteCollateralV3</c> JSON (inner bodies as strings, signatures and CRLs as hex).</summary>
    public static QuoteCollateral FromDcapQvlJson(ReadOnlySpan<byte> json, string source = "collateral JSON")
    {
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            throw new DcapFormatException($"{source}: not valid UTF-8 text");
        }

        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var root = doc.RootElement;
            string Text(string name) => JsonFields.String(root, name, source);
            byte[] HexField(string name) => Veritee.Sgx.Hex.TryDecode(Text(name), out var b) ? b : throw new DcapFormatException($"{source}: \"{name}\" is not hex");
            byte[] Wire(string bodyName, string body, string signature) =>
                Encoding.UTF8.GetBytes($"{{\"{bodyName}\":{body},\"signature\":\"{signature}\"}}");

            return new QuoteCollateral(
                Encoding.UTF8.GetBytes(Text("pck_crl_issuer_chain")),
                HexField("root_ca_crl"),
                HexField("pck_crl"),
                Encoding.UTF8.GetBytes(Text("tcb_info_issuer_chain")),
                Wire("tcbInfo", Text("tcb_info"), Text("tcb_info_signature")),
                Encoding.UTF8.GetBytes(Text("qe_identity_issuer_chain")),
                Wire("enclaveIdentity", Text("qe_identity"), Text("qe_identity_signature")));
        }
        catch (JsonException e)
        {
            throw new DcapFormatException($"{source}: malformed JSON: {e.Message}", e);
        }
    }
}
