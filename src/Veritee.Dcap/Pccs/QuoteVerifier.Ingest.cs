using System.Security.Cryptography;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.X509;

namespace Veritee.Dcap.Verification;

/// <summary>
/// Single-item checks for a collateral cache (<see cref="Pccs.PccsIngest"/>): the same chain, CRL and signature steps
/// and QVL statuses as quote verification, applied to one TCB Info, identity, CRL or PCK certificate at a time.
/// </summary>
public sealed partial class QuoteVerifier
{
    /// <summary>Which signed JSON an ingest check is about.</summary>
    internal enum SignedItem
    {
        TcbInfo,
        EnclaveIdentity,
    }

    /// <summary>A TCB Info or enclave identity: its chain to the anchor (root CRL included) and its signature.</summary>
    internal static VerificationResult VerifySignedItem(SignedItem kind, byte[] json, byte[] chainPem, byte[] rootCrl, TrustAnchor anchor, DateTimeOffset time) =>
        Ingest(anchor, time, run => run.ExecuteSignedItem(kind, json, chainPem, rootCrl));

    /// <summary>A PCK CRL: its issuer chain (CA under the anchor, not revoked by the root CRL) and its signature.</summary>
    internal static VerificationResult VerifyPckCrl(byte[] pckCrl, byte[] chainPem, byte[] rootCrl, TrustAnchor anchor, DateTimeOffset time) =>
        Ingest(anchor, time, run => run.ExecutePckCrl(pckCrl, chainPem, rootCrl));

    /// <summary>A root CA CRL: signed by the root (taken from <paramref name="chainPem"/>) whose key is the anchor.</summary>
    internal static VerificationResult VerifyRootCrl(byte[] rootCrl, byte[] chainPem, TrustAnchor anchor, DateTimeOffset time) =>
        Ingest(anchor, time, run => run.ExecuteRootCrl(rootCrl, chainPem));

    /// <summary>A PCK certificate under its issuer chain, as the quote path checks a quote's chain (CRLs, revocation included).</summary>
    internal static VerificationResult VerifyPckCertificate(byte[] leafPem, byte[] chainPem, byte[] rootCrl, byte[] pckCrl, TrustAnchor anchor, DateTimeOffset time) =>
        Ingest(anchor, time, run => run.ExecutePckCertificate(leafPem, chainPem, rootCrl, pckCrl));

    private static VerificationResult Ingest(TrustAnchor anchor, DateTimeOffset time, Func<Run, VerificationResult> check)
    {
        ArgumentNullException.ThrowIfNull(anchor);
        var cache = new VerificationCache(64);
        var run = new Run(cache, anchor, time);
        try
        {
            return check(run);
        }
        catch (VerificationFailure failure)
        {
            return run.Fail(failure.Status, failure.Message);
        }
        finally
        {
            cache.ReleaseKeys();
        }
    }

    private sealed partial class Run
    {
        public VerificationResult ExecuteSignedItem(SignedItem kind, byte[] json, byte[] chainPem, byte[] rootCrlBytes)
        {
            var rootCrl = ParseCrl(rootCrlBytes, "root CA CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            if (kind == SignedItem.TcbInfo)
            {
                var tcbInfo = _tcbInfo = Parse(KindTcbInfo, json, () => TcbInfo.Parse(json),
                    QvlStatus.STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT, invalid: QvlStatus.STATUS_SGX_TCB_INFO_INVALID);
                var chain = ParseChain(chainPem, "TCB Info issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);
                VerifySigningChain(chain, rootCrl, "TCB Info");
                if (!memo.Verify(chain.Signer.PublicKey, tcbInfo.SignedBody.Span, tcbInfo.Signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, KindJsonSignature))
                {
                    throw new VerificationFailure(QvlStatus.STATUS_TCB_INFO_INVALID_SIGNATURE, "TCB Info signature does not verify under the TCB Signing key");
                }

                CheckNotAfter(chain, "TCB Info signing chain");
                Expiry(tcbInfo.NextUpdate, "TCB Info at or past nextUpdate");
            }
            else
            {
                var identity = Parse(KindQeIdentity, json, () => EnclaveIdentity.Parse(json),
                    QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT, invalid: QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID);
                var chain = ParseChain(chainPem, "enclave identity issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);
                VerifySigningChain(chain, rootCrl, "enclave identity");
                if (!memo.Verify(chain.Signer.PublicKey, identity.SignedBody.Span, identity.Signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, KindJsonSignature))
                {
                    throw new VerificationFailure(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE, "enclave identity signature does not verify under the TCB Signing key");
                }

                CheckNotAfter(chain, "enclave identity signing chain");
                Expiry(identity.NextUpdate, "enclave identity at or past nextUpdate");
            }

            return Ok();
        }

        public VerificationResult ExecutePckCrl(byte[] pckCrlBytes, byte[] chainPem, byte[] rootCrlBytes)
        {
            var rootCrl = ParseCrl(rootCrlBytes, "root CA CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            var pckCrl = ParseCrl(pckCrlBytes, "PCK CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            var chain = ParseChain(chainPem, "PCK CRL issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);
            var (root, ca) = RootAndCa(chain, "PCK CRL issuer chain");
            RequireIssuedByRootAndNotRevoked(ca, root, rootCrl, IntermediateCaRole, $"'{ca.SubjectCommonName}'");
            VerifyCrl(pckCrl, ca, "PCK CRL");
            CheckNotAfter(chain, "PCK CRL issuer chain");
            Expiry(pckCrl.NextUpdate, $"PCK CRL at or past nextUpdate {pckCrl.NextUpdate:yyyy-MM-ddTHH:mm:ssZ}");
            return Ok();
        }

        public VerificationResult ExecuteRootCrl(byte[] rootCrlBytes, byte[] chainPem)
        {
            var rootCrl = ParseCrl(rootCrlBytes, "root CA CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            var chain = ParseChain(chainPem, "issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);
            var root = chain.Root;
            if (root is null || !root.PublicKey.SameAs(anchor.Point) || !IssuedBy(root, root))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_ROOT_CA_UNTRUSTED, $"issuer chain has no validly self-signed root with the trust anchor's key ({anchor.Name})");
            }

            VerifyCrl(rootCrl, root, "root CA CRL");
            Expiry(rootCrl.NextUpdate, $"root CA CRL at or past nextUpdate {rootCrl.NextUpdate:yyyy-MM-ddTHH:mm:ssZ}");
            return Ok();
        }

        public VerificationResult ExecutePckCertificate(byte[] leafPem, byte[] chainPem, byte[] rootCrlBytes, byte[] pckCrlBytes)
        {
            var rootCrl = ParseCrl(rootCrlBytes, "root CA CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            var pckCrl = ParseCrl(pckCrlBytes, "PCK CRL", QvlStatus.STATUS_SGX_CRL_UNSUPPORTED_FORMAT);
            var leaf = ParseChain(leafPem, "PCK certificate", QvlStatus.STATUS_UNSUPPORTED_PCK_CERT_FORMAT);
            if (leaf.Count != 1)
            {
                throw new VerificationFailure(QvlStatus.STATUS_UNSUPPORTED_PCK_CERT_FORMAT, $"PCK certificate: {leaf.Count} PEM certificates, 1 expected");
            }

            var issuers = ParseChain(chainPem, "PCK issuer chain", QvlStatus.STATUS_UNSUPPORTED_CERT_FORMAT);
            var chain = new List<DcapCertificate> { leaf[0] };
            chain.AddRange(issuers);
            VerifyPckChain(chain, rootCrl, pckCrl);
            CheckNotAfter(chain, "PCK chain");
            return Ok();
        }

        private (DcapCertificate Root, DcapCertificate Ca) RootAndCa(SigningChain chain, string what)
        {
            var root = chain.Root;
            var ca = chain.FirstOrDefault(c => !c.IsSelfIssued && c.SubjectCommonName.Contains("CA", StringComparison.Ordinal));
            if (root is null || !root.PublicKey.SameAs(anchor.Point) || !IssuedBy(root, root))
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED, $"{what} has no validly self-signed root with the trust anchor's key ({anchor.Name})");
            }

            if (ca is null || chain.Count != 2)
            {
                throw new VerificationFailure(QvlStatus.STATUS_SGX_INTERMEDIATE_CA_MISSING, $"{what} must be the PCK Processor/Platform CA and the root ({chain.Count} certificates)");
            }

            return (root, ca);
        }

        private VerificationResult Ok() => new()
        {
            Status = QvlStatus.STATUS_OK,
            ExpiryFindings = _expired,
            VerifiedAt = time,
            EarliestExpiration = _expirations.Count > 0 ? _expirations.Min() : null,
            TcbInfo = _tcbInfo,
        };
    }
}
