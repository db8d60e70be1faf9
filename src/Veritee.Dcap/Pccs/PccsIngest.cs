using System.Text;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Dcap.X509;
using Veritee.Sgx;

namespace Veritee.Dcap.Pccs;

/// <summary>The verdict on collateral offered to a PCCS cache (fetched from PCS or imported from a file).</summary>
public sealed class PccsIngestResult
{
    /// <summary><see cref="QvlStatus.STATUS_OK"/> when everything verified; otherwise the first failure's QVL status.</summary>
    public required QvlStatus Status { get; init; }

    /// <summary>The failing item, e.g. <c>collaterals.tcbinfos[2].sgx_tcbinfo</c>; null on success.</summary>
    public string? Item { get; init; }

    /// <summary>The failure, naming the item and the check; empty on success.</summary>
    public string Message { get; init; } = "";

    /// <summary>
    /// Items at or past their nextUpdate/notAfter at the given time. Informational: a cache keeps and serves the newest
    /// signed collateral it holds (freshness is the consumer's judgement), and may state its age.
    /// </summary>
    public IReadOnlyList<string> ExpiryFindings { get; init; } = [];

    /// <summary>The earliest nextUpdate/notAfter among the verified items, when any.</summary>
    public DateTimeOffset? EarliestExpiration { get; init; }

    /// <summary>True when <see cref="Status"/> is <see cref="QvlStatus.STATUS_OK"/>.</summary>
    public bool IsValid => Status == QvlStatus.STATUS_OK;

    internal static PccsIngestResult Ok(IEnumerable<string>? findings = null, DateTimeOffset? earliest = null) =>
        new() { Status = QvlStatus.STATUS_OK, ExpiryFindings = [.. findings ?? []], EarliestExpiration = earliest };

    internal static PccsIngestResult Fail(string item, QvlStatus status, string detail) =>
        new() { Status = status, Item = item, Message = $"{item}: {detail} ({status})" };
}

/// <summary>
/// Trust on ingest for a PCCS (Intel's PCCS verifies nothing): every PCK certificate under its issuer
/// chain and the trust anchor (CRLs and revocation included), every CRL signed by its issuer, every TCB Info and
/// enclave identity signature and chain, using the quote verifier's own steps and QVL status names. Pure: no I/O; the
/// time only dates the expiry findings, which never fail a check.
/// </summary>
public static class PccsIngest
{
    /// <summary>A TCB Info (exact PCS bytes) under its issuer chain (PEM); <paramref name="item"/> names it in the message.</summary>
    public static PccsIngestResult VerifyTcbInfo(byte[] tcbInfoJson, string issuerChainPem, byte[] rootCaCrl, TrustAnchor anchor, DateTimeOffset time, string item = "tcbinfo") =>
        Map(item, QuoteVerifier.VerifySignedItem(QuoteVerifier.SignedItem.TcbInfo, tcbInfoJson, Ascii(issuerChainPem), rootCaCrl, anchor, time));

    /// <summary>An enclave identity (QE, QVE, TD_QE; exact PCS bytes) under its issuer chain (PEM).</summary>
    public static PccsIngestResult VerifyEnclaveIdentity(byte[] identityJson, string issuerChainPem, byte[] rootCaCrl, TrustAnchor anchor, DateTimeOffset time, string item = "identity") =>
        Map(item, QuoteVerifier.VerifySignedItem(QuoteVerifier.SignedItem.EnclaveIdentity, identityJson, Ascii(issuerChainPem), rootCaCrl, anchor, time));

    /// <summary>A PCK CRL (DER, PEM or hex) under its issuer chain (the Processor or Platform CA and the root, PEM).</summary>
    public static PccsIngestResult VerifyPckCrl(byte[] pckCrl, string issuerChainPem, byte[] rootCaCrl, TrustAnchor anchor, DateTimeOffset time, string item = "pckcrl") =>
        Map(item, QuoteVerifier.VerifyPckCrl(pckCrl, Ascii(issuerChainPem), rootCaCrl, anchor, time));

    /// <summary>The root CA CRL, signed by the root certificate found in <paramref name="issuerChainPem"/> (whose key must be the anchor).</summary>
    public static PccsIngestResult VerifyRootCaCrl(byte[] rootCaCrl, string issuerChainPem, TrustAnchor anchor, DateTimeOffset time, string item = "rootcacrl") =>
        Map(item, QuoteVerifier.VerifyRootCrl(rootCaCrl, Ascii(issuerChainPem), anchor, time));

    /// <summary>
    /// A platform's PCK certificates (the available ones) under their issuer chain and the PCK CRL of that CA: issued by
    /// the CA, chain to the anchor, not revoked. Entries are named <c>{item}[index]</c>.
    /// </summary>
    public static PccsIngestResult VerifyPckCertificates(
        IReadOnlyList<PckCertificateEntry> certificates, string issuerChainPem, byte[] rootCaCrl, byte[] pckCrl, TrustAnchor anchor, DateTimeOffset time, string item = "certs")
    {
        ArgumentNullException.ThrowIfNull(certificates);
        var findings = new List<string>();
        DateTimeOffset? earliest = null;
        for (var i = 0; i < certificates.Count; i++)
        {
            if (certificates[i].CertificatePem is not { } pem)
            {
                continue;
            }

            var result = Map($"{item}[{i}]", QuoteVerifier.VerifyPckCertificate(Ascii(pem), Ascii(issuerChainPem), rootCaCrl, pckCrl, anchor, time));
            if (!result.IsValid)
            {
                return result;
            }

            Merge(result, findings, ref earliest);
        }

        return PccsIngestResult.Ok(findings, earliest);
    }

    /// <summary>
    /// Everything in a <c>platform_collaterals.json</c>: the root CA CRL, both PCK CRLs, every TCB Info (and that its
    /// FMSPC and id match its slot), every identity (and its id), every PCK certificate (under the chain and CRL of the
    /// CA that issued it). The first failure is returned, naming the item.
    /// </summary>
    public static PccsIngestResult Verify(PlatformCollateralFile file, TrustAnchor anchor, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(anchor);
        const string C = "collaterals";
        var findings = new List<string>();
        DateTimeOffset? earliest = null;
        bool Check(PccsIngestResult result, out PccsIngestResult failed)
        {
            failed = result;
            if (!result.IsValid)
            {
                return false;
            }

            Merge(result, findings, ref earliest);
            return true;
        }

        string? Decode(string? header, string name, out PccsIngestResult? error)
        {
            error = null;
            if (header is null)
            {
                return null;
            }

            try
            {
                return IssuerChainHeader.Decode(header);
            }
            catch (DcapFormatException e)
            {
                error = PccsIngestResult.Fail($"{C}.certificates.{name}", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT, e.Message);
                return null;
            }
        }

        var processorChain = Decode(file.PckIssuerChainProcessor, PlatformCollateralFile.PckIssuerChainKey + ".PROCESSOR", out var e1);
        var platformChain = Decode(file.PckIssuerChainPlatform, PlatformCollateralFile.PckIssuerChainKey + ".PLATFORM", out var e2);
        var tcbChain = Decode(file.TcbInfoIssuerChain, PlatformCollateralFile.TcbInfoIssuerChainKey, out var e3);
        var identityChain = Decode(file.EnclaveIdentityIssuerChain, PlatformCollateralFile.EnclaveIdentityIssuerChainKey, out var e4);
        if ((e1 ?? e2 ?? e3 ?? e4) is { } chainError)
        {
            return chainError;
        }

        if (file.RootCaCrl is not { } rootCrl)
        {
            return PccsIngestResult.Fail($"{C}.rootcacrl", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT, "missing: every chain's revocation check needs the root CA CRL");
        }

        var anyChain = processorChain ?? platformChain ?? tcbChain ?? identityChain;
        if (anyChain is null)
        {
            return PccsIngestResult.Fail($"{C}.certificates", QvlStatus.STATUS_SGX_ROOT_CA_MISSING, "no issuer chain to take the root CA from");
        }

        if (!Check(VerifyRootCaCrl(rootCrl, anyChain, anchor, time, $"{C}.rootcacrl"), out var failed))
        {
            return failed;
        }

        foreach (var (crl, chain, name) in new[] { (file.ProcessorCrl, processorChain, "processorCrl"), (file.PlatformCrl, platformChain, "platformCrl") })
        {
            if (crl is null)
            {
                continue;
            }

            if (chain is null)
            {
                return PccsIngestResult.Fail($"{C}.pckcacrl.{name}", QvlStatus.STATUS_SGX_INTERMEDIATE_CA_MISSING,
                    $"no {PlatformCollateralFile.PckIssuerChainKey}.{(name == "processorCrl" ? "PROCESSOR" : "PLATFORM")} chain to verify it with");
            }

            if (!Check(VerifyPckCrl(crl, chain, rootCrl, anchor, time, $"{C}.pckcacrl.{name}"), out failed))
            {
                return failed;
            }
        }

        for (var i = 0; i < file.TcbInfos.Count; i++)
        {
            var entry = file.TcbInfos[i];
            var sgxKey = file.Version == 4 ? "sgx_tcbinfo" : "tcbinfo";
            foreach (var (json, key, tdx) in new[] { (entry.Sgx, sgxKey, false), (entry.Tdx, "tdx_tcbinfo", true), (entry.SgxEarly, sgxKey + "_early", false), (entry.TdxEarly, "tdx_tcbinfo_early", true) })
            {
                if (json is null)
                {
                    continue;
                }

                var item = $"{C}.tcbinfos[{i}].{key}";
                if (tcbChain is null)
                {
                    return PccsIngestResult.Fail(item, QvlStatus.STATUS_SGX_TCB_SIGNING_CERT_MISSING, "the file has no TCB Info issuer chain");
                }

                if (!Check(VerifyTcbInfo(json, tcbChain, rootCrl, anchor, time, item), out failed))
                {
                    return failed;
                }

                var info = TcbInfo.Parse(json);
                if (!string.Equals(Hex.Upper(info.Fmspc), entry.Fmspc, StringComparison.OrdinalIgnoreCase) || info.IsTdx != tdx)
                {
                    return PccsIngestResult.Fail(item, QvlStatus.STATUS_TCB_INFO_MISMATCH,
                        $"is the {info.Id} TCB Info of FMSPC {Hex.Upper(info.Fmspc)}, filed under {(tdx ? "TDX" : "SGX")} FMSPC {entry.Fmspc.ToUpperInvariant()}");
                }
            }
        }

        foreach (var (json, key, id) in new[]
        {
            (file.QeIdentity, "qeidentity", "QE"), (file.TdQeIdentity, "tdqeidentity", "TD_QE"), (file.QveIdentity, "qveidentity", "QVE"),
            (file.QeIdentityEarly, "qeidentity_early", "QE"), (file.TdQeIdentityEarly, "tdqeidentity_early", "TD_QE"), (file.QveIdentityEarly, "qveidentity_early", "QVE"),
        })
        {
            if (json is null)
            {
                continue;
            }

            var item = $"{C}.{key}";
            if (identityChain is null)
            {
                return PccsIngestResult.Fail(item, QvlStatus.STATUS_SGX_TCB_SIGNING_CERT_MISSING, "the file has no enclave identity issuer chain");
            }

            if (!Check(VerifyEnclaveIdentity(json, identityChain, rootCrl, anchor, time, item), out failed))
            {
                return failed;
            }

            var actual = EnclaveIdentity.Parse(json).Id;
            if (actual != id)
            {
                return PccsIngestResult.Fail(item, QvlStatus.STATUS_QE_IDENTITY_MISMATCH, $"is the {actual} identity, not {id}");
            }
        }

        for (var p = 0; p < file.PckCertificates.Count; p++)
        {
            var certs = file.PckCertificates[p].Certificates;
            for (var i = 0; i < certs.Count; i++)
            {
                if (certs[i].CertificatePem is not { } pem)
                {
                    continue;
                }

                var item = $"{C}.pck_certs[{p}].certs[{i}]";
                var platformCa = IssuedByPlatformCa(pem);
                var (chain, crl, name) = platformCa ? (platformChain, file.PlatformCrl, "PLATFORM") : (processorChain, file.ProcessorCrl, "PROCESSOR");
                if (chain is null || crl is null)
                {
                    return PccsIngestResult.Fail(item, QvlStatus.STATUS_SGX_INTERMEDIATE_CA_MISSING,
                        $"issued by the {name} CA, but the file lacks its issuer chain or its PCK CRL (pckcacrl.{(platformCa ? "platformCrl" : "processorCrl")})");
                }

                if (!Check(Map(item, QuoteVerifier.VerifyPckCertificate(Ascii(pem), Ascii(chain), rootCrl, crl, anchor, time)), out failed))
                {
                    return failed;
                }
            }
        }

        return PccsIngestResult.Ok(findings, earliest);
    }

    private static bool IssuedByPlatformCa(string pem)
    {
        try
        {
            var ders = Pem.DecodeCertificates(Encoding.ASCII.GetBytes(pem));
            return ders.Count == 1 && DcapCertificate.Parse(ders[0]).IssuerCommonName.Contains("Platform CA", StringComparison.Ordinal);
        }
        catch (DcapFormatException)
        {
            // Left to the chain check, which names the format error.
            return false;
        }
    }

    private static void Merge(PccsIngestResult result, List<string> findings, ref DateTimeOffset? earliest)
    {
        foreach (var finding in result.ExpiryFindings)
        {
            findings.Add(finding);
        }

        if (result.EarliestExpiration is { } e && (earliest is null || e < earliest))
        {
            earliest = e;
        }
    }

    private static PccsIngestResult Map(string item, VerificationResult result) =>
        result.Status == QvlStatus.STATUS_OK
            ? new PccsIngestResult
            {
                Status = QvlStatus.STATUS_OK,
                ExpiryFindings = [.. result.ExpiryFindings.Select(f => $"{item}: {f}")],
                EarliestExpiration = result.EarliestExpiration,
            }
            : PccsIngestResult.Fail(item, result.Status, result.Detail ?? result.Status.Name());

    private static byte[] Ascii(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Encoding.ASCII.GetBytes(text);
    }
}
