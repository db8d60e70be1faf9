using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>What the collateral authority should state about the simulated platform.</summary>
public sealed record CollateralOptions
{
    /// <summary>
    /// The status of the TCB level the platform's PCK certificate matches; any of the seven TCB Info statuses
    /// (UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate,
    /// OutOfDateConfigurationNeeded, Revoked).
    /// </summary>
    public TcbStatus TcbStatus { get; init; } = TcbStatus.UpToDate;

    /// <summary>The status of the quoting enclave's ISVSVN level in QE Identity: UpToDate, OutOfDate or Revoked.</summary>
    public TcbStatus QeTcbStatus { get; init; } = TcbStatus.UpToDate;

    /// <summary>List the platform's PCK certificate in the PCK CRL (verification then fails with STATUS_SGX_PCK_REVOKED).</summary>
    public bool RevokePck { get; init; }

    /// <summary>Issue time (TCB Info / QE Identity issueDate, CRL thisUpdate).</summary>
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>How long the collateral stays current (nextUpdate - issueDate); Intel uses 30 days.</summary>
    public TimeSpan Validity { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>The simulated collateral in Intel PCS wire form, plus the trust anchor it verifies under.</summary>
public sealed record SimulatedCollateral(
    byte[] TcbInfo,
    byte[] QeIdentity,
    byte[] TcbInfoIssuerChain,
    byte[] QeIdentityIssuerChain,
    byte[] PckCrlIssuerChain,
    byte[] RootCaCrl,
    byte[] PckCrl,
    string TrustAnchorPem)
{
    /// <summary>The file the trust anchor is written to beside the collateral.</summary>
    public const string TrustAnchorFile = "trust_anchor.pem";

    /// <summary>The collateral as QuoteVerifier-ready bytes.</summary>
    public QuoteCollateral ToQuoteCollateral() =>
        new(PckCrlIssuerChain, RootCaCrl, PckCrl, TcbInfoIssuerChain, TcbInfo, QeIdentityIssuerChain, QeIdentity);

    /// <summary>Writes the collateral folder layout <c>veritee verify --collateral</c> reads, and <see cref="TrustAnchorFile"/>.</summary>
    public void WriteTo(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "tcb_info.json"), TcbInfo);
        File.WriteAllBytes(Path.Combine(folder, "qe_identity.json"), QeIdentity);
        File.WriteAllBytes(Path.Combine(folder, "tcb_info_issuer_chain.pem"), TcbInfoIssuerChain);
        File.WriteAllBytes(Path.Combine(folder, "qe_identity_issuer_chain.pem"), QeIdentityIssuerChain);
        File.WriteAllBytes(Path.Combine(folder, "pck_crl_issuer_chain.pem"), PckCrlIssuerChain);
        File.WriteAllBytes(Path.Combine(folder, "root_ca_crl.der"), RootCaCrl);
        File.WriteAllBytes(Path.Combine(folder, "pck_crl.der"), PckCrl);
        File.WriteAllText(Path.Combine(folder, TrustAnchorFile), TrustAnchorPem);
    }
}

/// <summary>
/// The simulated platform's collateral authority (the role of Intel PCS): TCB Info v3 (id SGX) and QE Identity v2
/// (id QE) signed over their exact JSON bytes with the TCB Signing key (raw r‖s, hex), and the root and PCK CRLs.
/// TCB levels are laid out so that the platform matches a level with the requested status.
/// </summary>
public static class CollateralAuthority
{
    /// <summary>The advisory id carried by every level below UpToDate.</summary>
    public const string SimulatedAdvisory = "VERITEE-SIM-SA-00001";

    private const int EvaluationDataNumber = 17;

    /// <summary>The seven statuses a TCB Info level may carry.</summary>
    public static readonly IReadOnlyList<TcbStatus> TcbInfoStatuses =
    [
        TcbStatus.UpToDate, TcbStatus.SWHardeningNeeded, TcbStatus.ConfigurationNeeded, TcbStatus.ConfigurationAndSWHardeningNeeded,
        TcbStatus.OutOfDate, TcbStatus.OutOfDateConfigurationNeeded, TcbStatus.Revoked,
    ];

    /// <summary>Issues collateral for <paramref name="platform"/>.</summary>
    public static SimulatedCollateral Issue(SimulatedPlatform platform, CollateralOptions options)
    {
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentNullException.ThrowIfNull(options);
        if (!TcbInfoStatuses.Contains(options.TcbStatus))
        {
            throw new ArgumentException($"TCB status {options.TcbStatus} cannot appear in TCB Info (one of {string.Join(", ", TcbInfoStatuses)})", nameof(options));
        }

        if (options.QeTcbStatus is not (TcbStatus.UpToDate or TcbStatus.OutOfDate or TcbStatus.Revoked))
        {
            throw new ArgumentException($"QE TCB status {options.QeTcbStatus} cannot appear in QE Identity (UpToDate, OutOfDate or Revoked)", nameof(options));
        }

        if (options.Validity <= TimeSpan.Zero)
        {
            throw new ArgumentException("collateral validity must be positive", nameof(options));
        }

        if (options.IssuedAt > DateTimeOffset.MaxValue - options.Validity - TimeSpan.FromDays(1))
        {
            throw new ArgumentException($"issue time {options.IssuedAt:O} plus the validity lies beyond the end of the calendar", nameof(options));
        }

        var issued = TruncateToSeconds(options.IssuedAt.ToUniversalTime());
        var next = issued + options.Validity;
        var signer = platform.TcbSigning.Key;
        var tcbInfo = Signed("tcbInfo", TcbInfoBody(platform.Profile, options.TcbStatus, issued, next), signer);
        var qeIdentity = Signed("enclaveIdentity", QeIdentityBody(platform.Profile, options.QeTcbStatus, issued, next), signer);

        var root = platform.Root;
        var rootPem = root.Certificate.ExportCertificatePem() + "\n";
        var signingChain = Encoding.ASCII.GetBytes(platform.TcbSigning.Certificate.ExportCertificatePem() + "\n" + rootPem);
        var crlChain = Encoding.ASCII.GetBytes(platform.ProcessorCa.Certificate.ExportCertificatePem() + "\n" + rootPem);
        var crlNumber = issued.ToUnixTimeSeconds();
        var rootCrl = SimulatedPki.Crl(root.Certificate, root.Key, [], crlNumber, issued, next);
        var revoked = options.RevokePck ? new[] { platform.Pck.Certificate.SerialNumberBytes.ToArray() } : [];
        var pckCrl = SimulatedPki.Crl(platform.ProcessorCa.Certificate, platform.ProcessorCa.Key, revoked, crlNumber, issued, next);
        return new SimulatedCollateral(tcbInfo, qeIdentity, signingChain, signingChain.ToArray(), crlChain, rootCrl, pckCrl, rootPem);
    }

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset t) => DateTimeOffset.FromUnixTimeSeconds(t.ToUnixTimeSeconds());

    private static string Date(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static byte[] Signed(string bodyName, byte[] body, ECDsa signer)
    {
        var signature = signer.SignData(body, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        using var stream = new MemoryStream();
        stream.Write(Encoding.ASCII.GetBytes($"{{\"{bodyName}\":"));
        stream.Write(body);
        stream.Write(Encoding.ASCII.GetBytes($",\"signature\":\"{Hex.Lower(signature)}\"}}"));
        return stream.ToArray();
    }

    private static byte[] TcbInfoBody(PlatformProfile profile, TcbStatus status, DateTimeOffset issued, DateTimeOffset next)
    {
        // Best first: a newer level the platform does not reach (when the platform is not UpToDate), the platform's
        // own level with the requested status, and an old all-zero level that is OutOfDate.
        var tcbDate = new DateTimeOffset(issued.Year, issued.Month, issued.Day, 0, 0, 0, TimeSpan.Zero);
        var levels = new List<(byte[] Comps, ushort PceSvn, TcbStatus Status, DateTimeOffset Date)>();
        if (status != TcbStatus.UpToDate)
        {
            levels.Add((profile.TcbComponents, (ushort)(profile.PceSvn + 1), TcbStatus.UpToDate, tcbDate));
        }

        levels.Add((profile.TcbComponents, profile.PceSvn, status, status == TcbStatus.UpToDate ? tcbDate : tcbDate.AddDays(-180)));
        if (profile.TcbComponents.Any(c => c != 0) || profile.PceSvn != 0)
        {
            levels.Add((new byte[16], 0, TcbStatus.OutOfDate, tcbDate.AddDays(-720)));
        }

        return Json(w =>
        {
            w.WriteString("id", "SGX");
            w.WriteNumber("version", 3);
            w.WriteString("issueDate", Date(issued));
            w.WriteString("nextUpdate", Date(next));
            w.WriteString("fmspc", Hex.Lower(profile.Fmspc));
            w.WriteString("pceId", Hex.Upper(profile.PceId));
            w.WriteNumber("tcbType", 0);
            w.WriteNumber("tcbEvaluationDataNumber", EvaluationDataNumber);
            w.WriteStartArray("tcbLevels");
            foreach (var level in levels)
            {
                w.WriteStartObject();
                w.WriteStartObject("tcb");
                w.WriteStartArray("sgxtcbcomponents");
                foreach (var svn in level.Comps)
                {
                    w.WriteStartObject();
                    w.WriteNumber("svn", svn);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteNumber("pcesvn", level.PceSvn);
                w.WriteEndObject();
                w.WriteString("tcbDate", Date(level.Date));
                w.WriteString("tcbStatus", level.Status.ToWireString());
                if (level.Status != TcbStatus.UpToDate)
                {
                    w.WriteStartArray("advisoryIDs");
                    w.WriteStringValue(SimulatedAdvisory);
                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
    }

    private static byte[] QeIdentityBody(PlatformProfile profile, TcbStatus qeStatus, DateTimeOffset issued, DateTimeOffset next)
    {
        var tcbDate = new DateTimeOffset(issued.Year, issued.Month, issued.Day, 0, 0, 0, TimeSpan.Zero);
        return Json(w =>
        {
            w.WriteString("id", "QE");
            w.WriteNumber("version", 2);
            w.WriteString("issueDate", Date(issued));
            w.WriteString("nextUpdate", Date(next));
            w.WriteNumber("tcbEvaluationDataNumber", EvaluationDataNumber);
            w.WriteString("miscselect", "00000000");
            w.WriteString("miscselectMask", "FFFFFFFF");
            w.WriteString("attributes", "11000000000000000000000000000000");
            w.WriteString("attributesMask", "FBFFFFFFFFFFFFFF0000000000000000");
            w.WriteString("mrsigner", Hex.Upper(QuotingEnclave.MrSigner));
            w.WriteNumber("isvprodid", QuotingEnclave.ProductId);
            w.WriteStartArray("tcbLevels");
            Level(w, profile.QeSvn, tcbDate, qeStatus);
            Level(w, 0, tcbDate.AddDays(-720), TcbStatus.OutOfDate);
            w.WriteEndArray();
        });

        static void Level(Utf8JsonWriter w, ushort isvSvn, DateTimeOffset date, TcbStatus status)
        {
            w.WriteStartObject();
            w.WriteStartObject("tcb");
            w.WriteNumber("isvsvn", isvSvn);
            w.WriteEndObject();
            w.WriteString("tcbDate", Date(date));
            w.WriteString("tcbStatus", status.ToWireString());
            if (status != TcbStatus.UpToDate)
            {
                w.WriteStartArray("advisoryIDs");
                w.WriteStringValue(SimulatedAdvisory);
                w.WriteEndArray();
            }

            w.WriteEndObject();
        }
    }

    private static byte[] Json(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }
}
