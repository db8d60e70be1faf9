using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Veritee.Service;

/// <summary>
/// The instance URL tokens are issued under (<c>iss</c>, <c>jku</c>, OpenID metadata). A configured port 0 (any free
/// port) is replaced by the port the server bound, once it has bound it.
/// </summary>
public sealed class InstanceAddress
{
    private readonly string _configured;
    private readonly ListenAddress? _dynamic;
    private IServerAddressesFeature? _bound;
    private string? _resolved;

    /// <summary>An instance URL; when it is an address with port 0, <see cref="Url"/> follows the bound port.</summary>
    public InstanceAddress(string configured)
    {
        ArgumentNullException.ThrowIfNull(configured);
        _configured = configured;
        _dynamic = TryParse(configured) is { Port: 0 } zero ? zero : null;
        _resolved = _dynamic is null ? configured : null;
    }

    /// <summary>The instance URL (no trailing slash).</summary>
    public string Url => _resolved ?? Resolve();

    /// <summary>Where the bound addresses appear (the server's feature).</summary>
    internal void Attach(IServerAddressesFeature? addresses) => _bound = addresses;

    private string Resolve()
    {
        foreach (var text in _bound?.Addresses ?? [])
        {
            if (TryParse(text) is { Port: > 0 } bound && bound.Scheme == _dynamic!.Scheme &&
                string.Equals(bound.Host, _dynamic.Host, StringComparison.OrdinalIgnoreCase))
            {
                return _resolved = $"{bound.Scheme}://{bound.Host}:{bound.Port}";
            }
        }

        // Not bound yet: no request can have arrived on the port.
        return _configured;
    }

    private static ListenAddress? TryParse(string text)
    {
        try
        {
            return ListenAddress.Parse(text);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
