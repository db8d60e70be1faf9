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

    /// <summary>The status of the quoting enclave's ISVSVN level in QE Identity (TD_QE Identity for TDX): UpToDate, OutOfDate or Revoked.</summary>
    public TcbStatus QeTcbStatus { get; init; } = TcbStatus.UpToDate;

    /// <summary>
    /// TDX only: the status of the TDX module's SVN in its module identity (<c>tdxModuleIdentities</c>, <c>TDX_01</c>…):
    /// UpToDate, OutOfDate or Revoked. Needs a platform whose module major version (TEE_TCB_SVN[1]) is above 0.
    /// </summary>
    public TcbStatus TdxModuleStatus { get; init; } = TcbStatus.UpToDate;

    /// <summary>
    /// TDX only: the module the TD launched on (TEE_TCB_SVN) is OutOfDate while the one loaded now (TEE_TCB_SVN2) is
    /// current, so TD 1.5 quotes verify as TDRelaunchAdvised (…ConfigurationNeeded with a configuration TCB status) and
    /// TD 1.0 quotes as OutOfDate. Needs a platform whose TEE_TCB_SVN2 is ahead of TEE_TCB_SVN (the default profile's is).
    /// </summary>
    public bool TdRelaunch { get; init; }

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
/// The simulated platform's collateral authority (the role of Intel PCS): TCB Info v3 (id SGX or TDX) and QE Identity v2
/// (id QE or TD_QE) signed over their exact JSON bytes with the TCB Signing key (raw r‖s, hex), and the root and PCK CRLs.
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

    /// <summary>The statuses a module identity or QE identity level may carry.</summary>
    public static readonly IReadOnlyList<TcbStatus> IdentityStatuses = [TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.Revoked];

    /// <summary>Issues SGX collateral (TCB Info id SGX, QE Identity id QE) for <paramref name="platform"/>.</summary>
    public static SimulatedCollateral Issue(SimulatedPlatform platform, CollateralOptions options) => Issue(platform, options, TeeType.Sgx);

    /// <summary>Issues TDX collateral (TCB Info id TDX with the TDX module, TD_QE Identity) for <paramref name="platform"/>.</summary>
    public static SimulatedCollateral IssueTdx(SimulatedPlatform platform, CollateralOptions options) => Issue(platform, options, TeeType.Tdx);

    /// <summary>Issues the collateral for quotes of <paramref name="tee"/> (SGX or TDX) from <paramref name="platform"/>.</summary>
    public static SimulatedCollateral Issue(SimulatedPlatform platform, CollateralOptions options, TeeType tee)
    {
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentNullException.ThrowIfNull(options);
        if (tee is not (TeeType.Sgx or TeeType.Tdx))
        {
            throw new ArgumentException($"TEE type 0x{(uint)tee:X8} is neither SGX nor TDX", nameof(tee));
        }

        if (!TcbInfoStatuses.Contains(options.TcbStatus))
        {
            throw new ArgumentException($"TCB status {options.TcbStatus} cannot appear in TCB Info (one of {string.Join(", ", TcbInfoStatuses)})", nameof(options));
        }

        if (!IdentityStatuses.Contains(options.QeTcbStatus))
        {
            throw new ArgumentException($"QE TCB status {options.QeTcbStatus} cannot appear in QE Identity (UpToDate, OutOfDate or Revoked)", nameof(options));
        }

        if (!IdentityStatuses.Contains(options.TdxModuleStatus))
        {
            throw new ArgumentException($"TDX module status {options.TdxModuleStatus} cannot appear in a module identity (UpToDate, OutOfDate or Revoked)", nameof(options));
        }

        var tdx = tee == TeeType.Tdx;
        if (!tdx && (options.TdxModuleStatus != TcbStatus.UpToDate || options.TdRelaunch))
        {
            throw new ArgumentException("the TDX module status and TD relaunch apply to TDX collateral only", nameof(options));
        }

        if (options.Validity <= TimeSpan.Zero)
        {
            throw new ArgumentException("collateral validity must be positive", nameof(options));
        }

        if (options.IssuedAt > DateTimeOffset.MaxValue - options.Validity - TimeSpan.FromDays(1))
        {
            throw new ArgumentException($"issue time {options.IssuedAt:O} plus the validity lies beyond the end of the calendar", nameof(options));
        }

        var modules = tdx ? ModuleIdentities(platform.Profile, options) : null;
        var issued = TruncateToSeconds(options.IssuedAt.ToUniversalTime());
        var next = issued + options.Validity;
        var signer = platform.TcbSigning.Key;
        var tcbInfo = Signed("tcbInfo", TcbInfoBody(platform.Profile, options.TcbStatus, tdx, modules, issued, next), signer);
        var qeIdentity = Signed("enclaveIdentity", QeIdentityBody(platform.Profile, options.QeTcbStatus, tdx, issued, next), signer);

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

    /// <summary>
    /// The <c>tdxModuleIdentities</c> entries (id → ISVSVN levels, best first) that give the module the requested status;
    /// null for a legacy module (major version 0), which QVL judges by <c>tdxModule</c> alone.
    /// </summary>
    private static List<(string Id, List<(int IsvSvn, TcbStatus Status)> Levels)>? ModuleIdentities(PlatformProfile profile, CollateralOptions options)
    {
        var svn = profile.TeeTcbSvn;
        var svn2 = profile.TeeTcbSvn2;
        if (svn[1] == 0)
        {
            if (options.TdxModuleStatus != TcbStatus.UpToDate || options.TdRelaunch)
            {
                throw new ArgumentException(
                    "the platform's TDX module has major version 0 (TEE_TCB_SVN[1]), which has no module identity: its status and a TD relaunch cannot be set", nameof(options));
            }

            return null;
        }

        if (options.TdRelaunch)
        {
            if (options.TdxModuleStatus == TcbStatus.Revoked)
            {
                throw new ArgumentException("a TD relaunch is advised for an OutOfDate module, not a Revoked one", nameof(options));
            }

            // QVL relaunches when TEE_TCB_SVN2 reaches the newest module level and the newest TCB level's microcode SVN.
            var ahead = svn2[1] != svn[1] ? svn2[1] > svn[1] : svn2[0] > svn[0];
            if (!ahead || svn2[2] < svn[2])
            {
                throw new ArgumentException(
                    $"the platform's TEE_TCB_SVN2 ({Hex.Lower(svn2.AsSpan(0, 3))}…) is not ahead of TEE_TCB_SVN ({Hex.Lower(svn.AsSpan(0, 3))}…): no module update to relaunch onto", nameof(options));
            }
        }

        var identities = new List<(string Id, List<(int IsvSvn, TcbStatus Status)> Levels)>();
        if (options.TdRelaunch && svn2[1] == svn[1])
        {
            identities.Add((ModuleId(svn[1]), [(svn2[0], TcbStatus.UpToDate), (svn[0], TcbStatus.OutOfDate)]));
            return identities;
        }

        // The launch module's identity; a newer level above it unless the module is UpToDate.
        var launchLevels = new List<(int IsvSvn, TcbStatus Status)>();
        var status = options.TdRelaunch ? TcbStatus.OutOfDate : options.TdxModuleStatus;
        if (status != TcbStatus.UpToDate)
        {
            // Above TEE_TCB_SVN2 too when both name the same identity, so no relaunch is advised.
            var top = svn2[1] == svn[1] ? Math.Max(svn[0], svn2[0]) + 1 : svn[0] + 1;
            launchLevels.Add((top, TcbStatus.UpToDate));
        }

        launchLevels.Add((svn[0], status));
        if (svn[0] > 0)
        {
            launchLevels.Add((0, TcbStatus.OutOfDate));
        }

        identities.Add((ModuleId(svn[1]), launchLevels));
        if (svn2[1] != svn[1] && svn2[1] != 0)
        {
            // The loaded module's identity; current when relaunching onto it, else one level behind the newest.
            identities.Add((ModuleId(svn2[1]), options.TdRelaunch
                ? [(svn2[0], TcbStatus.UpToDate)]
                : [(svn2[0] + 1, TcbStatus.UpToDate), (svn2[0], TcbStatus.OutOfDate)]));
        }

        return identities;
    }

    private static string ModuleId(byte majorVersion) => "TDX_" + majorVersion.ToString("X2", CultureInfo.InvariantCulture);

    internal static DateTimeOffset TruncateToSeconds(DateTimeOffset t) => DateTimeOffset.FromUnixTimeSeconds(t.ToUnixTimeSeconds());

    internal static string Date(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    internal static byte[] Signed(string bodyName, byte[] body, ECDsa signer)
    {
        var signature = signer.SignData(body, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        using var stream = new MemoryStream();
        stream.Write(Encoding.ASCII.GetBytes($"{{\"{bodyName}\":"));
        stream.Write(body);
        stream.Write(Encoding.ASCII.GetBytes($",\"signature\":\"{Hex.Lower(signature)}\"}}"));
        return stream.ToArray();
    }

    private static byte[] TcbInfoBody(
        PlatformProfile profile, TcbStatus status, bool tdx, List<(string Id, List<(int IsvSvn, TcbStatus Status)> Levels)>? modules, DateTimeOffset issued, DateTimeOffset next)
    {
        // Best first: a newer level the platform does not reach (when the platform is not UpToDate), the platform's
        // own level with the requested status, and an old all-zero level that is OutOfDate.
        var tcbDate = new DateTimeOffset(issued.Year, issued.Month, issued.Day, 0, 0, 0, TimeSpan.Zero);
        // For TDX every level carries the TD's TEE_TCB_SVN as TDX components, so the SGX and TDX levels coincide.
        var levels = new List<(byte[] Comps, ushort PceSvn, byte[] Tdx, TcbStatus Status, DateTimeOffset Date)>();
        if (status != TcbStatus.UpToDate)
        {
            levels.Add((profile.TcbComponents, (ushort)(profile.PceSvn + 1), profile.TeeTcbSvn, TcbStatus.UpToDate, tcbDate));
        }

        levels.Add((profile.TcbComponents, profile.PceSvn, profile.TeeTcbSvn, status, status == TcbStatus.UpToDate ? tcbDate : tcbDate.AddDays(-180)));
        if (profile.TcbComponents.Any(c => c != 0) || profile.PceSvn != 0)
        {
            levels.Add((new byte[16], 0, new byte[16], TcbStatus.OutOfDate, tcbDate.AddDays(-720)));
        }

        return Json(w =>
        {
            w.WriteString("id", tdx ? "TDX" : "SGX");
            w.WriteNumber("version", 3);
            w.WriteString("issueDate", Date(issued));
            w.WriteString("nextUpdate", Date(next));
            w.WriteString("fmspc", Hex.Lower(profile.Fmspc));
            w.WriteString("pceId", Hex.Upper(profile.PceId));
            w.WriteNumber("tcbType", 0);
            w.WriteNumber("tcbEvaluationDataNumber", EvaluationDataNumber);
            if (tdx)
            {
                w.WriteStartObject("tdxModule");
                ModuleFields(w, profile);
                w.WriteEndObject();
                if (modules is not null)
                {
                    w.WriteStartArray("tdxModuleIdentities");
                    foreach (var (id, moduleLevels) in modules)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", id);
                        ModuleFields(w, profile);
                        w.WriteStartArray("tcbLevels");
                        foreach (var (isvSvn, moduleStatus) in moduleLevels)
                        {
                            IsvLevel(w, isvSvn, moduleStatus == TcbStatus.UpToDate ? tcbDate : tcbDate.AddDays(-180), moduleStatus);
                        }

                        w.WriteEndArray();
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }
            }

            w.WriteStartArray("tcbLevels");
            foreach (var level in levels)
            {
                w.WriteStartObject();
                w.WriteStartObject("tcb");
                Components(w, "sgxtcbcomponents", level.Comps);
                w.WriteNumber("pcesvn", level.PceSvn);
                if (tdx)
                {
                    Components(w, "tdxtcbcomponents", level.Tdx);
                }

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

    internal static void Components(Utf8JsonWriter w, string name, byte[] svns)
    {
        w.WriteStartArray(name);
        foreach (var svn in svns)
        {
            w.WriteStartObject();
            w.WriteNumber("svn", svn);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void ModuleFields(Utf8JsonWriter w, PlatformProfile profile)
    {
        w.WriteString("mrsigner", Hex.Upper(profile.MrSignerSeam));
        w.WriteString("attributes", Hex.Upper(profile.SeamAttributes));
        w.WriteString("attributesMask", "FFFFFFFFFFFFFFFF");
    }

    private static void IsvLevel(Utf8JsonWriter w, int isvSvn, DateTimeOffset date, TcbStatus status)
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

    private static byte[] QeIdentityBody(PlatformProfile profile, TcbStatus qeStatus, bool tdx, DateTimeOffset issued, DateTimeOffset next)
    {
        var tcbDate = new DateTimeOffset(issued.Year, issued.Month, issued.Day, 0, 0, 0, TimeSpan.Zero);
        return Json(w =>
        {
            w.WriteString("id", tdx ? "TD_QE" : "QE");
            w.WriteNumber("version", 2);
            w.WriteString("issueDate", Date(issued));
            w.WriteString("nextUpdate", Date(next));
            w.WriteNumber("tcbEvaluationDataNumber", EvaluationDataNumber);
            w.WriteString("miscselect", "00000000");
            w.WriteString("miscselectMask", "FFFFFFFF");
            w.WriteString("attributes", "11000000000000000000000000000000");
            w.WriteString("attributesMask", "FBFFFFFFFFFFFFFF0000000000000000");
            w.WriteString("mrsigner", Hex.Upper(tdx ? QuotingEnclave.TdMrSigner : QuotingEnclave.MrSigner));
            w.WriteNumber("isvprodid", tdx ? QuotingEnclave.TdProductId : QuotingEnclave.ProductId);
            w.WriteStartArray("tcbLevels");
            IsvLevel(w, tdx ? profile.TdQeSvn : profile.QeSvn, tcbDate, qeStatus);
            IsvLevel(w, 0, tcbDate.AddDays(-720), TcbStatus.OutOfDate);
            w.WriteEndArray();
        });
    }

    internal static byte[] Json(Action<Utf8JsonWriter> body)
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
