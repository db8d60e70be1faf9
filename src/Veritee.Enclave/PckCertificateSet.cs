using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Veritee.Dcap;
using Veritee.Dcap.Pccs;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>Which Intel PCK CA issues a platform's PCK certificates.</summary>
public enum PckCaType
{
    /// <summary>The PCK Processor CA (single-package platforms; 5-entry SGX extension).</summary>
    Processor,

    /// <summary>The PCK Platform CA (multi-package and TDX-capable platforms; 7-entry SGX extension, SGX type Scalable).</summary>
    Platform,
}

/// <summary>What <see cref="PckCertificateSet.Issue"/> should produce.</summary>
public sealed record PckCertificateSetOptions
{
    /// <summary>Issue time (certificates' notBefore, TCB Info issueDate, CRL thisUpdate).</summary>
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>The TCB levels to issue one PCK certificate each for, in the order PCS lists them (best first).</summary>
    public required IReadOnlyList<PcsTcb> Levels { get; init; }

    /// <summary>Indices into <see cref="Levels"/> that PCS lists as <c>"Not available"</c> (no certificate issued).</summary>
    public IReadOnlySet<int> NotAvailable { get; init; } = new HashSet<int>();

    /// <summary>The TCB Info's levels (best first; the first is UpToDate, the rest OutOfDate); default <see cref="Levels"/>.</summary>
    public IReadOnlyList<PcsTcb>? TcbInfoLevels { get; init; }

    /// <summary>TCB Info version: 3 (<c>sgxtcbcomponents</c> arrays, default) or 2 (<c>sgxtcbcompNNsvn</c> fields, no id).</summary>
    public int TcbInfoVersion { get; init; } = 3;

    /// <summary>The issuing CA (default Processor).</summary>
    public PckCaType CaType { get; init; } = PckCaType.Processor;

    /// <summary>PPID (16 bytes); default the platform profile's.</summary>
    public byte[]? Ppid { get; init; }

    /// <summary>FMSPC (6 bytes) of the certificates and the TCB Info; default the platform profile's.</summary>
    public byte[]? Fmspc { get; init; }

    /// <summary>PCE-ID (2 bytes) of the certificates and the TCB Info; default the platform profile's.</summary>
    public byte[]? PceId { get; init; }

    /// <summary>How long the TCB Info and CRL stay current (default 30 days, as Intel's).</summary>
    public TimeSpan Validity { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>
/// One platform's PCK certificate set as Intel PCS serves it (<c>GET /sgx/certification/v4/pckcerts</c>): real X.509
/// PCK certificates (one PPID, one FMSPC, one per TCB level, issued by the simulated Processor CA or a Platform CA under
/// the simulated root), the <c>pckcerts</c> JSON body and its headers, a matching signed SGX TCB Info (v2 or v3) and
/// the issuing CA's CRL. For PCCS tests: PCK certificate selection, a fake PCS, offline import files.
/// </summary>
public sealed class PckCertificateSet
{
    private PckCertificateSet()
    {
    }

    /// <summary>The issuing CA.</summary>
    public required PckCaType CaType { get; init; }

    /// <summary>PCS's <c>SGX-PCK-Certificate-CA-Type</c> value: <c>processor</c> or <c>platform</c>.</summary>
    public string CaTypeHeader => CaType == PckCaType.Platform ? "platform" : "processor";

    /// <summary>The PPID every certificate carries (16 bytes).</summary>
    public required byte[] Ppid { get; init; }

    /// <summary>FMSPC (6 bytes).</summary>
    public required byte[] Fmspc { get; init; }

    /// <summary>PCE-ID (2 bytes).</summary>
    public required byte[] PceId { get; init; }

    /// <summary>The entries in PCS order; <see cref="PckCertificateEntry.CertificatePem"/> is null for "Not available".</summary>
    public required IReadOnlyList<PckCertificateEntry> Entries { get; init; }

    /// <summary>The issuing CA's certificate, PEM.</summary>
    public required string CaCertificatePem { get; init; }

    /// <summary>The PCK issuer chain, PEM: the issuing CA, then the root (the order PCS sends).</summary>
    public required string IssuerChainPem { get; init; }

    /// <summary>The PCS <c>pckcerts</c> response body (certificates URL-encoded).</summary>
    public required byte[] PckCertsJson { get; init; }

    /// <summary>The signed SGX TCB Info for <see cref="Fmspc"/> with <see cref="PckCertificateSetOptions.TcbInfoLevels"/>.</summary>
    public required byte[] TcbInfo { get; init; }

    /// <summary>The TCB Info issuer chain, PEM (TCB Signing, root).</summary>
    public required string TcbInfoIssuerChainPem { get; init; }

    /// <summary>The issuing CA's CRL (DER, no entries): PCS's <c>pckcrl?ca=processor|platform&amp;encoding=der</c>.</summary>
    public required byte[] PckCrl { get; init; }

    /// <summary>The response headers PCS sends with <see cref="PckCertsJson"/>, with PCS's names and encodings.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> PckCertsHeaders =>
    [
        new("SGX-PCK-Certificate-Issuer-Chain", IssuerChainHeader.Encode(IssuerChainPem)),
        new("SGX-FMSPC", Hex.Upper(Fmspc)),
        new("SGX-PCK-Certificate-CA-Type", CaTypeHeader),
    ];

    /// <summary>Issues a set under <paramref name="platform"/>'s simulated root (its Processor CA, or a new Platform CA).</summary>
    public static PckCertificateSet Issue(SimulatedPlatform platform, PckCertificateSetOptions options)
    {
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Levels.Count == 0)
        {
            throw new ArgumentException("a PCK certificate set needs at least one TCB level", nameof(options));
        }

        if (options.TcbInfoVersion is not (2 or 3))
        {
            throw new ArgumentException($"TCB Info version {options.TcbInfoVersion} is not 2 or 3", nameof(options));
        }

        var ppid = options.Ppid ?? platform.Profile.Ppid;
        var fmspc = options.Fmspc ?? platform.Profile.Fmspc;
        var pceId = options.PceId ?? platform.Profile.PceId;
        if (ppid.Length != 16 || fmspc.Length != 6 || pceId.Length != 2)
        {
            throw new ArgumentException("PPID must be 16 bytes, FMSPC 6 and PCE-ID 2", nameof(options));
        }

        var issued = CollateralAuthority.TruncateToSeconds(options.IssuedAt.ToUniversalTime());
        var root = platform.Root;
        SimulatedPlatform.Credential? platformCa = null;
        try
        {
            var platformCaIssued = options.CaType == PckCaType.Platform;
            X509Certificate2 caCert;
            ECDsa caKey;
            if (platformCaIssued)
            {
                var key = SimulatedPki.NewKey();
                platformCa = new SimulatedPlatform.Credential(
                    SimulatedPki.Issue(PkiRole.PlatformCa, key, root.Certificate, root.Key, issued.AddDays(-1), issued.AddYears(20)), key);
                caCert = platformCa.Certificate;
                caKey = platformCa.Key;
            }
            else
            {
                caCert = platform.ProcessorCa.Certificate;
                caKey = platform.ProcessorCa.Key;
            }

            var instanceId = platformCaIssued ? SHA256.HashData(ppid).AsSpan(0, 16).ToArray() : null;
            var entries = new List<PckCertificateEntry>();
            for (var i = 0; i < options.Levels.Count; i++)
            {
                var tcb = options.Levels[i];
                string? pem = null;
                if (!options.NotAvailable.Contains(i))
                {
                    using var leafKey = SimulatedPki.NewKey();
                    var extension = SimulatedPki.SgxExtension(ppid, tcb.ComponentSvns.ToArray(), tcb.PceSvn, pceId, fmspc, instanceId);
                    using var leaf = SimulatedPki.Issue(PkiRole.Pck, leafKey, caCert, caKey, issued.AddDays(-1), issued.AddYears(7), extension, platformCaIssued);
                    pem = leaf.ExportCertificatePem() + "\n";
                }

                entries.Add(new PckCertificateEntry(tcb, tcb.Tcbm, pem));
            }

            var rootPem = root.Certificate.ExportCertificatePem() + "\n";
            var caPem = caCert.ExportCertificatePem() + "\n";
            var tcbInfo = SignedTcbInfo(options.TcbInfoLevels ?? options.Levels, options.TcbInfoVersion, fmspc, pceId, issued, issued + options.Validity, platform.TcbSigning.Key);
            return new PckCertificateSet
            {
                CaType = options.CaType,
                Ppid = ppid,
                Fmspc = fmspc,
                PceId = pceId,
                Entries = entries,
                CaCertificatePem = caPem,
                IssuerChainPem = caPem + rootPem,
                PckCertsJson = PcsPckCertificates.Write(entries),
                TcbInfo = tcbInfo,
                TcbInfoIssuerChainPem = platform.TcbSigning.Certificate.ExportCertificatePem() + "\n" + rootPem,
                PckCrl = SimulatedPki.Crl(caCert, caKey, [], issued.ToUnixTimeSeconds(), issued, issued + options.Validity),
            };
        }
        finally
        {
            platformCa?.Dispose();
        }
    }

    private static byte[] SignedTcbInfo(IReadOnlyList<PcsTcb> levels, int version, byte[] fmspc, byte[] pceId, DateTimeOffset issued, DateTimeOffset next, ECDsa signer)
    {
        var body = CollateralAuthority.Json(w =>
        {
            if (version == 3)
            {
                w.WriteString("id", "SGX");
            }

            w.WriteNumber("version", version);
            w.WriteString("issueDate", CollateralAuthority.Date(issued));
            w.WriteString("nextUpdate", CollateralAuthority.Date(next));
            w.WriteString("fmspc", Hex.Lower(fmspc));
            w.WriteString("pceId", Hex.Upper(pceId));
            w.WriteNumber("tcbType", 0);
            w.WriteNumber("tcbEvaluationDataNumber", 17);
            w.WriteStartArray("tcbLevels");
            for (var i = 0; i < levels.Count; i++)
            {
                var level = levels[i];
                w.WriteStartObject();
                w.WriteStartObject("tcb");
                if (version == 3)
                {
                    CollateralAuthority.Components(w, "sgxtcbcomponents", level.ComponentSvns.ToArray());
                }
                else
                {
                    for (var c = 0; c < 16; c++)
                    {
                        w.WriteNumber("sgxtcbcomp" + (c + 1).ToString("D2", CultureInfo.InvariantCulture) + "svn", level.ComponentSvns[c]);
                    }
                }

                w.WriteNumber("pcesvn", level.PceSvn);
                w.WriteEndObject();
                w.WriteString("tcbDate", CollateralAuthority.Date(issued.AddDays(-30 * i)));
                var status = i == 0 ? TcbStatus.UpToDate : TcbStatus.OutOfDate;
                w.WriteString("tcbStatus", status.ToWireString());
                if (version == 3 && status != TcbStatus.UpToDate)
                {
                    w.WriteStartArray("advisoryIDs");
                    w.WriteStringValue(CollateralAuthority.SimulatedAdvisory);
                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
        return CollateralAuthority.Signed("tcbInfo", body, signer);
    }
}
