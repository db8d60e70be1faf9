using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Veritee.Service;

/// <summary>Issues MAA-shaped JWTs: header <c>{"alg","jku","kid","typ"}</c>, canonical claims, RS256.</summary>
public sealed class TokenWriter(InstanceSigningKey key, InstanceAddress instance)
{
    /// <summary>Issues tokens under a fixed instance URL.</summary>
    public TokenWriter(InstanceSigningKey key, string instanceUrl)
        : this(key, new InstanceAddress(instanceUrl))
    {
    }

    /// <summary>Attestation token lifetime (MAA: 8 hours, not configurable).</summary>
    public static readonly TimeSpan AttestationLifetime = TimeSpan.FromHours(8);

    /// <summary>Policy and certificate management result token lifetime (1 hour).</summary>
    public static readonly TimeSpan ResultLifetime = TimeSpan.FromHours(1);

    /// <summary>The instance URL (issuer).</summary>
    public string Issuer => instance.Url;

    /// <summary>Adds iss/iat/nbf/exp and signs with the instance key; <paramref name="unsigned"/> gives an <c>alg: none</c> token.</summary>
    public string Issue(JsonObject claims, DateTimeOffset now, TimeSpan lifetime, bool unsigned = false)
    {
        ArgumentNullException.ThrowIfNull(claims);
        var iat = now.ToUnixTimeSeconds();
        var instanceUrl = instance.Url;
        claims["iss"] = instanceUrl;
        claims["iat"] = iat;
        claims["nbf"] = iat;
        claims["exp"] = iat + (long)lifetime.TotalSeconds;
        var signingInput = EncodedHeader(instanceUrl, unsigned) + "." + Base64Url(CanonicalJson.Serialize(claims));

        // Refused before signing: relying parties (Veritee's client among them) accept tokens up to this size only.
        var length = signingInput.Length + 1 + (unsigned ? 0 : ((key.Key.KeySize / 8 * 4) + 2) / 3);
        if (length > Veritee.Tokens.MaaTokenValidator.MaxTokenLength)
        {
            throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"the token would be {length} bytes, more than the maximum token size of {Veritee.Tokens.MaaTokenValidator.MaxTokenLength} bytes (binary runtimeData appears three times in the token; send less runtimeData, or issue fewer claims)"));
        }

        if (unsigned)
        {
            return signingInput + ".";
        }

        var signature = key.Key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url(signature);
    }

    /// <summary>
    /// The encoded header for <paramref name="instanceUrl"/>: the same for every token until the instance URL changes
    /// (it follows the listen address), so it is built once per URL and kind.
    /// </summary>
    private string EncodedHeader(string instanceUrl, bool unsigned)
    {
        ref var slot = ref unsigned ? ref _unsignedHeader : ref _signedHeader;
        if (Volatile.Read(ref slot) is { } cached && ReferenceEquals(cached.Url, instanceUrl))
        {
            return cached.Encoded;
        }

        var header = new JsonObject
        {
            ["alg"] = unsigned ? "none" : "RS256",
            ["jku"] = instanceUrl + "/certs",
            ["kid"] = key.Kid,
            ["typ"] = "JWT",
        };
        var encoded = Base64Url(CanonicalJson.Serialize(header));
        Volatile.Write(ref slot, new HeaderMemo(instanceUrl, encoded));
        return encoded;
    }

    private HeaderMemo? _signedHeader;
    private HeaderMemo? _unsignedHeader;

    private sealed record HeaderMemo(string Url, string Encoded);

    /// <summary>Base64url without padding.</summary>
    public static string Base64Url(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
