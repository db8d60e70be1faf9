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
/// Linux configfs-tsm (<c>/sys/kernel/config/tsm/report</c>, kernel 6.7+): create a report entry, check its
/// <c>provider</c> (<c>tdx_guest</c>), read <c>generation</c>, write the report data to <c>inblob</c>, read the quote
/// from <c>outblob</c> (at most <see cref="MaxOutblobSize"/> bytes), and read <c>generation</c> again: the kernel
/// counts every write to the entry, so anything but one more than before means another writer raced us. The root and
/// entry name are injectable for tests.
/// </summary>
public sealed class ConfigfsTsmQuoteSource(string root = ConfigfsTsmQuoteSource.DefaultRoot, string? entryName = null) : IQuoteSource
{
    /// <summary>Where configfs-tsm report entries are created.</summary>
    public const string DefaultRoot = "/sys/kernel/config/tsm/report";

    /// <summary>The largest <c>outblob</c> read: the kernel's <c>TSM_OUTBLOB_MAX</c> (32 KiB); reads beyond it fail with EFBIG.</summary>
    public const int MaxOutblobSize = 32 * 1024;

    private const int Efbig = 27;

    /// <inheritdoc />
    public string Name => "configfs-tsm";

    /// <inheritdoc />
    public string Location => root;

    /// <inheritdoc />
    public bool IsAvailable => Directory.Exists(root);

    /// <summary>The file operations (a test seam: fake trees cannot count writes as the kernel does).</summary>
    internal TsmFiles Files { get; init; } = new();

    /// <inheritdoc />
    public QuoteEvidence GetQuote(ReadOnlySpan<byte> reportData)
    {
        QuoteSources.RequireReportData(reportData);
        if (!IsAvailable)
        {
            throw new QuoteSourceException($"configfs-tsm is not available: {root} does not exist (needs Linux 6.7+ in a TDX guest with configfs mounted)");
        }

        var entry = Path.Combine(root, entryName ?? "veritee-" + Guid.NewGuid().ToString("N"));
        QuoteSources.Try(() => Files.CreateDirectory(entry), "creating report entry " + entry);
        try
        {
            var provider = ReadText(entry, "provider");
            if (provider != "tdx_guest")
            {
                throw new QuoteSourceException($"configfs-tsm provider '{provider}' ({Path.Combine(entry, "provider")}) is not supported; Veritee verifies Intel TDX quotes (tdx_guest)");
            }

            // Read before writing: our own write is then exactly one step, and any other step is someone else's.
            var before = Generation(entry);
            var data = reportData.ToArray();
            QuoteSources.Try(() => Files.Write(Path.Combine(entry, "inblob"), data), "writing " + Path.Combine(entry, "inblob"));
            var outblob = Path.Combine(entry, "outblob");
            byte[] quote;
            try
            {
                quote = Files.Read(outblob, MaxOutblobSize);
            }
            catch (IOException e) when (e.HResult == Efbig || e.Message.Contains("too large", StringComparison.OrdinalIgnoreCase))
            {
                throw new QuoteSourceException($"configfs-tsm: the kernel refused to return {outblob} (EFBIG: the report exceeds TSM_OUTBLOB_MAX, {MaxOutblobSize} bytes)", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new QuoteSourceException($"reading {outblob} failed: {e.Message}", e);
            }

            var after = Generation(entry);
            if (after != before + 1)
            {
                throw new QuoteSourceException($"configfs-tsm entry {entry} was written by someone else while the quote was made (generation {before} before writing, {after} after reading, {before + 1} expected); retry");
            }

            return QuoteSources.Check(quote, data, TeeType.Tdx, Name, outblob);
        }
        finally
        {
            // Best effort: configfs removes the attribute files with the directory; a left-over entry is harmless.
            try
            {
                Files.DeleteDirectory(entry);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private string ReadText(string entry, string name)
    {
        var path = Path.Combine(entry, name);
        var bytes = QuoteSources.Try(() => Files.Read(path, 64), "reading " + path);
        return System.Text.Encoding.ASCII.GetString(bytes).Trim('\0', ' ', '\n', '\r', '\t');
    }

    private long Generation(string entry)
    {
        var text = ReadText(entry, "generation");
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new QuoteSourceException($"configfs-tsm {Path.Combine(entry, "generation")} holds '{text}', not a number");
    }
}

/// <summary>The file operations of <see cref="ConfigfsTsmQuoteSource"/>; reads are bounded.</summary>
internal class TsmFiles
{
    public virtual void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public virtual void DeleteDirectory(string path) => Directory.Delete(path);

    public virtual void Write(string path, byte[] data) => File.WriteAllBytes(path, data);

    /// <summary>Reads at most <paramref name="max"/> bytes; a longer file is an error (never read whole).</summary>
    public virtual byte[] Read(string path, int max)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.None);
        var buffer = new byte[max + 1];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
        {
            total += read;
        }

        if (total > max)
        {
            throw new QuoteSourceException($"{path} holds more than {max} bytes");
        }

        return buffer[..total];
    }
}

/// <summary>
/// The legacy TDX guest device <c>/dev/tdx_guest</c> (Linux 6.2+). Its <c>TDX_CMD_GET_REPORT0</c> ioctl returns only a
/// TDREPORT: a structure MAC'd for the local platform that no remote verifier can check. Turning it into a quote needs
/// the TD quoting enclave, reached through configfs-tsm (Linux 6.7+) or Intel's Quote Generation Service over vsock;
/// Veritee speaks configfs-tsm only, so with this device alone it explains what is missing instead of quoting.
/// </summary>
public sealed class TdxGuestDevice(string path = TdxGuestDevice.DefaultPath)
{
    /// <summary>The device node.</summary>
    public const string DefaultPath = "/dev/tdx_guest";

    /// <summary>Size of a TDREPORT (TDREPORT_STRUCT).</summary>
    public const int TdReportSize = 1024;

    // _IOWR('T', 1, struct tdx_report_req { u8 reportdata[64]; u8 tdreport[1024]; }) from include/uapi/linux/tdx-guest.h.
    private const uint GetReport0 = (3u << 30) | ((64u + TdReportSize) << 16) | ((uint)'T' << 8) | 1u;

    /// <summary>The device path.</summary>
    public string Path => path;

    /// <summary>True when the device node exists.</summary>
    public bool IsPresent => File.Exists(path);

    /// <summary>
    /// Why no quote can be made from this device alone (the error <see cref="QuoteSources.SelectTd"/> reports when
    /// configfs-tsm is absent but the device is present).
    /// </summary>
    public string WhyNoQuote(string configfsRoot) =>
        $"{path} is present but configfs-tsm ({configfsRoot}) is not: the device's TDX_CMD_GET_REPORT0 ioctl returns only a TDREPORT, " +
        "which is MAC'd for this platform and cannot be verified remotely; a quote needs configfs-tsm (Linux 6.7+ with CONFIG_TSM_REPORTS, " +
        "mount -t configfs none /sys/kernel/config) or Intel's Quote Generation Service over vsock (libtdx_attest), which Veritee does not speak";

    /// <summary>
    /// The TDREPORT for <paramref name="reportData"/> (exactly 64 bytes) through <c>TDX_CMD_GET_REPORT0</c>, e.g. for
    /// an IMDS-style quote service. Throws <see cref="QuoteSourceException"/> naming the call and the errno.
    /// </summary>
    public byte[] GetTdReport(ReadOnlySpan<byte> reportData)
    {
        QuoteSources.RequireReportData(reportData);
        if (!OperatingSystem.IsLinux())
        {
            throw new QuoteSourceException($"{path}: TDX guest devices exist only on Linux");
        }

        var request = new byte[64 + TdReportSize];
        reportData.CopyTo(request);
        var fd = NativeMethods.Open(path, 2 /* O_RDWR */);
        if (fd < 0)
        {
            throw new QuoteSourceException($"opening {path} failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (NativeMethods.Ioctl(fd, GetReport0, request) < 0)
            {
                throw new QuoteSourceException($"ioctl TDX_CMD_GET_REPORT0 on {path} failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}): not a TDX guest device");
            }
        }
        finally
        {
            _ = NativeMethods.Close(fd);
        }

        return request[64..];
    }

    private static class NativeMethods
    {
        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "open", SetLastError = true, CharSet = System.Runtime.InteropServices.CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
        public static extern int Open(string path, int flags);

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
        [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
        public static extern int Ioctl(int fd, nuint request, byte[] argument);

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "close", SetLastError = true)]
        [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
        public static extern int Close(int fd);
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

    /// <summary>
    /// The TD quote source of a real TDX guest: configfs-tsm when present. When it is absent the error says what was
    /// found: <c>/dev/tdx_guest</c> alone cannot make a quote (see <see cref="TdxGuestDevice"/>), and with neither this
    /// is not a TDX guest. Pass the result to <see cref="TdInfo.FromSource"/> to write a TD evidence file.
    /// </summary>
    /// <param name="configfs">The configfs-tsm source (default: the real location).</param>
    /// <param name="device">The legacy device (default: <c>/dev/tdx_guest</c>).</param>
    /// <exception cref="QuoteSourceException">No TD quote source on this machine; the message names where it looked.</exception>
    public static IQuoteSource SelectTd(ConfigfsTsmQuoteSource? configfs = null, TdxGuestDevice? device = null)
    {
        configfs ??= new ConfigfsTsmQuoteSource();
        device ??= new TdxGuestDevice();
        if (configfs.IsAvailable)
        {
            return configfs;
        }

        throw new QuoteSourceException(device.IsPresent
            ? device.WhyNoQuote(configfs.Location)
            : $"no TDX quote source on this machine (looked for configfs-tsm at {configfs.Location} and {device.Path}): not a TDX guest, or its kernel lacks TDX guest support; pass --simulate to use the simulated platform");
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
