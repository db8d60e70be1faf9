using System.Text;
using System.Text.Json;
using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Dcap.X509;
using Veritee.Policy;
using Veritee.Sgx;
using Veritee.Tokens;

namespace Veritee.Fuzz;

/// <summary>One fuzz target: a name, the code that consumes one input and the exception types it may throw by contract.</summary>
/// <param name="Name">The name used on the command line and as the corpus folder (fuzz/corpus/NAME).</param>
/// <param name="Description">What the target exercises.</param>
/// <param name="Run">Consumes one input.</param>
/// <param name="Expected">Exception types the target documents for malformed input; anything else is a crash.</param>
internal sealed record FuzzTarget(string Name, string Description, Action<byte[]> Run, Type[] Expected)
{
    /// <summary>True when <paramref name="e"/> is one of the documented format exceptions (subclasses included).</summary>
    public bool IsExpected(Exception e) => Expected.Any(t => t.IsInstanceOfType(e));

    /// <summary>Runs one input; returns null when it was accepted, the expected exception when it was refused, and lets anything else escape.</summary>
    public Exception? Execute(byte[] input)
    {
        try
        {
            Run(input);
            return null;
        }
        catch (Exception e) when (IsExpected(e))
        {
            return e;
        }
    }
}

/// <summary>
/// The fuzz targets shared by the SharpFuzz harness (fuzz/Veritee.Fuzz) and the corpus replay tests
/// (tests/Veritee.Fuzz.Tests). Fixed inputs (the collateral of the end-to-end targets, the claims a fuzzed policy is
/// evaluated against) come from tests/vectors under <c>repositoryRoot</c>.
/// </summary>
internal sealed class FuzzTargets
{
    /// <summary>The vector case whose quote and collateral the end-to-end targets hold fixed (TDX v4, STATUS_OK).</summary>
    public const string VerifyCase = "tdx-v4-uptodate-2025-09";

    private static readonly Type[] Sgx = [typeof(SgxFormatException)];
    private static readonly Type[] Dcap = [typeof(DcapFormatException)];
    private static readonly Type[] Tokens = [typeof(TokenFormatException)];
    private static readonly Type[] None = [];

    private readonly Lazy<(QuoteCollateral Collateral, byte[] Quote, DateTimeOffset Time)> _verifyCase;
    private readonly Lazy<List<PolicyClaim>> _claims;

    public FuzzTargets(string repositoryRoot)
    {
        RepositoryRoot = repositoryRoot;
        var caseDir = Path.Combine(repositoryRoot, "tests", "vectors", "dcap", "cases", VerifyCase);
        _verifyCase = new(() =>
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(caseDir, "case.json")));
            var time = DateTimeOffset.Parse(json.RootElement.GetProperty("verification_time").GetProperty("iso").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            return (QuoteCollateral.Load(caseDir), File.ReadAllBytes(Path.Combine(caseDir, "quote.bin")), time);
        });
        _claims = new(() => PolicyJson.ReadClaims(File.ReadAllText(Path.Combine(repositoryRoot, "tests", "vectors", "maa", "policy-eval", "sgx-debug-quote.claims.json"))));
        All =
        [
            new("quote", "Quote.Parse (v3/v4/v5, SGX/TDX) and every accessor of the parsed quote", Quote, Sgx),
            new("oe-report", "OpenEnclaveReport.Unwrap, then Quote.Parse of what it returns", OeReport, Sgx),
            new("pck-extension", "PckCertificateExtension.Parse of the SGX extension value (DER)", PckExtension, Sgx),
            new("certificate", "DcapCertificate.Parse (DER X.509) and, for an SGX PCK certificate, its extension", Certificate, [typeof(DcapFormatException), typeof(SgxFormatException)]),
            new("crl", "CertificateRevocationList.Parse (DER, PEM or hex)", Crl, Dcap),
            new("tcb-info", "TcbInfo.Parse of the signed wire JSON {\"tcbInfo\":…,\"signature\":…}", TcbInfoTarget, Dcap),
            new("enclave-identity", "EnclaveIdentity.Parse of the signed wire JSON {\"enclaveIdentity\":…,\"signature\":…}", EnclaveIdentityTarget, Dcap),
            new("collateral-json", "QuoteCollateral.FromDcapQvlJson, then TcbInfo/EnclaveIdentity/CRL parsing of its parts", CollateralJson, Dcap),
            new("policy", "PolicyParser.Parse (never throws); what parses is printed, compiled and evaluated against fixed SGX claims within the default evaluation limits", PolicyTarget, [typeof(PolicyLimitExceededException)]),
            new("policy-jws", "PolicyJws.Parse (GA and preview payloads) and signature verification; the policy text is parsed too", PolicyJwsTarget, Tokens),
            new("policy-certificate-jws", "PolicyCertificateJws.Parse and signature verification", PolicyCertificateJwsTarget, Tokens),
            new("verify", $"QuoteVerifier.VerifyCold of the input as a quote with the fixed collateral of {VerifyCase} (never throws)", Verify, None),
            new("verify-collateral", $"QuoteCollateral.FromDcapQvlJson of the input, then QuoteVerifier.VerifyCold of the {VerifyCase} quote with it", VerifyCollateral, Dcap),
        ];
    }

    /// <summary>The repository root the fixed inputs are read from.</summary>
    public string RepositoryRoot { get; }

    /// <summary>Every target, in a stable order.</summary>
    public IReadOnlyList<FuzzTarget> All { get; }

    /// <summary>The target called <paramref name="name"/>, or null.</summary>
    public FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>Finds the repository root (the folder with Directory.Build.props and tests/vectors) above <paramref name="start"/>.</summary>
    public static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")) && Directory.Exists(Path.Combine(dir.FullName, "tests", "vectors")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    private static void Quote(byte[] input)
    {
        var quote = Veritee.Sgx.Quote.Parse(input);
        Touch(quote);
    }

    private static void Touch(Quote quote)
    {
        _ = quote.TeeType;
        _ = quote.ReportData;
        _ = quote.SignedRegion;
        if (quote.BodyType == QuoteBodyType.SgxReport)
        {
            var report = quote.SgxReport;
            _ = report.ReportData;
        }
        else
        {
            var report = quote.TdReport;
            _ = report.ReportData;
        }

        var signature = quote.SignatureData;
        _ = signature.QeReport.ReportData;
        _ = signature.CertificationData.Data.Length;
        _ = signature.OuterCertificationDataType;
    }

    private static void OeReport(byte[] input)
    {
        var inner = OpenEnclaveReport.Unwrap(input);
        Touch(Veritee.Sgx.Quote.Parse(inner));
    }

    private static void PckExtension(byte[] input)
    {
        var extension = PckCertificateExtension.Parse(input);
        _ = extension.Fmspc.Length + extension.CpuSvn.Length + extension.TcbComponentSvns.Length;
    }

    private static void Certificate(byte[] input)
    {
        var certificate = DcapCertificate.Parse(input);
        _ = certificate.IsSelfIssued;
        if (certificate.SgxExtension is { } extension)
        {
            PckExtension(extension.ToArray());
        }
    }

    private static void Crl(byte[] input)
    {
        var crl = CertificateRevocationList.Parse(input);
        _ = crl.IsValidAt(DateTimeOffset.UnixEpoch);
        _ = crl.RevokedSerials.Count;
    }

    private static void TcbInfoTarget(byte[] input) => _ = TcbInfo.Parse(input).IsTdx;

    private static void EnclaveIdentityTarget(byte[] input) => _ = EnclaveIdentity.Parse(input).Signature.Length;

    private static void CollateralJson(byte[] input)
    {
        var collateral = QuoteCollateral.FromDcapQvlJson(input);
        TcbInfo.Parse(collateral.TcbInfo);
        EnclaveIdentity.Parse(collateral.QeIdentity);
        CertificateRevocationList.Parse(collateral.RootCaCrl);
        CertificateRevocationList.Parse(collateral.PckCrl);
        foreach (var der in Pem.DecodeCertificates(collateral.PckCrlIssuerChain))
        {
            DcapCertificate.Parse(der);
        }
    }

    private void PolicyTarget(byte[] input) => EvaluatePolicy(Encoding.UTF8.GetString(input));

    private void EvaluatePolicy(string text)
    {
        var parsed = PolicyParser.Parse(text);
        if (parsed.Document is null)
        {
            return;
        }

        _ = PolicyPrinter.Print(parsed.Document);
        var compiled = CompiledPolicy.Compile(parsed.Document);
        _ = compiled.Evaluate(_claims.Value);
    }

    private void PolicyJwsTarget(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        TokenFormatException? refused = null;
        var accepted = false;
        foreach (var format in new[] { PolicyPayloadFormat.Ga, PolicyPayloadFormat.Preview })
        {
            try
            {
                var jws = PolicyJws.Parse(text, format);
                _ = jws.VerifySignature();
                _ = jws.TokenHash;
                if (jws.PolicyText is { Length: < 4096 } policy)
                {
                    EvaluatePolicy(policy);
                }

                accepted = true;
            }
            catch (TokenFormatException e)
            {
                refused = e;
            }
        }

        if (!accepted && refused is not null)
        {
            throw refused;
        }
    }

    private static void PolicyCertificateJwsTarget(byte[] input)
    {
        var jws = PolicyCertificateJws.Parse(Encoding.UTF8.GetString(input));
        _ = jws.VerifySignature();
        _ = jws.Thumbprint;
    }

    private void Verify(byte[] input)
    {
        var (collateral, _, time) = _verifyCase.Value;
        _ = QuoteVerifier.VerifyCold(input, collateral, TrustAnchor.IntelSgxRootCa, time);
    }

    private void VerifyCollateral(byte[] input)
    {
        var (_, quote, time) = _verifyCase.Value;
        var collateral = QuoteCollateral.FromDcapQvlJson(input);
        _ = QuoteVerifier.VerifyCold(quote, collateral, TrustAnchor.IntelSgxRootCa, time);
    }
}
