namespace Veritee.Dcap;

/// <summary>TCB level statuses as TCB Info and Enclave Identity spell them, plus TD relaunch outcomes.</summary>
public enum TcbStatus
{
    /// <summary><c>UpToDate</c>.</summary>
    UpToDate,

    /// <summary><c>SWHardeningNeeded</c>.</summary>
    SWHardeningNeeded,

    /// <summary><c>ConfigurationNeeded</c>.</summary>
    ConfigurationNeeded,

    /// <summary><c>ConfigurationAndSWHardeningNeeded</c>.</summary>
    ConfigurationAndSWHardeningNeeded,

    /// <summary><c>OutOfDate</c>.</summary>
    OutOfDate,

    /// <summary><c>OutOfDateConfigurationNeeded</c>.</summary>
    OutOfDateConfigurationNeeded,

    /// <summary><c>Revoked</c>.</summary>
    Revoked,

    /// <summary><c>TDRelaunchAdvised</c> (a verification outcome, never a TCB Info value).</summary>
    TDRelaunchAdvised,

    /// <summary><c>TDRelaunchAdvisedConfigurationNeeded</c> (a verification outcome, never a TCB Info value).</summary>
    TDRelaunchAdvisedConfigurationNeeded,
}

/// <summary>Conversions between TCB statuses, their strings and QVL statuses.</summary>
public static class TcbStatuses
{
    /// <summary>Parses a TCB Info / Enclave Identity <c>tcbStatus</c> string (exact spelling); null when unknown.</summary>
    public static TcbStatus? Parse(string? text) => text switch
    {
        "UpToDate" => TcbStatus.UpToDate,
        "SWHardeningNeeded" => TcbStatus.SWHardeningNeeded,
        "ConfigurationNeeded" => TcbStatus.ConfigurationNeeded,
        "ConfigurationAndSWHardeningNeeded" => TcbStatus.ConfigurationAndSWHardeningNeeded,
        "OutOfDate" => TcbStatus.OutOfDate,
        "OutOfDateConfigurationNeeded" => TcbStatus.OutOfDateConfigurationNeeded,
        "Revoked" => TcbStatus.Revoked,
        _ => null,
    };

    /// <summary>The string Intel uses.</summary>
    public static string ToWireString(this TcbStatus status) => status.ToString();

    /// <summary>The QVL status that reports this TCB status.</summary>
    public static QvlStatus ToQvlStatus(this TcbStatus status) => status switch
    {
        TcbStatus.UpToDate => QvlStatus.STATUS_OK,
        TcbStatus.SWHardeningNeeded => QvlStatus.STATUS_TCB_SW_HARDENING_NEEDED,
        TcbStatus.ConfigurationNeeded => QvlStatus.STATUS_TCB_CONFIGURATION_NEEDED,
        TcbStatus.ConfigurationAndSWHardeningNeeded => QvlStatus.STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
        TcbStatus.OutOfDate => QvlStatus.STATUS_TCB_OUT_OF_DATE,
        TcbStatus.OutOfDateConfigurationNeeded => QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
        TcbStatus.Revoked => QvlStatus.STATUS_TCB_REVOKED,
        TcbStatus.TDRelaunchAdvised => QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED,
        TcbStatus.TDRelaunchAdvisedConfigurationNeeded => QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
        _ => QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS,
    };

    /// <summary>The TCB status a TCB-grading QVL status reports; null for any other status.</summary>
    public static TcbStatus? FromQvlStatus(QvlStatus status) => status switch
    {
        QvlStatus.STATUS_OK => TcbStatus.UpToDate,
        QvlStatus.STATUS_TCB_SW_HARDENING_NEEDED => TcbStatus.SWHardeningNeeded,
        QvlStatus.STATUS_TCB_CONFIGURATION_NEEDED => TcbStatus.ConfigurationNeeded,
        QvlStatus.STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED => TcbStatus.ConfigurationAndSWHardeningNeeded,
        QvlStatus.STATUS_TCB_OUT_OF_DATE => TcbStatus.OutOfDate,
        QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED => TcbStatus.OutOfDateConfigurationNeeded,
        QvlStatus.STATUS_TCB_REVOKED => TcbStatus.Revoked,
        QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED => TcbStatus.TDRelaunchAdvised,
        QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED => TcbStatus.TDRelaunchAdvisedConfigurationNeeded,
        _ => null,
    };
}
