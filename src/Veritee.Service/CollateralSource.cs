using System.Text.Json;
using Veritee.Dcap.Collateral;
using Veritee.Sgx;

namespace Veritee.Service;

/// <summary>
/// Collateral from a folder: either one bundle (the layout <c>veritee verify</c> reads) or one bundle per platform in
/// sub-folders named by FMSPC (hex, either case). A platform with both SGX and TDX collateral (one FMSPC, two TCB
/// Infos) keeps them in <c>&lt;FMSPC&gt;/sgx/</c> and <c>&lt;FMSPC&gt;/tdx/</c>. A quote gets the first of
/// <c>&lt;FMSPC&gt;/sgx|tdx</c>, <c>&lt;FMSPC&gt;</c>, the folder itself whose TCB Info describes its TEE (id
/// <c>TDX</c> for TD quotes, <c>SGX</c> or none for SGX quotes); when none does, the first bundle found, which the
/// verifier then refuses as a TCB Info mismatch. Loaded bundles are kept until their files change.
/// </summary>
public sealed class FolderCollateralSource(string directory)
{
    private readonly Dictionary<string, (DateTime Stamp, QuoteCollateral Collateral, bool IsTdx)> _cache = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>The folder.</summary>
    public string Directory { get; } = directory;

    /// <summary>The SGX bundle for <paramref name="fmspc"/>, or null when the folder has none.</summary>
    public QuoteCollateral? Find(ReadOnlySpan<byte> fmspc) => Find(fmspc, TeeType.Sgx);

    /// <summary>The bundle for <paramref name="fmspc"/> and <paramref name="tee"/>, or null when the folder has none.</summary>
    public QuoteCollateral? Find(ReadOnlySpan<byte> fmspc, TeeType tee)
    {
        var hex = Convert.ToHexString(fmspc);
        var teeFolder = tee == TeeType.Tdx ? "tdx" : "sgx";
        string[] candidates =
        [
            Path.Combine(Directory, hex, teeFolder), Path.Combine(Directory, hex.ToLowerInvariant(), teeFolder),
            Path.Combine(Directory, hex), Path.Combine(Directory, hex.ToLowerInvariant()), Directory,
        ];
        QuoteCollateral? fallback = null;
        foreach (var folder in candidates)
        {
            if (Load(folder) is not { } bundle)
            {
                continue;
            }

            if (bundle.IsTdx == (tee == TeeType.Tdx))
            {
                return bundle.Collateral;
            }

            fallback ??= bundle.Collateral;
        }

        return fallback;
    }

    private (QuoteCollateral Collateral, bool IsTdx)? Load(string folder)
    {
        var tcbInfo = Path.Combine(folder, "tcb_info.json");
        if (!File.Exists(tcbInfo))
        {
            return null;
        }

        var stamp = System.IO.Directory.GetLastWriteTimeUtc(folder);
        var fileStamp = File.GetLastWriteTimeUtc(tcbInfo);
        var latest = stamp > fileStamp ? stamp : fileStamp;
        lock (_lock)
        {
            if (_cache.TryGetValue(folder, out var hit) && hit.Stamp == latest)
            {
                return (hit.Collateral, hit.IsTdx);
            }
        }

        var collateral = QuoteCollateral.Load(folder);
        var isTdx = DescribesTdx(collateral.TcbInfo);
        lock (_lock)
        {
            _cache[folder] = (latest, collateral, isTdx);
        }

        return (collateral, isTdx);
    }

    /// <summary>True when the TCB Info's id is <c>TDX</c> (unparsable JSON counts as SGX; the verifier judges it).</summary>
    private static bool DescribesTdx(byte[] tcbInfo)
    {
        try
        {
            using var document = JsonDocument.Parse(tcbInfo);
            return document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("tcbInfo", out var body) && body.ValueKind == JsonValueKind.Object &&
                body.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String && id.GetString() == "TDX";
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
