using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.X509;
using Veritee.Sgx;

namespace Veritee.Dcap.Pccs;

/// <summary>Why PCK certificate selection found no certificate (stable codes; a PCCS answers 404 for each).</summary>
public enum PckSelectionError
{
    /// <summary>Selection succeeded.</summary>
    None,

    /// <summary>An argument is malformed: raw CPUSVN not 16 bytes, too many certificates, TCB Info too large.</summary>
    InvalidInput,

    /// <summary>The TCB Info does not parse as an SGX/TDX TCB Info v2 or v3 with well-formed levels.</summary>
    TcbInfoInvalid,

    /// <summary>The TCB Info's <c>tcbType</c> is not 0 (the only type whose CPUSVN is the component SVNs).</summary>
    TcbTypeUnsupported,

    /// <summary>The TCB Info's <c>pceId</c> differs from the requested PCEID.</summary>
    TcbInfoPceIdMismatch,

    /// <summary>No certificate to choose from (an empty set, or only "Not available" entries).</summary>
    NoCertificates,

    /// <summary>A certificate does not parse or has no SGX extension.</summary>
    CertificateInvalid,

    /// <summary>A certificate's PCE-ID differs from the requested PCEID.</summary>
    PceIdMismatch,

    /// <summary>A certificate's FMSPC differs from the TCB Info's.</summary>
    FmspcMismatch,

    /// <summary>The certificates do not all carry the same PPID (they are not one platform's set).</summary>
    PpidMismatch,

    /// <summary>A certificate's CPUSVN is not its component SVNs, or its TCB is not the entry's TCBm.</summary>
    CertificateTcbMismatch,

    /// <summary>Every certificate's TCB is above the raw TCB or incomparable with it.</summary>
    NoCertificateForRawTcb,
}

/// <summary>The outcome of <see cref="PckCertificateSelection.Select"/>.</summary>
public sealed class PckSelection
{
    private PckSelection()
    {
    }

    /// <summary>The chosen entry; null on failure.</summary>
    public PckCertificateEntry? Selected { get; private init; }

    /// <summary><see cref="PckSelectionError.None"/> on success, else why nothing was chosen.</summary>
    public PckSelectionError Error { get; private init; }

    /// <summary>A specific message naming the reason (the item, the values); empty on success.</summary>
    public string Message { get; private init; } = "";

    /// <summary>The platform's FMSPC, 12 upper-case hex (<c>SGX-FMSPC</c>); null on failure.</summary>
    public string? Fmspc { get; private init; }

    /// <summary><c>PROCESSOR</c> or <c>PLATFORM</c> from the selected certificate's issuer; null on failure or an unknown issuer.</summary>
    public string? CaType { get; private init; }

    /// <summary>True when a certificate was selected.</summary>
    public bool Succeeded => Selected is not null;

    internal static PckSelection Failure(PckSelectionError error, string message) => new() { Error = error, Message = message };

    internal static PckSelection Success(PckCertificateEntry entry, string fmspc, string? caType) =>
        new() { Selected = entry, Fmspc = fmspc, CaType = caType };
}

/// <summary>
/// Intel's PCK certificate selection (Intel PCCS's <c>pckCertSelection</c> and DCAP's
/// <c>PCKCertSelectionLib</c>): given the raw TCB a platform reports (CPUSVN, PCESVN, PCEID), choose the certificate of
/// the highest TCB level the platform is at or above. Pure: no I/O, no clock.
/// </summary>
public static class PckCertificateSelection
{
    /// <summary>Most certificates considered in one selection.</summary>
    public const int MaxCertificates = PcsPckCertificates.MaxEntries;

    /// <summary>Largest TCB Info accepted (a TDX TCB Info is ~15 KiB).</summary>
    public const int MaxTcbInfoBytes = 1024 * 1024;

    /// <summary>
    /// Selects the PCK certificate for a raw TCB. Validation, in Intel's order: the TCB Info (v2 or v3, SGX or TDX;
    /// its SGX components are used) has <c>tcbType</c> 0 and <paramref name="pceId"/>; every available certificate
    /// parses, has the SGX extension with that PCE-ID, the TCB Info's FMSPC, one common PPID, a CPUSVN equal to its
    /// components, and its entry's TCBm. Then the certificates are put into one bucket per TCB level (best level
    /// first, a certificate into the first level it is at or above; a last bucket for those matching none), sorted
    /// best first inside a bucket, and the first certificate the raw TCB is at or above is chosen. "Not available"
    /// entries are skipped.
    /// </summary>
    /// <param name="rawCpuSvn">The platform's raw CPUSVN (16 bytes; for <c>tcbType</c> 0 also its component SVNs).</param>
    /// <param name="rawPceSvn">The platform's PCESVN (the request's 4 hex digits read little-endian).</param>
    /// <param name="pceId">The PCEID (the request's 4 hex digits read little-endian; compared as the bytes [low, high]).</param>
    /// <param name="certificates">The platform's PCK certificate set.</param>
    /// <param name="sgxTcbInfoJson">The signed TCB Info for the platform's FMSPC (<c>{"tcbInfo":…,"signature":…}</c>); its signature is not checked here.</param>
    public static PckSelection Select(ReadOnlySpan<byte> rawCpuSvn, ushort rawPceSvn, ushort pceId, IReadOnlyList<PckCertificateEntry> certificates, byte[] sgxTcbInfoJson)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        ArgumentNullException.ThrowIfNull(sgxTcbInfoJson);
        if (rawCpuSvn.Length != 16)
        {
            return PckSelection.Failure(PckSelectionError.InvalidInput, $"raw CPUSVN must be 16 bytes, got {rawCpuSvn.Length}");
        }

        if (certificates.Count > MaxCertificates)
        {
            return PckSelection.Failure(PckSelectionError.InvalidInput, $"{certificates.Count} certificates exceed the limit of {MaxCertificates}");
        }

        if (sgxTcbInfoJson.Length > MaxTcbInfoBytes)
        {
            return PckSelection.Failure(PckSelectionError.InvalidInput, $"TCB Info of {sgxTcbInfoJson.Length} bytes exceeds the limit of {MaxTcbInfoBytes}");
        }

        Span<byte> pceIdBytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(pceIdBytes, pceId);
        var pceIdHex = Hex.Upper(pceIdBytes);

        // TCB Info: tcbType first (TcbInfo.Parse refuses any type but 0 with a generic message).
        if (ReadTcbType(sgxTcbInfoJson) is { } tcbType && tcbType != 0)
        {
            return PckSelection.Failure(PckSelectionError.TcbTypeUnsupported, $"TCB Info tcbType is {tcbType}; only 0 is supported");
        }

        TcbInfo tcbInfo;
        try
        {
            tcbInfo = TcbInfo.Parse(sgxTcbInfoJson);
        }
        catch (DcapFormatException e)
        {
            return PckSelection.Failure(PckSelectionError.TcbInfoInvalid, e.Message);
        }

        if (!tcbInfo.PceId.AsSpan().SequenceEqual(pceIdBytes))
        {
            return PckSelection.Failure(PckSelectionError.TcbInfoPceIdMismatch, $"TCB Info pceId {Hex.Upper(tcbInfo.PceId)} differs from PCEID {pceIdHex}");
        }

        var fmspcHex = Hex.Upper(tcbInfo.Fmspc);
        var candidates = new List<Candidate>(certificates.Count);
        byte[]? ppid = null;
        for (var i = 0; i < certificates.Count; i++)
        {
            var entry = certificates[i];
            if (entry?.CertificatePem is not { } pem)
            {
                continue;
            }

            var what = $"certificates[{i}] (TCBm {entry.Tcbm})";
            DcapCertificate cert;
            PckCertificateExtension ext;
            try
            {
                var ders = Pem.DecodeCertificates(Encoding.ASCII.GetBytes(pem));
                if (ders.Count != 1)
                {
                    return PckSelection.Failure(PckSelectionError.CertificateInvalid, $"{what}: holds {ders.Count} PEM certificates, 1 expected");
                }

                cert = DcapCertificate.Parse(ders[0]);
                if (cert.SgxExtension is not { } raw)
                {
                    return PckSelection.Failure(PckSelectionError.CertificateInvalid, $"{what}: has no SGX extension");
                }

                ext = PckCertificateExtension.Parse(raw);
            }
            catch (Exception e) when (e is DcapFormatException or SgxFormatException)
            {
                return PckSelection.Failure(PckSelectionError.CertificateInvalid, $"{what}: {e.Message}");
            }

            if (!ext.PceId.AsSpan().SequenceEqual(pceIdBytes))
            {
                return PckSelection.Failure(PckSelectionError.PceIdMismatch, $"{what}: PCE-ID {Hex.Upper(ext.PceId)} differs from PCEID {pceIdHex}");
            }

            if (!ext.Fmspc.AsSpan().SequenceEqual(tcbInfo.Fmspc))
            {
                return PckSelection.Failure(PckSelectionError.FmspcMismatch, $"{what}: FMSPC {Hex.Upper(ext.Fmspc)} differs from the TCB Info's {fmspcHex}");
            }

            ppid ??= ext.Ppid;
            if (!ext.Ppid.AsSpan().SequenceEqual(ppid))
            {
                return PckSelection.Failure(PckSelectionError.PpidMismatch, $"{what}: PPID differs from the first certificate's; not one platform's set");
            }

            if (!ext.CpuSvn.AsSpan().SequenceEqual(ext.TcbComponentSvns))
            {
                return PckSelection.Failure(PckSelectionError.CertificateTcbMismatch, $"{what}: CPUSVN {Hex.Upper(ext.CpuSvn)} is not its component SVNs (tcbType 0)");
            }

            var certTcb = new PcsTcb(ext.TcbComponentSvns, ext.PceSvn);
            if (!string.Equals(certTcb.Tcbm, entry.Tcbm, StringComparison.OrdinalIgnoreCase))
            {
                return PckSelection.Failure(PckSelectionError.CertificateTcbMismatch, $"{what}: the certificate is issued for TCBm {certTcb.Tcbm}");
            }

            candidates.Add(new Candidate(entry, certTcb, cert.IssuerCommonName));
        }

        if (candidates.Count == 0)
        {
            return PckSelection.Failure(PckSelectionError.NoCertificates, certificates.Count == 0
                ? "the platform has no PCK certificates"
                : $"none of the platform's {certificates.Count} PCK certificates is available (all \"Not available\")");
        }

        // Buckets: one per TCB level in TCB Info order (best first), then one for certificates matching no level.
        var levels = tcbInfo.TcbLevels;
        var buckets = new List<Candidate>[levels.Count + 1];
        for (var b = 0; b < buckets.Length; b++)
        {
            buckets[b] = [];
        }

        foreach (var candidate in candidates)
        {
            var b = 0;
            while (b < levels.Count && !candidate.Tcb.IsAtLeast(new PcsTcb(levels[b].SgxComponents, levels[b].PceSvn)))
            {
                b++;
            }

            // Inside a bucket: before the first certificate this one is at or above (best first; incomparable keep order).
            var bucket = buckets[b];
            var at = bucket.FindIndex(other => candidate.Tcb.IsAtLeast(other.Tcb));
            bucket.Insert(at < 0 ? bucket.Count : at, candidate);
        }

        var rawTcb = new PcsTcb(rawCpuSvn, rawPceSvn);
        foreach (var bucket in buckets)
        {
            foreach (var candidate in bucket)
            {
                if (rawTcb.IsAtLeast(candidate.Tcb))
                {
                    return PckSelection.Success(candidate.Entry with { Tcbm = candidate.Tcb.Tcbm }, fmspcHex, CaTypeOf(candidate.IssuerCommonName));
                }
            }
        }

        return PckSelection.Failure(PckSelectionError.NoCertificateForRawTcb,
            $"raw TCB {rawTcb.Tcbm} is below or incomparable with every one of the {candidates.Count} available PCK certificates' TCBs");
    }

    private static string? CaTypeOf(string issuerCommonName) =>
        issuerCommonName.Contains("Platform CA", StringComparison.Ordinal) ? "PLATFORM"
        : issuerCommonName.Contains("Processor CA", StringComparison.Ordinal) ? "PROCESSOR"
        : null;

    /// <summary>tcbInfo.tcbType when it is an integer; null otherwise (left to the full parse to report).</summary>
    private static long? ReadTcbType(byte[] json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
            return doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("tcbInfo", out var body) && body.ValueKind == JsonValueKind.Object &&
                body.TryGetProperty("tcbType", out var type) && type.ValueKind == JsonValueKind.Number && type.TryGetInt64(out var value) ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed record Candidate(PckCertificateEntry Entry, PcsTcb Tcb, string IssuerCommonName);
}
