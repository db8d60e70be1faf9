using Veritee.Dcap.Collateral;

namespace Veritee.Dcap.Verification;

/// <summary>Outcome of judging the QE's ISVSVN against its identity's TCB levels.</summary>
public enum QeTcbOutcome
{
    /// <summary>The matched level is UpToDate.</summary>
    UpToDate,

    /// <summary>The matched level is OutOfDate, ConfigurationNeeded or OutOfDateConfigurationNeeded (QVL: anything but UpToDate and Revoked).</summary>
    OutOfDate,

    /// <summary>The matched level is Revoked.</summary>
    Revoked,

    /// <summary>No level has an ISVSVN at or below the QE's.</summary>
    NotSupported,
}

/// <summary>
/// The pure TCB rules of Intel QVL (TcbLevelCheck, TdxModuleCheck, TDRelaunchCheck, the QE status merge), kept
/// free of parsing and crypto so every branch can be unit-tested with hand-built inputs.
/// </summary>
public static class TcbEvaluation
{
    /// <summary>
    /// Finds the platform's SGX level and, for TDX, its TDX level: the first level (best first) whose SGX components
    /// and PCESVN are all at or below the PCK certificate's; for TDX, the first such level whose TDX components are at
    /// or below TEE_TCB_SVN, skipping bytes 0 and 1 when TEE_TCB_SVN[1] (module version) is non-zero.
    /// </summary>
    public static (TcbLevel? Sgx, TcbLevel? Tdx) MatchPlatformLevels(
        IReadOnlyList<TcbLevel> levels, ReadOnlySpan<byte> pckComponents, ushort pckPceSvn, bool isTdx, ReadOnlySpan<byte> teeTcbSvn)
    {
        TcbLevel? sgxLevel = null;
        foreach (var level in levels)
        {
            if (!AllAtLeast(pckComponents, level.SgxComponents, 0) || pckPceSvn < level.PceSvn)
            {
                continue;
            }

            if (!isTdx)
            {
                return (level, null);
            }

            sgxLevel ??= level;
            var start = teeTcbSvn[1] > 0 ? 2 : 0;
            if (level.TdxComponents is { } tdx && AllAtLeast(teeTcbSvn, tdx, start))
            {
                return (sgxLevel, level);
            }
        }

        return (sgxLevel, null);
    }

    /// <summary>First QE identity level whose ISVSVN is at or below the QE's (levels in JSON order).</summary>
    public static (QeTcbOutcome Outcome, EnclaveTcbLevel? Level) JudgeQeIsvSvn(IReadOnlyList<EnclaveTcbLevel> levels, ushort isvSvn)
    {
        foreach (var level in levels)
        {
            if (level.IsvSvn <= isvSvn)
            {
                var outcome = level.Status switch
                {
                    TcbStatus.UpToDate => QeTcbOutcome.UpToDate,
                    TcbStatus.Revoked => QeTcbOutcome.Revoked,
                    _ => QeTcbOutcome.OutOfDate,
                };
                return (outcome, level);
            }
        }

        return (QeTcbOutcome.NotSupported, null);
    }

    /// <summary>
    /// TDX module TCB status: OK (null) when TEE_TCB_SVN[1] is 0; otherwise the first level of the module identity
    /// with ISVSVN at or below TEE_TCB_SVN[0]. Returns <see cref="QvlStatus.STATUS_TCB_NOT_SUPPORTED"/> as error when none.
    /// </summary>
    public static (TcbStatus? Status, QvlStatus? Error) JudgeTdxModule(TdxModuleIdentity? identity, ReadOnlySpan<byte> teeTcbSvn)
    {
        if (teeTcbSvn[1] == 0 || identity is null)
        {
            return (null, null);
        }

        foreach (var level in identity.TcbLevels)
        {
            if (teeTcbSvn[0] >= level.IsvSvn)
            {
                return level.Status is TcbStatus.UpToDate or TcbStatus.OutOfDate or TcbStatus.Revoked
                    ? (level.Status, null)
                    : (null, QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS);
            }
        }

        return (null, QvlStatus.STATUS_TCB_NOT_SUPPORTED);
    }

    /// <summary>Intel's <c>convergeTcbStatusWithTdxModuleStatus</c>.</summary>
    public static TcbStatus ConvergeWithTdxModule(TcbStatus tdxLevelStatus, TcbStatus? moduleStatus) => moduleStatus switch
    {
        TcbStatus.Revoked => TcbStatus.Revoked,
        TcbStatus.OutOfDate => tdxLevelStatus switch
        {
            TcbStatus.UpToDate or TcbStatus.SWHardeningNeeded => TcbStatus.OutOfDate,
            TcbStatus.ConfigurationNeeded or TcbStatus.ConfigurationAndSWHardeningNeeded => TcbStatus.OutOfDateConfigurationNeeded,
            _ => tdxLevelStatus,
        },
        _ => tdxLevelStatus,
    };

    /// <summary>Intel's <c>convergeTcbStatusWithQeTcbStatus</c>, returning the final QVL status.</summary>
    public static QvlStatus ConvergeWithQe(TcbStatus platform, QeTcbOutcome qe) => qe switch
    {
        QeTcbOutcome.Revoked => QvlStatus.STATUS_TCB_REVOKED,
        QeTcbOutcome.NotSupported => QvlStatus.STATUS_TCB_NOT_SUPPORTED,
        QeTcbOutcome.OutOfDate => platform switch
        {
            TcbStatus.UpToDate or TcbStatus.SWHardeningNeeded => QvlStatus.STATUS_TCB_OUT_OF_DATE,
            TcbStatus.ConfigurationNeeded or TcbStatus.ConfigurationAndSWHardeningNeeded => QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
            _ => platform.ToQvlStatus(),
        },
        _ => platform.ToQvlStatus(),
    };

    /// <summary>
    /// TD relaunch rule (TD 1.5 bodies only): when the QE is fine, the SGX level acceptable and the TDX level out of
    /// date only because of the module, and TEE_TCB_SVN2 shows the loaded module has already been updated, the
    /// outcome becomes TDRelaunchAdvised (or …ConfigurationNeeded). Returns null when the rule does not apply.
    /// </summary>
    public static TcbStatus? JudgeRelaunch(
        QeTcbOutcome qe, TcbStatus sgxStatus, TcbStatus tdxStatus, TcbStatus? moduleStatus,
        TcbLevel latestLevel, ReadOnlySpan<byte> teeTcbSvn2, IReadOnlyList<TdxModuleIdentity>? identities, out QvlStatus? error)
    {
        error = null;
        if (qe != QeTcbOutcome.UpToDate ||
            sgxStatus is not (TcbStatus.UpToDate or TcbStatus.SWHardeningNeeded or TcbStatus.ConfigurationNeeded or TcbStatus.ConfigurationAndSWHardeningNeeded) ||
            tdxStatus is not (TcbStatus.OutOfDate or TcbStatus.OutOfDateConfigurationNeeded) ||
            moduleStatus != TcbStatus.OutOfDate || latestLevel.TdxComponents is not { } latestTdx)
        {
            return null;
        }

        bool relaunch;
        if (teeTcbSvn2[1] == 0)
        {
            relaunch = teeTcbSvn2[0] >= latestTdx[0] && teeTcbSvn2[2] >= latestTdx[2];
        }
        else
        {
            var identity = FindModuleIdentity(identities, teeTcbSvn2[1]);
            if (identity is null)
            {
                error = QvlStatus.STATUS_TDX_MODULE_MISMATCH;
                return null;
            }

            relaunch = teeTcbSvn2[0] >= identity.TcbLevels[0].IsvSvn && teeTcbSvn2[2] >= latestTdx[2];
        }

        if (!relaunch)
        {
            return null;
        }

        var configuration = IsConfiguration(sgxStatus) || IsConfiguration(tdxStatus);
        return configuration ? TcbStatus.TDRelaunchAdvisedConfigurationNeeded : TcbStatus.TDRelaunchAdvised;
    }

    /// <summary>The module identity <c>TDX_%02X</c> for a module major version, matched case-insensitively.</summary>
    public static TdxModuleIdentity? FindModuleIdentity(IReadOnlyList<TdxModuleIdentity>? identities, byte moduleVersion)
    {
        if (identities is null)
        {
            return null;
        }

        var id = "TDX_" + moduleVersion.ToString("X2", System.Globalization.CultureInfo.InvariantCulture);
        return identities.FirstOrDefault(i => string.Equals(i.Id, id, StringComparison.OrdinalIgnoreCase));
    }

    private static bool IsConfiguration(TcbStatus s) =>
        s is TcbStatus.ConfigurationNeeded or TcbStatus.ConfigurationAndSWHardeningNeeded or TcbStatus.OutOfDateConfigurationNeeded;

    private static bool AllAtLeast(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> required, int start)
    {
        for (var i = start; i < required.Length; i++)
        {
            if (actual[i] < required[i])
            {
                return false;
            }
        }

        return true;
    }
}
