using System.Globalization;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>A quote and where it came from.</summary>
public sealed record QuoteEvidence(byte[] Quote, TeeType TeeType, string Source);

/// <summary>Something that turns 64 bytes of report data into a quote of the enclave or TD it runs in.</summary>
public interface IQuoteSource
{
    /// <summary>A short name for messages (<c>gramine</c>, <c>configfs-tsm</c>, <c>simulated</c>).</summary>
    string Name { get; }

    /// <summary>Where the source looks (a path), for messages.</summary>
    string Location { get; }

    /// <summary>True when the source's interface is present on this machine.</summary>
    bool IsAvailable { get; }

    /// <summary>A quote whose report data is <paramref name="reportData"/> (exactly 64 bytes). Throws <see cref="QuoteSourceException"/>.</summary>
    QuoteEvidence GetQuote(ReadOnlySpan<byte> reportData);
}

/// <summary>
/// Gramine's pseudo-files under <c>/dev/attestation</c>: write the report data to <c>user_report_data</c>, read
/// the DCAP quote from <c>quote</c>; <c>attestation_type</c> must say <c>dcap</c>. The root is injectable for tests.
/// </summary>
public sealed class GramineQuoteSource(string root = GramineQuoteSource.DefaultRoot) : IQuoteSource
{
    /// <summary>Where Gramine mounts its attestation interface.</summary>
    public const string DefaultRoot = "/dev/attestation";

    /// <inheritdoc />
    public string Name => "gramine";

    /// <inheritdoc />
    public string Location => root;

    /// <inheritdoc />
    public bool IsAvailable => File.Exists(Path.Combine(root, "attestation_type"));

    /// <inheritdoc />
    public QuoteEvidence GetQuote(ReadOnlySpan<byte> reportData)
    {
        QuoteSources.RequireReportData(reportData);
        var typePath = Path.Combine(root, "attestation_type");
        var type = QuoteSources.Try(() => File.ReadAllText(typePath), "reading " + typePath).Trim('\0', ' ', '\n', '\r', '\t');
        if (type != "dcap")
        {
            throw new QuoteSourceException(type == "none"
                ? $"Gramine reports attestation type 'none' ({typePath}): set sgx.remote_attestation = \"dcap\" in the manifest"
                : $"Gramine attestation type '{type}' ({typePath}) is not supported; only 'dcap' quotes can be verified");
        }

        var data = reportData.ToArray();
        QuoteSources.Try(() => File.WriteAllBytes(Path.Combine(root, "user_report_data"), data), "writing " + Path.Combine(root, "user_report_data"));
        var quotePath = Path.Combine(root, "quote");
        var quote = QuoteSources.Try(() => File.ReadAllBytes(quotePath), "reading " + quotePath);
        return QuoteSources.Check(quote, data, TeeType.Sgx, Name, quotePath);
    }
}

/// <summary>
/// Linux configfs-tsm (<c>/sys/kernel/config/tsm/report</c>, kernel 6.7+): create a report entry, write the report
/// data to <c>inblob</c>, read the quote from <c>outblob</c>, checking <c>provider</c> (<c>tdx_guest</c>) and that
/// <c>generation</c> did not move (another writer). The root and entry name are injectable for tests.
/// </summary>
public sealed class ConfigfsTsmQuoteSource(string root = ConfigfsTsmQuoteSource.DefaultRoot, string? entryName = null) : IQuoteSource
{
    /// <summary>Where configfs-tsm report entries are created.</summary>
    public const string DefaultRoot = "/sys/kernel/config/tsm/report";

    /// <inheritdoc />
    public string Name => "configfs-tsm";

    /// <inheritdoc />
    public string Location => root;

    /// <inheritdoc />
    public bool IsAvailable => Directory.Exists(root);

    /// <inheritdoc />
    public QuoteEvidence GetQuote(ReadOnlySpan<byte> reportData)
    {
        QuoteSources.RequireReportData(reportData);
        if (!IsAvailable)
        {
            throw new QuoteSourceException($"configfs-tsm is not available: {root} does not exist (needs Linux 6.7+ in a TDX guest with configfs mounted)");
        }

        var entry = Path.Combine(root, entryName ?? "veritee-" + Guid.NewGuid().ToString("N"));
        QuoteSources.Try(() => Directory.CreateDirectory(entry), "creating report entry " + entry);
        try
        {
            var data = reportData.ToArray();
            QuoteSources.Try(() => File.WriteAllBytes(Path.Combine(entry, "inblob"), data), "writing " + Path.Combine(entry, "inblob"));
            var provider = ReadText(entry, "provider");
            if (provider != "tdx_guest")
            {
                throw new QuoteSourceException($"configfs-tsm provider '{provider}' ({Path.Combine(entry, "provider")}) is not supported; Veritee verifies Intel TDX quotes (tdx_guest)");
            }

            var before = Generation(entry);
            var quote = QuoteSources.Try(() => File.ReadAllBytes(Path.Combine(entry, "outblob")), "reading " + Path.Combine(entry, "outblob"));
            if (Generation(entry) != before)
            {
                throw new QuoteSourceException($"configfs-tsm entry {entry} was written by someone else while the quote was read; retry");
            }

            return QuoteSources.Check(quote, data, TeeType.Tdx, Name, Path.Combine(entry, "outblob"));
        }
        finally
        {
            // Best effort: configfs removes the attribute files with the directory; a left-over entry is harmless.
            try
            {
                Directory.Delete(entry);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static string ReadText(string entry, string name)
    {
        var path = Path.Combine(entry, name);
        return QuoteSources.Try(() => File.ReadAllText(path), "reading " + path).Trim('\0', ' ', '\n', '\r', '\t');
    }

    private static long Generation(string entry)
    {
        var text = ReadText(entry, "generation");
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new QuoteSourceException($"configfs-tsm {Path.Combine(entry, "generation")} holds '{text}', not a number");
    }
}

/// <summary>The simulated SGX platform as a quote source (only when explicitly asked for).</summary>
public sealed class SimulatedQuoteSource(SimulatedPlatform platform, SimulatedEnclave enclave, int quoteVersion = 3) : IQuoteSource
{
    /// <inheritdoc />
    public string Name => "simulated";

    /// <inheritdoc />
    public string Location => platform.Folder;

    /// <inheritdoc />
    public bool IsAvailable => true;

    /// <inheritdoc />
    public QuoteEvidence GetQuote(ReadOnlySpan<byte> reportData)
    {
        QuoteSources.RequireReportData(reportData);
        return new QuoteEvidence(platform.Quote(enclave, reportData, quoteVersion), TeeType.Sgx, Name);
    }
}

/// <summary>Chooses a quote source: hardware when present, the simulation only when asked for; never a silent fallback.</summary>
public static class QuoteSources
{
    /// <summary>The hardware sources at their real locations, in preference order.</summary>
    public static IReadOnlyList<IQuoteSource> Hardware() => [new GramineQuoteSource(), new ConfigfsTsmQuoteSource()];

    /// <summary>
    /// With <paramref name="simulate"/>, the simulated source; else the first available of <paramref name="hardware"/>
    /// (default <see cref="Hardware"/>). No hardware and no <paramref name="simulate"/> is an error naming where it looked.
    /// </summary>
    public static IQuoteSource Select(bool simulate, Func<IQuoteSource> simulated, IEnumerable<IQuoteSource>? hardware = null)
    {
        ArgumentNullException.ThrowIfNull(simulated);
        if (simulate)
        {
            return simulated();
        }

        var candidates = (hardware ?? Hardware()).ToList();
        return candidates.FirstOrDefault(s => s.IsAvailable)
            ?? throw new QuoteSourceException(
                "no SGX/TDX quote source on this machine (looked for " +
                string.Join(", ", candidates.Select(c => $"{c.Name} at {c.Location}")) +
                "); pass --simulate to use the simulated SGX platform");
    }

    internal static void RequireReportData(ReadOnlySpan<byte> reportData)
    {
        if (reportData.Length != 64)
        {
            throw new ArgumentException($"report data must be exactly 64 bytes, got {reportData.Length}", nameof(reportData));
        }
    }

    internal static T Try<T>(Func<T> action, string what)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuoteSourceException($"{what} failed: {e.Message}", e);
        }
    }

    internal static void Try(Action action, string what) => Try(() =>
    {
        action();
        return true;
    }, what);

    internal static QuoteEvidence Check(byte[] quote, byte[] reportData, TeeType expected, string source, string path)
    {
        if (quote.Length == 0)
        {
            throw new QuoteSourceException($"{source}: {path} returned no quote");
        }

        Quote parsed;
        try
        {
            parsed = Quote.Parse(quote);
        }
        catch (SgxFormatException e)
        {
            throw new QuoteSourceException($"{source}: {path} did not return a quote: {e.Message}", e);
        }

        if (parsed.TeeType != expected)
        {
            throw new QuoteSourceException($"{source}: {path} returned a {parsed.TeeType} quote, {expected} expected");
        }

        if (!parsed.ReportData.Span.SequenceEqual(reportData))
        {
            throw new QuoteSourceException($"{source}: the quote's report data is not the report data written (another process may be using {path})");
        }

        return new QuoteEvidence(quote[..parsed.Length], parsed.TeeType, source);
    }
}
