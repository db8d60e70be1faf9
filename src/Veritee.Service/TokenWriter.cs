using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

using B64 = System.Buffers.Text.Base64Url;

namespace Veritee.Service;

/// <summary>
/// Issues MAA-shaped JWTs: header <c>{"alg","jku","kid","typ"}</c>, canonical claims, RS256, signed with the ring's
/// signing key at the time of issue.
/// </summary>
public sealed class TokenWriter(InstanceKeyRing keys, InstanceAddress instance)
{
    /// <summary>Issues tokens with one key under a fixed instance URL.</summary>
    public TokenWriter(InstanceSigningKey key, string instanceUrl)
        : this(new InstanceKeyRing(key), new InstanceAddress(instanceUrl))
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
        var buffer = new ArrayBufferWriter<byte>(4096);
        Write(claims, now, lifetime, unsigned, buffer);
        return Encoding.ASCII.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// Writes the token (ASCII: base64url parts and dots) to <paramref name="destination"/>; the same token as
    /// <see cref="Issue(JsonObject, DateTimeOffset, TimeSpan, bool)"/> without building strings on the way.
    /// </summary>
    internal void Write(JsonObject claims, DateTimeOffset now, TimeSpan lifetime, bool unsigned, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(claims);
        ArgumentNullException.ThrowIfNull(destination);
        var iat = now.ToUnixTimeSeconds();
        var instanceUrl = instance.Url;
        claims["iss"] = instanceUrl;
        claims["iat"] = iat;
        claims["nbf"] = iat;
        claims["exp"] = iat + (long)lifetime.TotalSeconds;
        var key = keys.Signing;
        var header = EncodedHeader(instanceUrl, key.Kid, unsigned);
        var signatureBytes = unsigned ? 0 : key.Key.KeySize / 8;
        CanonicalJson.Serialize(claims, payload =>
        {
            var signingInputLength = header.Length + 1 + B64.GetEncodedLength(payload.Length);

            // Refused before signing: relying parties (Veritee's client among them) accept tokens up to this size only.
            var length = signingInputLength + 1 + (unsigned ? 0 : B64.GetEncodedLength(signatureBytes));
            if (length > Veritee.Tokens.MaaTokenValidator.MaxTokenLength)
            {
                throw MaaException.BadRequest(MaaErrorCodes.InvalidParameter, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"the token would be {length} bytes, more than the maximum token size of {Veritee.Tokens.MaaTokenValidator.MaxTokenLength} bytes (binary runtimeData appears three times in the token; send less runtimeData, or issue fewer claims)"));
            }

            var token = destination.GetSpan(length)[..length];
            header.CopyTo(token);
            token[header.Length] = (byte)'.';
            B64.EncodeToUtf8(payload, token[(header.Length + 1)..signingInputLength]);
            token[signingInputLength] = (byte)'.';
            if (!unsigned)
            {
                Span<byte> signature = stackalloc byte[signatureBytes];
                if (!key.Key.TrySignData(token[..signingInputLength], signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1, out var written) || written != signatureBytes)
                {
                    throw new CryptographicException("the RS256 signature does not have the key's length");
                }

                B64.EncodeToUtf8(signature, token[(signingInputLength + 1)..]);
            }

            destination.Advance(length);
            return length;
        });
    }

    /// <summary>
    /// The encoded header for <paramref name="instanceUrl"/> and <paramref name="kid"/>: the same for every token until the
    /// instance URL changes (it follows the listen address) or the key is rolled, so it is built once per URL, key and kind.
    /// </summary>
    private byte[] EncodedHeader(string instanceUrl, string kid, bool unsigned)
    {
        ref var slot = ref unsigned ? ref _unsignedHeader : ref _signedHeader;
        if (Volatile.Read(ref slot) is { } cached && ReferenceEquals(cached.Url, instanceUrl) && ReferenceEquals(cached.Kid, kid))
        {
            return cached.Encoded;
        }

        var header = new JsonObject
        {
            ["alg"] = unsigned ? "none" : "RS256",
            ["jku"] = instanceUrl + "/certs",
            ["kid"] = kid,
            ["typ"] = "JWT",
        };
        var encoded = Encoding.ASCII.GetBytes(Base64Url(CanonicalJson.Serialize(header)));
        Volatile.Write(ref slot, new HeaderMemo(instanceUrl, kid, encoded));
        return encoded;
    }

    private HeaderMemo? _signedHeader;
    private HeaderMemo? _unsignedHeader;

    private sealed record HeaderMemo(string Url, string Kid, byte[] Encoded);

    /// <summary>Base64url without padding.</summary>
    public static string Base64Url(ReadOnlySpan<byte> bytes) => B64.EncodeToString(bytes);
}
