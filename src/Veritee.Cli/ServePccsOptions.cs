using System.CommandLine;
using Veritee.Service;

namespace Veritee.Cli;

/// <summary>The <c>serve</c> options of the PCCS surface (docs/pccs.md).</summary>
internal sealed class ServePccsOptions
{
    private static readonly ServiceOptions Defaults = new() { InstanceUrl = "http://127.0.0.1", DataDirectory = "." };

    private readonly Option<string> _mode = new("--pccs")
    {
        Description = "Serve Intel's PCCS API (/sgx/certification/v3|v4, /tdx/certification/v4) from the store: off (default), lazy (fetch misses from --collateral-service, default Intel PCS), req (fetch when a platform registers), offline (no PCS; import with 'veritee pccs put'). docs/pccs.md.",
        DefaultValueFactory = _ => "off",
    };

    private readonly Option<string?> _userTokenHash = new("--pccs-user-token-hash")
    {
        Description = "SHA-512 (128 hex) of the PCCS user token that POST /platforms needs (PCKIDRetrievalTool's user_token); default $VERITEE_PCCS_USER_TOKEN_HASH. Make one with: printf %s \"$TOKEN\" | sha512sum. Unset: that route answers 401.",
    };

    private readonly Option<string?> _adminTokenHash = new("--pccs-admin-token-hash")
    {
        Description = "SHA-512 (128 hex) of the PCCS admin token for GET /platforms, PUT /platformcollateral and refresh; default $VERITEE_PCCS_ADMIN_TOKEN_HASH. Unset: those routes answer 401.",
    };

    private readonly Option<double> _refreshHours = new("--pccs-refresh-interval")
    {
        Description = "Hours between scheduled refreshes of the cached PCCS collateral and PCK certificates (lazy and req modes); 0: never.",
        DefaultValueFactory = _ => Defaults.PccsRefreshInterval.TotalHours,
    };

    private readonly Option<int> _maxBodyKib = new("--pccs-max-body-kib")
    {
        Description = "Largest request body on PCCS routes in KiB (larger: 413 'Content too large.').",
        DefaultValueFactory = _ => (int)(Defaults.PccsMaxRequestBodyBytes / 1024),
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _mode, _userTokenHash, _adminTokenHash, _refreshHours, _maxBodyKib })
        {
            command.Options.Add(option);
        }
    }

    /// <summary><paramref name="options"/> with the parsed PCCS settings; a CliException for a bad value.</summary>
    public ServiceOptions Apply(ParseResult parse, ServiceOptions options) => options with
    {
        PccsMode = parse.GetValue(_mode)!.ToUpperInvariant() switch
        {
            "OFF" => PccsFillMode.Off,
            "LAZY" => PccsFillMode.Lazy,
            "REQ" => PccsFillMode.Req,
            "OFFLINE" => PccsFillMode.Offline,
            var other => throw new CliException($"--pccs must be off, lazy, req or offline, not '{other.ToLowerInvariant()}'"),
        },
        PccsUserTokenHash = Hash(parse.GetValue(_userTokenHash) ?? Environment.GetEnvironmentVariable("VERITEE_PCCS_USER_TOKEN_HASH"), "--pccs-user-token-hash"),
        PccsAdminTokenHash = Hash(parse.GetValue(_adminTokenHash) ?? Environment.GetEnvironmentVariable("VERITEE_PCCS_ADMIN_TOKEN_HASH"), "--pccs-admin-token-hash"),
        PccsRefreshInterval = parse.GetValue(_refreshHours) is var hours && hours >= 0 && hours <= 24 * 366
            ? TimeSpan.FromHours(hours)
            : throw new CliException($"--pccs-refresh-interval must be in 0..8784 hours, not {hours}"),
        PccsMaxRequestBodyBytes = parse.GetValue(_maxBodyKib) is var kib && kib > 0 && kib <= 1024 * 1024
            ? kib * 1024L
            : throw new CliException($"--pccs-max-body-kib must be in 1..1048576, not {kib}"),
    };

    /// <summary>A SHA-512 hex hash as sha512sum prints it (trailing " -" and whitespace allowed), or a CliException.</summary>
    private static string? Hash(string? value, string name)
    {
        if (value is null)
        {
            return null;
        }

        var hash = value.Trim().Split(' ', 2)[0];
        return hash.Length == 128 && hash.All(char.IsAsciiHexDigit)
            ? hash
            : throw new CliException($"{name} must be the 128 hex digits of a SHA-512 hash (printf %s \"$TOKEN\" | sha512sum), not {hash.Length} characters");
    }
}
