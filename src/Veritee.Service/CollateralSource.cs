using Veritee.Dcap.Collateral;

namespace Veritee.Service;

/// <summary>
/// Collateral from a folder: either one bundle (the layout <c>veritee verify</c> reads) or one bundle per platform in
/// sub-folders named by FMSPC (hex, either case). Loaded bundles are kept until their files change.
/// </summary>
public sealed class FolderCollateralSource(string directory)
{
    private readonly Dictionary<string, (DateTime Stamp, QuoteCollateral Collateral)> _cache = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>The folder.</summary>
    public string Directory { get; } = directory;

    /// <summary>The bundle for <paramref name="fmspc"/>, or null when the folder has none.</summary>
    public QuoteCollateral? Find(ReadOnlySpan<byte> fmspc)
    {
        var hex = Convert.ToHexString(fmspc);
        string[] candidates = [Path.Combine(Directory, hex), Path.Combine(Directory, hex.ToLowerInvariant()), Directory];
        foreach (var folder in candidates)
        {
            var tcbInfo = Path.Combine(folder, "tcb_info.json");
            if (!File.Exists(tcbInfo))
            {
                continue;
            }

            var stamp = System.IO.Directory.GetLastWriteTimeUtc(folder);
            var fileStamp = File.GetLastWriteTimeUtc(tcbInfo);
            var latest = stamp > fileStamp ? stamp : fileStamp;
            lock (_lock)
            {
                if (_cache.TryGetValue(folder, out var hit) && hit.Stamp == latest)
                {
                    return hit.Collateral;
                }
            }

            var collateral = QuoteCollateral.Load(folder);
            lock (_lock)
            {
                _cache[folder] = (latest, collateral);
            }

            return collateral;
        }

        return null;
    }
}
