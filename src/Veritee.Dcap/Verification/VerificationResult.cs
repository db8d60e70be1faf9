using Veritee.Dcap.Collateral;
using Veritee.Sgx;

namespace Veritee.Dcap.Verification;

/// <summary>
/// The verdict on one quote. <see cref="Status"/> is Intel QVL's status; <see cref="IsVerified"/> is true for every
/// status that grades the TCB (the quote itself verified). Expiry is reported beside the verdict, as Intel does.
/// </summary>
public sealed record VerificationResult
{
    /// <summary>Intel QVL status.</summary>
    public required QvlStatus Status { get; init; }

    /// <summary>What failed, in words; null when verified.</summary>
    public string? Detail { get; init; }

    /// <summary>The final TCB status when the status grades the TCB, else null.</summary>
    public TcbStatus? TcbStatus => TcbStatuses.FromQvlStatus(Status);

    /// <summary>True when the quote, its certification and collateral verified (any TCB status).</summary>
    public bool IsVerified => Status.IsVerified();

    /// <summary>Advisory IDs of the matched TCB level (the TDX level for TDX), in TCB Info order.</summary>
    public IReadOnlyList<string> AdvisoryIds { get; init; } = [];

    /// <summary>True when some collateral or certificate is outside its validity at the verification time.</summary>
    public bool CollateralExpired => ExpiryFindings.Count > 0;

    /// <summary>Which items were outside their validity at the verification time.</summary>
    public IReadOnlyList<string> ExpiryFindings { get; init; } = [];

    /// <summary>The time the verdict applies to.</summary>
    public DateTimeOffset VerifiedAt { get; init; }

    /// <summary>Earliest expiration over all certificates, CRLs, TCB Info and QE Identity, when collateral parsed.</summary>
    public DateTimeOffset? EarliestExpiration { get; init; }

    /// <summary>The parsed quote, when it parsed.</summary>
    public Quote? Quote { get; init; }

    /// <summary>The PCK certificate's SGX extension, when it parsed.</summary>
    public PckCertificateExtension? Pck { get; init; }

    /// <summary>The matched SGX TCB level.</summary>
    public TcbLevel? SgxTcbLevel { get; init; }

    /// <summary>The matched TDX TCB level (TDX only).</summary>
    public TcbLevel? TdxTcbLevel { get; init; }

    /// <summary>The TDX module TCB status (TDX with a module version &gt; 0).</summary>
    public TcbStatus? TdxModuleStatus { get; init; }

    /// <summary>The QE identity level matched by the QE's ISVSVN.</summary>
    public EnclaveTcbLevel? QeIdentityTcbLevel { get; init; }

    /// <summary>TCB Info used, when it parsed.</summary>
    public TcbInfo? TcbInfo { get; init; }
}
