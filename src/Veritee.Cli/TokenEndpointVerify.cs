using Veritee.Tokens;

namespace Veritee.Cli;

/// <summary><c>veritee token verify JWT --endpoint URL</c>: validation against a live instance through the client.</summary>
internal static class TokenEndpointVerify
{
    /// <summary>Validates <paramref name="token"/> against <paramref name="endpoint"/>; returns the result and the pinned issuer.</summary>
    public static (MaaTokenValidationResult Result, string Issuer) Validate(string endpoint, string token, FileInfo? caCert, string? at, int skew, bool conflicting)
    {
        if (conflicting)
        {
            throw new CliException("--endpoint: the keys and the issuer come from the endpoint; do not combine it with --jwks, --issuer or --instance");
        }

        using var client = EndpointOptions.CreateClient(endpoint, EndpointOptions.BuildOptions(null, caCert, at, skew));
        return (EndpointOptions.Await(client.ValidateTokenAsync(token)), client.Endpoint);
    }
}
