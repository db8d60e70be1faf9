using System.Security.Cryptography;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.X509;
using Veritee.Sgx;

namespace Veritee.Dcap.Verification;

/// <summary>
/// DCAP quote verification with Intel QVL/QvE semantics (docs/verification.md §5–§8): the PCK chain to the trust anchor,
/// CRLs of the right CA, TCB Info and QE Identity signatures over their raw bytes, the QE report and its binding,
/// the quote signature, and the TCB level rules, first failure wins in Intel's order.
/// Pure: bytes, collateral, anchor and time in, a <see cref="VerificationResult"/> out; no I/O, no clock.
/// </summary>
public sealed partial class QuoteVerifier
{
    private const byte KindCertificate = 1;
    private const byte KindCrl = 2;
    private const byte KindTcbInfo = 3;
    private const byte KindQeIdentity = 4;
    private const byte KindPckExtension = 5;
    private const byte KindKey = 6;
    private const byte KindChainSignature = 10;
    private const byte KindCrlSignature = 11;
    private const byte KindJsonSignature = 12;
    private const byte KindQeReportSignature = 13;
    private const int MaxChainCertificates = 4;

    private static readonly CertificateRole IntermediateCaRole = new(
        QvlStatus.STATUS_SGX_INTERMEDIATE_CA_INVALID_EXTENSIONS, QvlStatus.STATUS_SGX_INTERMEDIATE_CA_INVALID_ISSUER, QvlStatus.STATUS_SGX_INTERMEDIATE_CA_REVOKED);

    private static readonly CertificateRole TcbSigningRole = new(
        QvlStatus.STATUS_SGX_TCB_SIGNING_CERT_INVALID_EXTENSIONS, QvlStatus.STATUS_SGX_TCB_SIGNING_CERT_INVALID_ISSUER, QvlStatus.STATUS_SGX_TCB_SIGNING_CERT_REVOKED);

    private readonly VerificationCache? _cache;

    /// <summary>A verifier that memoises pure steps in <paramref name="cache"/> (warm); without one, every call starts from bytes (cold).</summary>
    public QuoteVerifier(VerificationCache? cache = null)
    {
        _cache = cache;
    }

    /// <summary>Cold verification: every certificate, CRL and collateral signature is parsed and checked from bytes.</summary>
    public static VerificationResult VerifyCold(ReadOnlyMemory<byte> quote, QuoteCollateral collateral, TrustAnchor anchor, DateTimeOffset time) =>
        new QuoteVerifier().Verify(quote, collateral, anchor, time);

    /// <summary>Verifies <paramref name="quote"/> (optionally wrapped in an Open Enclave report header) at <paramref name="time"/>.</summary>
    public VerificationResult Verify(ReadOnlyMemory<byte> quote, QuoteCollateral collateral, TrustAnchor anchor, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(collateral);
        ArgumentNullException.ThrowIfNull(anchor);

        // Without a shared cache, a per-call one still avoids re-parsing the same root certificate four times.
        var perCall = _cache is null ? new VerificationCache(256) : null;
        var run = new Run(_cache ?? perCall!, anchor, time);
        try
        {
            return run.Execute(quote, collateral);
        }
        catch (VerificationFailure failure)
        {
            return run.Fail(failure.Status, failure.Message);
        }
        finally
        {
            // Free the OpenSSL key handles now rather than leaving them to the finalizer thread.
            perCall?.ReleaseKeys();
        }
    }

    /// <summary>
    /// Verifies a collateral bundle on its own, without a quote: every part parses, the TCB Info and QE Identity issuer
    /// chains lead to <paramref name="anchor"/> and their signatures hold, the root CA CRL is signed by the root, the
    /// PCK CRL issuer chain's CA is signed by the root and not revoked, and the PCK CRL is signed by that CA. What a
    /// collateral cache must know before it keeps a bundle for every quote of a platform. <see cref="QvlStatus.STATUS_OK"/>
    /// when it holds; expiry is a finding beside the verdict (<see cref="VerificationResult.ExpiryFindings"/>), as for quotes.
    /// </summary>
    public VerificationResult VerifyCollateral(QuoteCollateral collateral, TrustAnchor anchor, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(collateral);
        ArgumentNullException.ThrowIfNull(anchor);
        var perCall = _cache is null ? new VerificationCache(256) : null;
        var run = new Run(_cache ?? perCall!, anchor, time);
        try
        {
            return run.ExecuteCollateral(collateral);
        }
        catch (VerificationFailure failure)
        {
            return run.Fail(failure.Status, failure.Message);
        }
        finally
        {
            perCall?.ReleaseKeys();
        }
    }

    /// <summary>The QVL statuses for a certificate under the root that fails one of its checks.</summary>
    private sealed record CertificateRole(QvlStatus InvalidExtensions, QvlStatus InvalidIssuer, QvlStatus Revoked);

    private sealed class VerificationFailure(QvlStatus status, string message) : Exception(message)
    {
        public QvlStatus Status { get; } = status;
    }

    private sealed partial class Run(VerificationCache memo, TrustAnchor anchor, DateTimeOffset time)
    {
        private readonly List<string> _expired = [];
        private readonly List<DateTimeOffset> _expirations = [];
        private Quote? _quote;
        private PckCertificateExtension? _pck;
        private TcbInfo? _tcbInfo;

        public VerificationResult Fail(QvlStatus status, string detail) => new()
        {
            Status = status,
            Detail = detail,
            ExpiryFindings = _expired,
            VerifiedAt = time,
            Quote = _quote,
            Pck = _pck,
            TcbInfo = _tcbInfo,
            EarliestExpiration = _expirations.Count > 0 ? _expirations.Min() : null,
        };

        public VerificationResult Execute(ReadOnlyMemory<byte> evidence, QuoteCollateral collateral)
        {
            // Quote structure (QvE: extract the PCK chain from the quote).
            var quote = _quote = ParseQuote(evidence);
            var cert = quote.SignatureData.CertificationData;
            if (cert.Type != CertificationDataType.PckCertificateChain)
            {
                throw new VerificationFailure(QvlStatus.STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE,
                    $"certification data type {(ushort)cert.Type} is not 5 (PCK certificate chain)");
            }

            var pckChain = ParseChain(cert.Data.Span, "quote PCK chain", QvlStatus.STATUS_UNSUPPORTED_PCK_CERT_FORMAT);
            var rootCrl = ParseCrl(collateral.RootCaCrl, "root CA CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            var pckCrl = ParseCrl(collateral.PckCrl, "PCK CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            var tcbInfo = _tcbInfo = Parse(KindTcbInfo, collateral.TcbInfo, () => TcbInfo.Parse(collateral.TcbInfo),
                QvlStatus.STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT, invalid: QvlStatus.STATUS_SGX_TCB_INFO_INVALID);

            // QvE parses the QE Identity with the collateral dates (qve_get_collateral_dates), before any chain check.
            var qeIdentity = Parse(KindQeIdentity, collateral.QeIdentity, () => EnclaveIdentity.Parse(collateral.QeIdentity),
                QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT, invalid: QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID);
            var tcbChain = ParseChain(collateral.TcbInfoIssuerChain, "TCB Info issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);
            var qeChain = ParseChain(collateral.QeIdentityIssuerChain, "QE Identity issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);
            var crlChain = ParseChain(collateral.PckCrlIssuerChain, "PCK CRL issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);

            // Collateral expiry (a finding beside the verdict, never a failure): QvE takes every date before verifying
            // anything, so the flag is the same wherever verification stops.
            CheckNotAfter(pckChain, "PCK chain");
            CheckNotAfter(tcbChain, "TCB Info signing chain");
            CheckNotAfter(qeChain, "QE Identity signing chain");
            CheckNotAfter(crlChain, "PCK CRL issuer chain");
            Expiry(rootCrl.NextUpdate, $"root CA CRL at or past nextUpdate {rootCrl.NextUpdate:yyyy-MM-ddTHH:mm:ssZ}");
            Expiry(pckCrl.NextUpdate, $"PCK CRL at or past nextUpdate {pckCrl.NextUpdate:yyyy-MM-ddTHH:mm:ssZ}");
            Expiry(tcbInfo.NextUpdate, "TCB Info at or past nextUpdate");
            Expiry(qeIdentity.NextUpdate, "QE Identity at or past nextUpdate");

            // PCK certificate chain (QVL PckCertVerifier).
            var (root, intermediate, pckCert) = VerifyPckChain(pckChain, rootCrl, pckCrl);

            // TCB Info and QE Identity (QVL TCBInfoVerifier / EnclaveIdentityVerifier).
            VerifySigningChain(tcbChain, rootCrl, "TCB Info");
            if (!memo.Verify(tcbChain.Signer.PublicKey, tcbInfo.SignedBody.Span, tcbInfo.Signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, KindJsonSignature))
            {
                throw new VerificationFailure(QvlStatus.STATUS_TCB_INFO_INVALID_SIGNATURE, "TCB Info signature does not verify under the TCB Signing key");
            }

            VerifySigningChain(qeChain, rootCrl, "QE Identity");
            if (!memo.Verify(qeChain.Signer.PublicKey, qeIdentity.SignedBody.Span, qeIdentity.Signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, KindJsonSignature))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE, "QE Identity signature does not verify under the TCB Signing key");
            }

            _ = root;
            _ = intermediate;

            // The quote itself (QVL QuoteVerifier).
            return VerifyQuote(quote, pckCert, tcbInfo, qeIdentity);
        }

        public VerificationResult ExecuteCollateral(QuoteCollateral collateral)
        {
            var rootCrl = ParseCrl(collateral.RootCaCrl, "root CA CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            var pckCrl = ParseCrl(collateral.PckCrl, "PCK CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            var tcbInfo = _tcbInfo = Parse(KindTcbInfo, collateral.TcbInfo, () => TcbInfo.Parse(collateral.TcbInfo),
                QvlStatus.STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT, invalid: QvlStatus.STATUS_SGX_TCB_INFO_INVALID);
            var qeIdentity = Parse(KindQeIdentity, collateral.QeIdentity, () => EnclaveIdentity.Parse(collateral.QeIdentity),
                QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT, invalid: QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID);
            var tcbChain = ParseChain(collateral.TcbInfoIssuerChain, "TCB Info issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);
            var qeChain = ParseChain(collateral.QeIdentityIssuerChain, "QE Identity issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);
            var crlChain = ParseChain(collateral.PckCrlIssuerChain, "PCK CRL issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);

            VerifySigningChain(tcbChain, rootCrl, "TCB Info");
            if (!memo.Verify(tcbChain.Signer.PublicKey, tcbInfo.SignedBody.Span, tcbInfo.Signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, KindJsonSignature))
            {
                throw new VerificationFailure(QvlStatus.STATUS_TCB_INFO_INVALID_SIGNATURE, "TCB Info signature does not verify under the TCB Signing key");
            }

            Expiry(tcbInfo.NextUpdate, "TCB Info at or past nextUpdate");
            VerifySigningChain(qeChain, rootCrl, "QE Identity");
            if (!memo.Verify(qeChain.Signer.PublicKey, qeIdentity.SignedBody.Span, qeIdentity.Signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, KindJsonSignature))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE, "QE Identity signature does not verify under the TCB Signing key");
            }

            Expiry(qeIdentity.NextUpdate, "QE Identity at or past nextUpdate");

            // The PCK CRL's issuer comes from its own chain here (a quote supplies it otherwise): root, then one CA.
            var root = crlChain.Root;
            var ca = crlChain.FirstOrDefault(c => !c.IsSelfIssued && c.SubjectCommonName.Contains("CA", StringComparison.Ordinal));
            if (root is null || !root.PublicKey.SameAs(anchor.Point) || !IssuedBy(root, root))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED, $"PCK CRL issuer chain has no validly self-signed root with the trust anchor's key ({anchor.Name})");
            }

            if (ca is null || crlChain.Count != 2)
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_INTERMEDIATE_CA_MISSING, $"PCK CRL issuer chain must be the PCK Processor/Platform CA and the root ({crlChain.Count} certificates)");
            }

            RequireIssuedByRootAndNotRevoked(ca, root, rootCrl, IntermediateCaRole, $"'{ca.SubjectCommonName}'");

            VerifyCrl(pckCrl, ca, "PCK CRL");
            CheckNotAfter(crlChain, "PCK CRL issuer chain");
            CheckNotAfter(tcbChain, "TCB Info signing chain");
            CheckNotAfter(qeChain, "QE Identity signing chain");
            Expiry(rootCrl.NextUpdate, $"root CA CRL at or past nextUpdate {rootCrl.NextUpdate:yyyy-MM-ddTHH:mm:ssZ}");
            Expiry(pckCrl.NextUpdate, $"PCK CRL at or past nextUpdate {pckCrl.NextUpdate:yyyy-MM-ddTHH:mm:ssZ}");
            CheckNotYetValid(rootCrl, "root CA CRL");
            CheckNotYetValid(pckCrl, "PCK CRL");
            return new VerificationResult
            {
                Status = QvlStatus.STATUS_OK,
                ExpiryFindings = _expired,
                VerifiedAt = time,
                EarliestExpiration = _expirations.Count > 0 ? _expirations.Min() : null,
                TcbInfo = tcbInfo,
            };
        }

        private static Quote ParseQuote(ReadOnlyMemory<byte> evidence)
        {
            try
            {
                var quote = Quote.Parse(OpenEnclaveReport.UnwrapIfPresent(evidence));
                if (!quote.Header.QeVendorId.Span.SequenceEqual(QuoteHeader.IntelQeVendorId))
                {
                    throw new VerificationFailure(QvlStatus.STATUS_UNSUPPORTED_QUOTE_FORMAT, "header.qe_vendor_id at offset 12: not the Intel QE vendor id");
                }

                return quote;
            }
            catch (SgxFormatException e)
            {
                throw new VerificationFailure(QvlStatus.STATUS_UNSUPPORTED_QUOTE_FORMAT, e.Message);
            }
        }

        private (DcapCertificate Root, DcapCertificate Intermediate, DcapCertificate Pck) VerifyPckChain(
            IReadOnlyList<DcapCertificate> chain, CertificateRevocationList rootCrl, CertificateRevocationList pckCrl)
        {
            // Order-agnostic, as QVL: root = self-issued, PCK by CN, intermediate = the one left.
            var root = chain.FirstOrDefault(c => c.IsSelfIssued && c.SubjectCommonName.Contains("SGX Root CA", StringComparison.Ordinal));
            var pck = chain.FirstOrDefault(c => !c.IsSelfIssued && c.SubjectCommonName.Contains("SGX PCK Certificate", StringComparison.Ordinal));
            var intermediate = chain.FirstOrDefault(c => !ReferenceEquals(c, root) && !ReferenceEquals(c, pck) && c.SubjectCommonName.Contains("CA", StringComparison.Ordinal));
            if (root is null)
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_ROOT_CA_MISSING, "quote PCK chain has no Intel SGX Root CA");
            }

            if (intermediate is null)
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_INTERMEDIATE_CA_MISSING, "quote PCK chain has no PCK Processor/Platform CA");
            }

            if (pck is null)
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_PCK_MISSING, "quote PCK chain has no PCK certificate");
            }

            if (chain.Count != 3)
            {
                throw new VerificationFailure(QvlStatus.STATUS_UNSUPPORTED_PCK_CERT_FORMAT, $"quote PCK chain has {chain.Count} certificates, 3 expected");
            }

            RequireExtensions(root, QvlStatus.STATUS_SGX_ROOT_CA_INVALID_EXTENSIONS);
            RequireExtensions(intermediate, QvlStatus.STATUS_SGX_INTERMEDIATE_CA_INVALID_EXTENSIONS);
            RequireExtensions(pck, QvlStatus.STATUS_SGX_PCK_INVALID_EXTENSIONS);
            if (!IssuedBy(root, root))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_ROOT_CA_INVALID_ISSUER, "root CA is not validly self-signed");
            }

            if (!IssuedBy(intermediate, root))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_INTERMEDIATE_CA_INVALID_ISSUER, $"'{intermediate.SubjectCommonName}' is not signed by the root CA");
            }

            if (!IssuedBy(pck, intermediate))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_PCK_INVALID_ISSUER, $"PCK certificate is not signed by '{intermediate.SubjectCommonName}'");
            }

            if (!root.PublicKey.SameAs(anchor.Point))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED, $"quote PCK chain root key is not the trust anchor ({anchor.Name})");
            }

            VerifyCrl(rootCrl, root, "root CA CRL");
            VerifyCrl(pckCrl, intermediate, "PCK CRL");
            if (rootCrl.IsRevoked(intermediate))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_INTERMEDIATE_CA_REVOKED, $"'{intermediate.SubjectCommonName}' serial {intermediate.SerialNumber} is revoked");
            }

            if (pckCrl.IsRevoked(pck))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_PCK_REVOKED, $"PCK certificate serial {pck.SerialNumber} is revoked");
            }

            CheckNotYetValid(rootCrl, "root CA CRL");
            CheckNotYetValid(pckCrl, "PCK CRL");
            return (root, intermediate, pck);
        }

        private void VerifySigningChain(SigningChain chain, CertificateRevocationList rootCrl, string what)
        {
            var root = chain.Root;
            if (root is null)
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_ROOT_CA_MISSING, $"{what} issuer chain has no Intel SGX Root CA");
            }

            if (!IssuedBy(root, root))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_ROOT_CA_INVALID_ISSUER, $"{what} issuer chain root is not validly self-signed");
            }

            var signer = chain.SignerOrNull;
            if (signer is null || chain.Count != 2)
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_TCB_SIGNING_CERT_MISSING, $"{what} issuer chain must be the TCB Signing certificate and the root ({chain.Count} certificates)");
            }

            RequireIssuedByRootAndNotRevoked(signer, root, rootCrl, TcbSigningRole, $"{what} TCB Signing certificate");

            if (!root.PublicKey.SameAs(anchor.Point))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED, $"{what} issuer chain root key is not the trust anchor ({anchor.Name})");
            }
        }

        private VerificationResult VerifyQuote(Quote quote, DcapCertificate pckCert, TcbInfo tcbInfo, EnclaveIdentity qeIdentity)
        {
            var pck = _pck = pckCert.SgxExtension is { } ext
                ? Parse(KindPckExtension, ext.Span, () => PckCertificateExtension.Parse(ext), QvlStatus.STATUS_INVALID_PCK_CERT)
                : throw new VerificationFailure(QvlStatus.STATUS_INVALID_PCK_CERT, "PCK certificate has no SGX extension");

            var isTdxQuote = quote.TeeType == TeeType.Tdx;
            if (isTdxQuote ? !(tcbInfo.Version >= 3 && tcbInfo.IsTdx) : tcbInfo.IsTdx)
            {
                throw new VerificationFailure(QvlStatus.STATUS_TCB_INFO_MISMATCH, $"TCB Info id {tcbInfo.Id} (v{tcbInfo.Version}) does not match a {quote.TeeType} quote");
            }

            if (!pck.Fmspc.AsSpan().SequenceEqual(tcbInfo.Fmspc) || !pck.PceId.AsSpan().SequenceEqual(tcbInfo.PceId))
            {
                throw new VerificationFailure(QvlStatus.STATUS_TCB_INFO_MISMATCH,
                    $"PCK FMSPC {Hex.Upper(pck.Fmspc)}/PCE-ID {Hex.Upper(pck.PceId)} differ from TCB Info {Hex.Upper(tcbInfo.Fmspc)}/{Hex.Upper(tcbInfo.PceId)}");
            }

            TdxModuleIdentity? moduleIdentity = null;
            if (isTdxQuote)
            {
                moduleIdentity = CheckTdxModule(quote, tcbInfo);
            }

            var signature = quote.SignatureData;
            var qeReport = signature.QeReport;
            if (!memo.Verify(pckCert.PublicKey, qeReport.Raw.Span, signature.QeReportSignature.Span, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, KindQeReportSignature))
            {
                throw new VerificationFailure(QvlStatus.STATUS_INVALID_QE_REPORT_SIGNATURE, "QE report signature does not verify under the PCK key");
            }

            Span<byte> binding = stackalloc byte[32];
            using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                sha.AppendData(signature.AttestationKey.Span);
                sha.AppendData(signature.QeAuthData.Span);
                sha.GetHashAndReset(binding);
            }

            if (!binding.SequenceEqual(qeReport.ReportData.Span[..32]))
            {
                throw new VerificationFailure(QvlStatus.STATUS_INVALID_QE_REPORT_DATA, "QE report data is not SHA-256(attestation key ‖ QE auth data)");
            }

            if (qeIdentity.Id != (isTdxQuote ? "TD_QE" : "QE"))
            {
                throw new VerificationFailure(QvlStatus.STATUS_QE_IDENTITY_MISMATCH, $"QE Identity id {qeIdentity.Id} does not describe the quoting enclave of a {quote.TeeType} quote");
            }

            var (qeOutcome, qeLevel) = CheckQeIdentity(qeReport, qeIdentity);

            var keyBytes = signature.AttestationKey;
            var attestationKey = Parse(KindKey, keyBytes.Span, () => new EcPublicKey(keyBytes.Span), QvlStatus.STATUS_UNSUPPORTED_QUOTE_FORMAT);
            if (!attestationKey.IsValid)
            {
                throw new VerificationFailure(QvlStatus.STATUS_UNSUPPORTED_QUOTE_FORMAT, "attestation key is not a valid P-256 point");
            }

            // The quote's own signature is never memoised.
            if (!attestationKey.Verify(quote.SignedRegion.Span, signature.Signature.Span, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            {
                throw new VerificationFailure(QvlStatus.STATUS_INVALID_QUOTE_SIGNATURE, "quote signature does not verify under the attestation key");
            }

            return EvaluateTcb(quote, pck, tcbInfo, moduleIdentity, qeOutcome, qeLevel);
        }

        private VerificationResult EvaluateTcb(Quote quote, PckCertificateExtension pck, TcbInfo tcbInfo, TdxModuleIdentity? moduleIdentity, QeTcbOutcome qeOutcome, EnclaveTcbLevel? qeLevel)
        {
            var isTdx = tcbInfo.Version >= 3 && tcbInfo.IsTdx && quote.TeeType == TeeType.Tdx;
            var teeTcbSvn = isTdx ? quote.TdReport.TeeTcbSvn.Span : default;
            var (sgxLevel, tdxLevel) = TcbEvaluation.MatchPlatformLevels(tcbInfo.TcbLevels, pck.TcbComponentSvns, pck.PceSvn, isTdx, teeTcbSvn);
            if (sgxLevel is null)
            {
                throw new VerificationFailure(QvlStatus.STATUS_TCB_NOT_SUPPORTED, "no TCB level matches the PCK certificate's TCB");
            }

            if (sgxLevel.Status is not { } sgxStatus)
            {
                throw new VerificationFailure(QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS, $"TCB level status \"{sgxLevel.TcbStatusText}\" is not recognised");
            }

            QvlStatus final;
            TcbStatus? moduleStatus = null;
            IReadOnlyList<string> advisories = sgxLevel.AdvisoryIds;
            if (!isTdx)
            {
                final = TcbEvaluation.ConvergeWithQe(sgxStatus, qeOutcome);
            }
            else
            {
                if (tdxLevel is null)
                {
                    throw new VerificationFailure(QvlStatus.STATUS_TCB_NOT_SUPPORTED, "no TDX TCB level matches TEE_TCB_SVN");
                }

                if (tdxLevel.Status is not { } tdxLevelStatus)
                {
                    throw new VerificationFailure(QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS, $"TDX TCB level status \"{tdxLevel.TcbStatusText}\" is not recognised");
                }

                advisories = tdxLevel.AdvisoryIds;
                var (module, moduleError) = TcbEvaluation.JudgeTdxModule(moduleIdentity, teeTcbSvn);
                if (moduleError is { } me)
                {
                    throw new VerificationFailure(me, "no TDX module identity level matches the module SVN");
                }

                moduleStatus = module;
                var tdxStatus = TcbEvaluation.ConvergeWithTdxModule(tdxLevelStatus, module);
                if (tdxStatus == TcbStatus.Revoked)
                {
                    final = QvlStatus.STATUS_TCB_REVOKED;
                }
                else
                {
                    if (quote.BodyType == QuoteBodyType.TdReport15)
                    {
                        var relaunch = TcbEvaluation.JudgeRelaunch(qeOutcome, sgxStatus, tdxStatus, module, tcbInfo.TcbLevels[0],
                            quote.TdReport.TeeTcbSvn2.Span, tcbInfo.TdxModuleIdentities, out var relaunchError);
                        if (relaunchError is { } re)
                        {
                            // Intel-exact quirk, copied on purpose: QVL's checkForRelaunch returns STATUS_TDX_MODULE_MISMATCH
                            // as a "TCB status", and convergeTcbStatusWithQeTcbStatus maps every status it does not know
                            // to STATUS_TCB_UNRECOGNIZED_STATUS (relaunch is only judged with an UpToDate QE).
                            throw new VerificationFailure(QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS,
                                $"TEE_TCB_SVN2 names a TDX module identity the TCB Info lacks ({re}, which Intel's merge with the QE status reports as unrecognised)");
                        }

                        tdxStatus = relaunch ?? tdxStatus;
                    }

                    final = TcbEvaluation.ConvergeWithQe(tdxStatus, qeOutcome);
                }
            }

            return new VerificationResult
            {
                Status = final,
                AdvisoryIds = final.IsVerified() || final == QvlStatus.STATUS_TCB_REVOKED ? advisories : [],
                ExpiryFindings = _expired,
                VerifiedAt = time,
                EarliestExpiration = _expirations.Count > 0 ? _expirations.Min() : null,
                Quote = quote,
                Pck = pck,
                TcbInfo = tcbInfo,
                SgxTcbLevel = sgxLevel,
                TdxTcbLevel = tdxLevel,
                TdxModuleStatus = moduleStatus,
                QeIdentityTcbLevel = qeLevel,
            };
        }

        private static TdxModuleIdentity CheckTdxModule(Quote quote, TcbInfo tcbInfo)
        {
            var td = quote.TdReport;
            var svn = td.TeeTcbSvn.Span;
            TdxModuleIdentity identity;
            if (quote.Header.Version > 3 && svn[1] > 0)
            {
                // A TCB Info without tdxModuleIdentities has an empty list in QVL, so no identity matches.
                identity = TcbEvaluation.FindModuleIdentity(tcbInfo.TdxModuleIdentities, svn[1])
                    ?? throw new VerificationFailure(QvlStatus.STATUS_TDX_MODULE_MISMATCH,
                        tcbInfo.TdxModuleIdentities is null
                            ? $"TCB Info has no tdxModuleIdentities, so no module identity TDX_{svn[1]:X2}"
                            : $"TCB Info has no module identity TDX_{svn[1]:X2}");
            }
            else
            {
                identity = tcbInfo.TdxModule!;
            }

            if (!td.MrSignerSeam.Span.SequenceEqual(identity.MrSigner))
            {
                throw new VerificationFailure(QvlStatus.STATUS_TDX_MODULE_MISMATCH, "MRSIGNERSEAM differs from the TDX module identity");
            }

            var seam = td.SeamAttributes.Span;
            if (seam.ContainsAnyExcept((byte)0) || !seam.SequenceEqual(identity.Attributes))
            {
                throw new VerificationFailure(QvlStatus.STATUS_TDX_MODULE_MISMATCH, "SEAMATTRIBUTES must be zero and equal the module identity's attributes");
            }

            return identity;
        }

        private static (QeTcbOutcome, EnclaveTcbLevel?) CheckQeIdentity(SgxReportBody report, EnclaveIdentity identity)
        {
            if (!MaskedEquals(report.MiscSelectBytes.Span, identity.MiscSelectMask, identity.MiscSelect))
            {
                throw new VerificationFailure(QvlStatus.STATUS_QE_IDENTITY_MISMATCH, "QE MISCSELECT does not match the QE Identity");
            }

            if (!MaskedEquals(report.Attributes.Span, identity.AttributesMask, identity.Attributes))
            {
                throw new VerificationFailure(QvlStatus.STATUS_QE_IDENTITY_MISMATCH, "QE ATTRIBUTES do not match the QE Identity");
            }

            if (!report.MrSigner.Span.SequenceEqual(identity.MrSigner))
            {
                throw new VerificationFailure(QvlStatus.STATUS_QE_IDENTITY_MISMATCH, "QE MRSIGNER does not match the QE Identity");
            }

            if (report.IsvProdId != identity.IsvProdId)
            {
                throw new VerificationFailure(QvlStatus.STATUS_QE_IDENTITY_MISMATCH, $"QE ISVPRODID {report.IsvProdId} differs from {identity.IsvProdId}");
            }

            return TcbEvaluation.JudgeQeIsvSvn(identity.TcbLevels, report.IsvSvn);
        }

        private static bool MaskedEquals(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> mask, ReadOnlySpan<byte> expected)
        {
            for (var i = 0; i < expected.Length; i++)
            {
                if ((actual[i] & mask[i]) != expected[i])
                {
                    return false;
                }
            }

            return true;
        }

        private void VerifyCrl(CertificateRevocationList crl, DcapCertificate issuer, string what)
        {
            if (!crl.Issuer.Span.SequenceEqual(issuer.Subject.Span))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_CRL_UNKNOWN_ISSUER, $"{what} is issued by '{crl.IssuerCommonName}', not '{issuer.SubjectCommonName}'");
            }

            if (!crl.HasRequiredExtensions)
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_CRL_INVALID_EXTENSIONS, $"{what} lacks CRL Number or Authority Key Identifier");
            }

            if (!memo.Verify(KeyOf(issuer), crl.TbsCertList.Span, crl.Signature, DSASignatureFormat.Rfc3279DerSequence, KindCrlSignature))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_CRL_INVALID_SIGNATURE, $"{what} signature does not verify");
            }
        }

        private bool IssuedBy(DcapCertificate subject, DcapCertificate issuer) =>
            subject.Issuer.Span.SequenceEqual(issuer.Subject.Span) &&
            memo.Verify(KeyOf(issuer), subject.TbsCertificate.Span, subject.Signature, DSASignatureFormat.Rfc3279DerSequence, KindChainSignature);

        /// <summary>
        /// The key to verify with: a certificate whose key is the trust anchor's point uses the anchor's key object, which
        /// is imported once per anchor (the same point, so the same verdict, without re-importing Intel's root key).
        /// </summary>
        private EcPublicKey KeyOf(DcapCertificate issuer) => issuer.PublicKey.SameAs(anchor.Point) ? anchor.Key : issuer.PublicKey;

        /// <summary>
        /// The steps a certificate directly under the root takes, in QVL's order: its extensions, its signature by the
        /// root, the root CA CRL (signed by the root, in its window), and that CRL not listing it. <paramref name="role"/>
        /// names the QVL status of each failure.
        /// </summary>
        private void RequireIssuedByRootAndNotRevoked(DcapCertificate cert, DcapCertificate root, CertificateRevocationList rootCrl, CertificateRole role, string name)
        {
            RequireExtensions(cert, role.InvalidExtensions);
            if (!IssuedBy(cert, root))
            {
                throw new VerificationFailure(role.InvalidIssuer, $"{name} is not signed by the root CA");
            }

            VerifyCrl(rootCrl, root, "root CA CRL");
            if (rootCrl.IsRevoked(cert))
            {
                throw new VerificationFailure(role.Revoked, $"{name} (serial {cert.SerialNumber}) is revoked");
            }
        }

        private static void RequireExtensions(DcapCertificate cert, QvlStatus status)
        {
            if (!cert.HasRequiredExtensions)
            {
                throw new VerificationFailure(status, $"'{cert.SubjectCommonName}' lacks one of AKI, SKI, KeyUsage, BasicConstraints, CRL Distribution Points");
            }
        }

        private void CheckNotAfter(IEnumerable<DcapCertificate> chain, string what)
        {
            foreach (var cert in chain)
            {
                Expiry(cert.NotAfter, $"{what}: '{cert.SubjectCommonName}' at or past notAfter {cert.NotAfter:yyyy-MM-ddTHH:mm:ssZ}");
            }
        }

        private void CheckNotYetValid(CertificateRevocationList crl, string what)
        {
            if (time < crl.ThisUpdate)
            {
                // QVL's CRL check (thisUpdate <= t, STATUS_SGX_CRL_EXPIRED) makes a CRL from the future an expiry finding too.
                AddFinding($"{what} not valid before thisUpdate {crl.ThisUpdate:yyyy-MM-ddTHH:mm:ssZ}");
            }
        }

        /// <summary>
        /// QvE: collateral_expiration_status = (earliest_expiration_date &lt;= expiration_check_date), so an item
        /// whose nextUpdate or notAfter is exactly the verification time counts as expired.
        /// </summary>
        private void Expiry(DateTimeOffset expiration, string finding)
        {
            _expirations.Add(expiration);
            if (expiration <= time)
            {
                AddFinding(finding);
            }
        }

        private void AddFinding(string finding)
        {
            if (!_expired.Contains(finding))
            {
                _expired.Add(finding);
            }
        }

        private CertificateRevocationList ParseCrl(byte[] bytes, string what, QvlStatus status) =>
            Parse(KindCrl, bytes, () => CertificateRevocationList.Parse(bytes), status, what);

        private SigningChain ParseChain(ReadOnlySpan<byte> pem, string what, QvlStatus status)
        {
            IReadOnlyList<byte[]> ders;
            try
            {
                ders = Pem.DecodeCertificates(pem);
            }
            catch (DcapFormatException e)
            {
                throw new VerificationFailure(status, $"{what}: {e.Message}");
            }

            // Intel's chains hold 2 or 3 certificates; refuse to parse (and cache) hundreds supplied by a quote.
            if (ders.Count > MaxChainCertificates)
            {
                throw new VerificationFailure(status, $"{what}: {ders.Count} certificates, at most {MaxChainCertificates} expected");
            }

            var certs = new DcapCertificate[ders.Count];
            for (var i = 0; i < ders.Count; i++)
            {
                var der = ders[i];
                certs[i] = Parse(KindCertificate, der, () => DcapCertificate.Parse(der), status, $"{what} certificate {i + 1}");
            }

            return new SigningChain(certs);
        }

        private T Parse<T>(byte kind, ReadOnlySpan<byte> bytes, Func<T> parse, QvlStatus status, string? what = null, QvlStatus? invalid = null)
            where T : class
        {
            try
            {
                return memo.Parse(kind, bytes, parse);
            }
            catch (Exception e) when (e is DcapFormatException or SgxFormatException)
            {
                var failed = invalid is { } i && e is DcapFormatException { IsInvalidContent: true } ? i : status;
                throw new VerificationFailure(failed, what is null ? e.Message : $"{what}: {e.Message}");
            }
        }
    }

    /// <summary>A parsed issuer chain; for collateral chains the signer is the non-root certificate.</summary>
    private sealed class SigningChain(DcapCertificate[] certificates) : IReadOnlyList<DcapCertificate>
    {
        public DcapCertificate? Root { get; } = certificates.FirstOrDefault(c => c.IsSelfIssued && c.SubjectCommonName.Contains("SGX Root CA", StringComparison.Ordinal));

        public DcapCertificate? SignerOrNull { get; } = certificates.FirstOrDefault(c => !c.IsSelfIssued && c.SubjectCommonName.Contains("SGX TCB Signing", StringComparison.Ordinal));

        public DcapCertificate Signer => SignerOrNull!;

        public int Count => certificates.Length;

        public DcapCertificate this[int index] => certificates[index];

        public IEnumerator<DcapCertificate> GetEnumerator() => ((IEnumerable<DcapCertificate>)certificates).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => certificates.GetEnumerator();
    }
}
