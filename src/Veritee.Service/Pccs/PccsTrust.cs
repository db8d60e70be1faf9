using System.Security.Cryptography;
using System.Text;
using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Pccs;
using Veritee.Dcap.X509;

namespace Veritee.Service.Pccs;

/// <summary>
/// Trust on ingest (docs/pccs.md): every chain to the pinned root key (Intel's SGX Root CA in production), every CRL, TCB Info and identity
/// signature, checked with the verifier's own pieces (<see cref="DcapCertificate"/>, <see cref="CertificateRevocationList"/>,
/// <see cref="TcbInfo"/>, <see cref="EnclaveIdentity"/>) before anything is stored. Each check returns null when the item
/// is sound, else the reason with the QVL status name. Freshness is not judged here: the consumer's verifier judges it.
/// </summary>
internal static class PccsTrust
{
    /// <summary>Issuer chain header (percent-encoded PEM) → certificates, first issued by second … last = the anchor's self-signed root.</summary>
    public static (IReadOnlyList<DcapCertificate>? Chain, string? Failure) Chain(TrustAnchor anchor, string header, string signerName, string status)
    {
        IReadOnlyList<DcapCertificate> certificates;
        try
        {
            var pem = IssuerChainHeader.Decode(header);
            certificates = [.. Pem.DecodeCertificates(Encoding.ASCII.GetBytes(pem)).Select(DcapCertificate.Parse)];
        }
        catch (Exception e) when (e is FormatException or DcapFormatException or ArgumentException)
        {
            return (null, $"{status}: the issuer chain is unreadable: {e.Message}");
        }

        if (certificates.Count is < 2 or > 4)
        {
            return (null, $"{status}: the issuer chain has {certificates.Count} certificates, expected 2 to 4");
        }

        var root = certificates[^1];
        if (!root.IsSelfIssued || !root.PublicKey.SameAs(anchor.Point) || !root.IsIssuedBy(root))
        {
            return (null, $"{status}: the issuer chain does not end in the trusted root CA ({anchor.Name})");
        }

        for (var i = 0; i < certificates.Count - 1; i++)
        {
            if (!certificates[i].IsIssuedBy(certificates[i + 1]))
            {
                return (null, $"{status}: certificate {i} ('{certificates[i].SubjectCommonName}') is not signed by '{certificates[i + 1].SubjectCommonName}'");
            }
        }

        if (!certificates[0].SubjectCommonName.Contains(signerName, StringComparison.Ordinal))
        {
            return (null, $"{status}: the chain's first certificate is '{certificates[0].SubjectCommonName}', not the {signerName}");
        }

        return (certificates, null);
    }

    public static string? TcbInfo(TrustAnchor anchor, byte[] body, string chainHeader, bool tdx, string fmspc)
    {
        var (chain, failure) = Chain(anchor, chainHeader, "SGX TCB Signing", nameof(QvlStatus.STATUS_SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED));
        if (chain is null)
        {
            return failure;
        }

        Veritee.Dcap.Collateral.TcbInfo info;
        try
        {
            info = Veritee.Dcap.Collateral.TcbInfo.Parse(body);
        }
        catch (Exception e) when (e is FormatException or DcapFormatException or System.Text.Json.JsonException)
        {
            return $"{nameof(QvlStatus.STATUS_SGX_TCB_INFO_INVALID)}: {e.Message}";
        }

        if (info.IsTdx != tdx || !Convert.ToHexString(info.Fmspc).Equals(fmspc, StringComparison.OrdinalIgnoreCase))
        {
            return $"{nameof(QvlStatus.STATUS_SGX_TCB_INFO_INVALID)}: it is the {info.Id} TCB Info of FMSPC {Convert.ToHexString(info.Fmspc)}, not the {(tdx ? "TDX" : "SGX")} one of {fmspc}";
        }

        return chain[0].PublicKey.Verify(info.SignedBody.Span, info.Signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            ? null
            : $"{nameof(QvlStatus.STATUS_TCB_INFO_INVALID_SIGNATURE)}: signature invalid";
    }

    public static string? Identity(TrustAnchor anchor, byte[] body, string chainHeader, string id)
    {
        var (chain, failure) = Chain(anchor, chainHeader, "SGX TCB Signing", nameof(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID));
        if (chain is null)
        {
            return failure;
        }

        EnclaveIdentity identity;
        try
        {
            identity = EnclaveIdentity.Parse(body);
        }
        catch (Exception e) when (e is FormatException or DcapFormatException or System.Text.Json.JsonException)
        {
            return $"{nameof(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID)}: {e.Message}";
        }

        if (identity.Id != id)
        {
            return $"{nameof(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID)}: it is the {identity.Id} identity, not {id}";
        }

        return chain[0].PublicKey.Verify(identity.SignedBody.Span, identity.Signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            ? null
            : $"{nameof(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE)}: signature invalid";
    }

    public static string? PckCrl(TrustAnchor anchor, byte[] der, string chainHeader, string ca)
    {
        var (chain, failure) = Chain(anchor, chainHeader, ca == "PROCESSOR" ? "SGX PCK Processor CA" : "SGX PCK Platform CA", nameof(QvlStatus.STATUS_SGX_CRL_UNKNOWN_ISSUER));
        if (chain is null)
        {
            return failure;
        }

        return Crl(der, chain[0]);
    }

    public static string? RootCrl(TrustAnchor anchor, byte[] der)
    {
        try
        {
            var crl = CertificateRevocationList.Parse(der);
            using var key = new EcPublicKey(anchor.Point);
            return key.Verify(crl.TbsCertList.Span, crl.Signature, DSASignatureFormat.Rfc3279DerSequence)
                ? null
                : $"{nameof(QvlStatus.STATUS_SGX_CRL_INVALID_SIGNATURE)}: not signed by the trusted root CA";
        }
        catch (Exception e) when (e is FormatException or DcapFormatException)
        {
            return $"{nameof(QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT)}: {e.Message}";
        }
    }

    private static string? Crl(byte[] der, DcapCertificate issuer)
    {
        try
        {
            var crl = CertificateRevocationList.Parse(der);
            return crl.IsSignedBy(issuer) ? null : $"{nameof(QvlStatus.STATUS_SGX_CRL_INVALID_SIGNATURE)}: not signed by '{issuer.SubjectCommonName}'";
        }
        catch (Exception e) when (e is FormatException or DcapFormatException)
        {
            return $"{nameof(QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT)}: {e.Message}";
        }
    }

    /// <summary>Each PCK certificate is an SGX PCK certificate signed by the chain's PCK CA, which chains to the root.</summary>
    public static string? PckCertificates(TrustAnchor anchor, IReadOnlyList<PckCertificateEntry> entries, string chainHeader)
    {
        var (chain, failure) = Chain(anchor, chainHeader, "SGX PCK", nameof(QvlStatus.STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED));
        if (chain is null)
        {
            return failure;
        }

        for (var i = 0; i < entries.Count; i++)
        {
            try
            {
                var der = Pem.DecodeCertificates(Encoding.ASCII.GetBytes(entries[i].CertificatePem!));
                if (der.Count != 1)
                {
                    return $"pckcerts[{i}]: {nameof(QvlStatus.STATUS_SGX_PCK_INVALID)}: {der.Count} certificates where one was expected";
                }

                var cert = DcapCertificate.Parse(der[0]);
                if (cert.SgxExtension is null)
                {
                    return $"pckcerts[{i}]: {nameof(QvlStatus.STATUS_SGX_PCK_INVALID_EXTENSIONS)}: no SGX extension";
                }

                if (!cert.IsIssuedBy(chain[0]))
                {
                    return $"pckcerts[{i}]: {nameof(QvlStatus.STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED)}: not signed by '{chain[0].SubjectCommonName}'";
                }
            }
            catch (Exception e) when (e is FormatException or DcapFormatException)
            {
                return $"pckcerts[{i}]: {nameof(QvlStatus.STATUS_SGX_PCK_INVALID)}: {e.Message}";
            }
        }

        return null;
    }
}
