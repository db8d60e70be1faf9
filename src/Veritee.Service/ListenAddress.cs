using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Veritee.Service;

/// <summary>One listen address of <c>--urls</c> (Kestrel's forms: an IP address, <c>localhost</c>, a host name, <c>*</c> or <c>+</c>).</summary>
/// <param name="Text">The address as given, without a trailing slash.</param>
/// <param name="Scheme"><c>http</c> or <c>https</c>.</param>
/// <param name="Host">The host as written (IPv6 in brackets).</param>
/// <param name="Port">The port (0: any free port).</param>
public sealed partial record ListenAddress(string Text, string Scheme, string Host, int Port)
{
    /// <summary>True for <c>localhost</c> and loopback IP addresses: only this machine can connect.</summary>
    public bool IsLoopback => Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (Ip is { } ip && IPAddress.IsLoopback(ip));

    /// <summary>
    /// True when the address names no host a client could use: <c>0.0.0.0</c>, <c>[::]</c>, <c>*</c> or <c>+</c>
    /// (Kestrel listens on every interface).
    /// </summary>
    public bool IsUnspecified => Host is "*" or "+" || (Ip is { } ip && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)));

    private IPAddress? Ip => IPAddress.TryParse(Host.Trim('[', ']'), out var ip) ? ip : null;

    /// <summary>Parses a <c>;</c>-separated list; <see cref="ArgumentException"/> naming the first bad address.</summary>
    public static IReadOnlyList<ListenAddress> ParseList(string urls)
    {
        ArgumentNullException.ThrowIfNull(urls);
        var parts = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length == 0 ? throw new ArgumentException("--urls: no listen address given") : parts.Select(Parse).ToList();
    }

    /// <summary>Parses one address such as <c>http://127.0.0.1:5080</c>; <see cref="ArgumentException"/> saying what is wrong.</summary>
    public static ListenAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var match = Shape().Match(text);
        if (!match.Success)
        {
            throw new ArgumentException($"--urls: '{text}' is not a listen address such as http://127.0.0.1:5080 or https://0.0.0.0:443");
        }

        var scheme = match.Groups["scheme"].Value.ToLowerInvariant();
        if (scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"--urls: '{text}' must start with http:// or https://");
        }

        var host = match.Groups["host"].Value;
        var isIp = IPAddress.TryParse(host.Trim('[', ']'), out _);
        if (host.StartsWith('[') != (host.EndsWith(']') && isIp) || (!isIp && host is not ("*" or "+") && Uri.CheckHostName(host) != UriHostNameType.Dns))
        {
            throw new ArgumentException($"--urls: '{text}' has no valid host ('{host}')");
        }

        var port = scheme == "https" ? 443 : 80;
        if (match.Groups["port"].Success && (!int.TryParse(match.Groups["port"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
        {
            throw new ArgumentException($"--urls: '{text}' has port {match.Groups["port"].Value}; ports are 0–65535");
        }

        if (port == 0 && !isIp)
        {
            throw new ArgumentException($"--urls: '{text}': port 0 (any free port) needs an IP address such as 127.0.0.1");
        }

        return new ListenAddress(text.TrimEnd('/'), scheme, host, port);
    }

    [GeneratedRegex(@"^(?<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?<host>\[[^\]/]*\]|[^:/\[\]]+)(:(?<port>[0-9]{1,6}))?/?$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();
}
