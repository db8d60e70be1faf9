using System.Globalization;

namespace Veritee.Cli;

/// <summary>Parses the CLI's TIME arguments: unix seconds or ISO-8601.</summary>
internal static class CliTime
{
    public static DateTimeOffset Parse(string? text, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return now;
        }

        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var unix))
        {
            return unix is >= -62135596800 and <= 253402300799
                ? DateTimeOffset.FromUnixTimeSeconds(unix)
                : throw new CliException($"--at: {text} is out of range for unix seconds");
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : throw new CliException($"--at: '{text}' is neither unix seconds nor an ISO-8601 time");
    }
}
