using System.Collections.Concurrent;
using System.Security.Cryptography;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.X509;
using Veritee.Sgx;

namespace Veritee.Dcap.Verification;

/// <summary>A collateral or certificate date and the finding it gives once the verification time reaches it.</summary>
internal readonly record struct ExpiryItem(DateTimeOffset At, string Finding);

/// <summary>
/// A collateral bundle whose quote-independent checks all passed under one trust anchor: every part parsed, the TCB
/// Info and QE Identity issuer chains lead to the anchor, are signed by it and not revoked by the root CA CRL, and
/// the TCB Info and QE Identity signatures hold. These checks read only the bundle's bytes and the anchor's point
/// (no time), so they hold for every later call with the same bytes and anchor. The memo owns a private copy of the
/// bytes it verified and recognises a caller's bundle only by comparing every byte with that copy, so a bundle
/// mutated after it was memoised is verified again from its bytes. Time-dependent findings are kept as dates and
/// judged on every call.
/// </summary>
internal sealed class CollateralMemo
{
    private const int MaxChains = 1024;
    private const int MaxQeReports = 8;

    private readonly byte[][] _parts;
    private readonly byte[] _anchorPoint;
    private readonly ConcurrentDictionary<byte[], PckChainMemo> _chains = new(ByteContentComparer.Instance);
    private readonly ConcurrentDictionary<byte[], PckChainMemo>.AlternateLookup<ReadOnlySpan<byte>> _chainLookup;

    public CollateralMemo(
        QuoteCollateral snapshot,
        ReadOnlySpan<byte> anchorPoint,
        CertificateRevocationList rootCrl,
        CertificateRevocationList pckCrl,
        TcbInfo tcbInfo,
        EnclaveIdentity qeIdentity,
        ExpiryItem[] expirations)
    {
        _parts = PartsOf(snapshot);
        _anchorPoint = anchorPoint.ToArray();
        Digest = DigestOf(_parts, _anchorPoint);
        RootCrl = rootCrl;
        PckCrl = pckCrl;
        TcbInfo = tcbInfo;
        QeIdentity = qeIdentity;
        Expirations = expirations;
        _chainLookup = _chains.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>SHA-256 of the bundle's parts (each length-prefixed) and the anchor point.</summary>
    public byte[] Digest { get; }

    public CertificateRevocationList RootCrl { get; }

    public CertificateRevocationList PckCrl { get; }

    public TcbInfo TcbInfo { get; }

    public EnclaveIdentity QeIdentity { get; }

    /// <summary>The bundle's dates in the verifier's finding order (signing chains, CRLs, TCB Info, QE Identity).</summary>
    public ExpiryItem[] Expirations { get; }

    /// <summary>A private copy of <paramref name="collateral"/>'s bytes: what is verified is what is memoised.
    /// A missing part (null) reads as no bytes, as the verifier reads it.</summary>
    public static QuoteCollateral Snapshot(QuoteCollateral collateral)
    {
        var parts = PartsOf(collateral);
        return new(parts[0].AsSpan().ToArray(), parts[1].AsSpan().ToArray(), parts[2].AsSpan().ToArray(), parts[3].AsSpan().ToArray(), parts[4].AsSpan().ToArray(), parts[5].AsSpan().ToArray(), parts[6].AsSpan().ToArray());
    }

    /// <summary>SHA-256 over the length-prefixed parts of a bundle and the anchor point.</summary>
    public static byte[] DigestOf(QuoteCollateral collateral, ReadOnlySpan<byte> anchorPoint) => DigestOf(PartsOf(collateral), anchorPoint);

    /// <summary>True when <paramref name="collateral"/> holds exactly the memoised bytes and <paramref name="anchorPoint"/> is the memo's anchor.</summary>
    public bool Matches(QuoteCollateral collateral, ReadOnlySpan<byte> anchorPoint) =>
        anchorPoint.SequenceEqual(_anchorPoint) &&
        collateral.PckCrlIssuerChain.AsSpan().SequenceEqual(_parts[0]) &&
        collateral.RootCaCrl.AsSpan().SequenceEqual(_parts[1]) &&
        collateral.PckCrl.AsSpan().SequenceEqual(_parts[2]) &&
        collateral.TcbInfoIssuerChain.AsSpan().SequenceEqual(_parts[3]) &&
        collateral.TcbInfo.AsSpan().SequenceEqual(_parts[4]) &&
        collateral.QeIdentityIssuerChain.AsSpan().SequenceEqual(_parts[5]) &&
        collateral.QeIdentity.AsSpan().SequenceEqual(_parts[6]);

    /// <summary>The PCK chain memo for a quote's exact certification-data bytes, or null.</summary>
    public PckChainMemo? FindChain(ReadOnlySpan<byte> certificationData) =>
        _chainLookup.TryGetValue(certificationData, out var chain) ? chain : null;

    /// <summary>Records that the PCK chain given by <paramref name="certificationData"/> passed every PCK chain check against this bundle.</summary>
    public PckChainMemo AddChain(ReadOnlySpan<byte> certificationData, DcapCertificate pck, ExpiryItem[] expirations)
    {
        if (_chains.Count >= MaxChains)
        {
            _chains.Clear();
        }

        var chain = new PckChainMemo(pck, expirations);
        return _chains.GetOrAdd(certificationData.ToArray(), chain);
    }

    private static byte[][] PartsOf(QuoteCollateral c) =>
        [c.PckCrlIssuerChain ?? [], c.RootCaCrl ?? [], c.PckCrl ?? [], c.TcbInfoIssuerChain ?? [], c.TcbInfo ?? [], c.QeIdentityIssuerChain ?? [], c.QeIdentity ?? []];

    private static byte[] DigestOf(byte[][] parts, ReadOnlySpan<byte> anchorPoint)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var part in parts)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, part.Length);
            sha.AppendData(length);
            sha.AppendData(part);
        }

        sha.AppendData(anchorPoint);
        return sha.GetHashAndReset();
    }

    /// <summary>
    /// A quote's PCK chain (by exact certification-data bytes) that passed every PCK chain check against the bundle
    /// that holds it: structure, extensions, signatures up to the anchor, CRL issuers and signatures, revocation.
    /// Also the per-platform results the quote-side steps reach from those bytes: the PCK certificate's SGX
    /// extension and QE reports whose signature verified under the PCK key.
    /// </summary>
    internal sealed class PckChainMemo(DcapCertificate pck, ExpiryItem[] expirations)
    {
        private QeReportMemo[] _qeReports = [];

        public DcapCertificate Pck { get; } = pck;

        /// <summary>The chain's notAfter dates in the verifier's finding order.</summary>
        public ExpiryItem[] Expirations { get; } = expirations;

        /// <summary>The PCK certificate's parsed SGX extension, once a verification has parsed it.</summary>
        public PckCertificateExtension? Extension { get; set; }

        /// <summary>The memo of a QE report and signature (exact bytes) that verified under the PCK key, or null.</summary>
        public QeReportMemo? FindQeReport(ReadOnlySpan<byte> report, ReadOnlySpan<byte> signature)
        {
            foreach (var memo in Volatile.Read(ref _qeReports))
            {
                if (memo.Report.AsSpan().SequenceEqual(report) && memo.Signature.AsSpan().SequenceEqual(signature))
                {
                    return memo;
                }
            }

            return null;
        }

        /// <summary>Records a QE report whose signature verified under the PCK key (the newest few are kept).</summary>
        public QeReportMemo AddQeReport(ReadOnlySpan<byte> report, ReadOnlySpan<byte> signature)
        {
            var memo = new QeReportMemo(report.ToArray(), signature.ToArray());
            var current = Volatile.Read(ref _qeReports);
            QeReportMemo[] next = [memo, .. current.AsSpan(0, Math.Min(current.Length, MaxQeReports - 1))];

            // A lost race only drops a memo entry; the next call verifies again.
            Interlocked.CompareExchange(ref _qeReports, next, current);
            return memo;
        }
    }

    /// <summary>A QE report (exact bytes) whose signature verified under the PCK key, and the attestation key it was seen with.</summary>
    internal sealed class QeReportMemo(byte[] report, byte[] signature)
    {
        private EcPublicKey? _attestationKey;

        public byte[] Report { get; } = report;

        public byte[] Signature { get; } = signature;

        /// <summary>The imported attestation key when it is the quote's raw x‖y <paramref name="point"/>, else null.</summary>
        public EcPublicKey? AttestationKey(ReadOnlySpan<byte> point) =>
            Volatile.Read(ref _attestationKey) is { } key && key.Point[1..].SequenceEqual(point) ? key : null;

        /// <summary>Keeps a valid attestation key seen with this QE report (the report data binds it, so there is one).</summary>
        public void KeepAttestationKey(EcPublicKey key) => Volatile.Write(ref _attestationKey, key);
    }

    /// <summary>Equality by content, for byte arrays and spans (the alternate lookup avoids copying a quote's bytes to look them up).</summary>
    private sealed class ByteContentComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly ByteContentComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => GetHashCode(obj.AsSpan());

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            // Per-process randomised; equality is always checked on the full bytes.
            var hash = default(HashCode);
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
