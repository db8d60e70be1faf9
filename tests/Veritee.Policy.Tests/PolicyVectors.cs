using System.Text;
using System.Text.Json;

namespace Veritee.Policy.Tests;

/// <summary>The repository's copies of the MAA vectors (tests/vectors/maa); tests never read ../shared.</summary>
internal static class PolicyVectors
{
    public static string Root { get; } = FindRoot();

    public static string Policies => Path.Combine(Root, "policies");

    public static string ReadPolicy(string relative) => File.ReadAllText(Path.Combine(Policies, relative));

    public static string SgxDefaultPolicy => ReadPolicy("service-defaults/sgx-openenclave-default.2022-05-31.wus.txt");

    public static IEnumerable<string> AllPolicyFiles() =>
        Directory.GetFiles(Policies, "*.txt", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Policies, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);

    /// <summary>The decoded JSON body of a token in sdk-cpp-2022/tokens.</summary>
    public static JsonElement TokenBody(string fileName)
    {
        var token = File.ReadAllText(Path.Combine(Root, "sdk-cpp-2022", "tokens", fileName)).Trim();
        var body = Base64UrlDecode(token.Split('.')[1]);
        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    public static byte[] Base64UrlDecode(string text) => Convert.FromBase64String(
        text.Replace('-', '+').Replace('_', '/') + new string('=', (4 - (text.Length % 4)) % 4));

    /// <summary>The policy text inside a policy JWS (GA format: base64url of the text in claim AttestationPolicy).</summary>
    public static string PolicyFromJws(string relative)
    {
        var jws = ReadPolicy(relative).Trim();
        using var payload = JsonDocument.Parse(Base64UrlDecode(jws.Split('.')[1]));
        var encoded = payload.RootElement.GetProperty("AttestationPolicy").GetString()!;
        return Encoding.UTF8.GetString(Base64UrlDecode(encoded));
    }

    /// <summary>The incoming SGX claims MAA derives from the golden debug quote (values from the real token).</summary>
    public static List<PolicyClaim> SgxIncomingClaims(JsonElement token)
    {
        var claims = new List<PolicyClaim>
        {
            PolicyClaim.Service("x-ms-sgx-is-debuggable", ClaimValue.FromBoolean(token.GetProperty("x-ms-sgx-is-debuggable").GetBoolean())),
            PolicyClaim.Service("x-ms-sgx-mrenclave", ClaimValue.FromString(token.GetProperty("x-ms-sgx-mrenclave").GetString()!)),
            PolicyClaim.Service("x-ms-sgx-mrsigner", ClaimValue.FromString(token.GetProperty("x-ms-sgx-mrsigner").GetString()!)),
            PolicyClaim.Service("x-ms-sgx-product-id", ClaimValue.FromInteger(token.GetProperty("x-ms-sgx-product-id").GetInt64())),
            PolicyClaim.Service("x-ms-sgx-svn", ClaimValue.FromInteger(token.GetProperty("x-ms-sgx-svn").GetInt64())),
            PolicyClaim.Service("x-ms-sgx-report-data", ClaimValue.FromString(token.GetProperty("x-ms-sgx-report-data").GetString()!)),
            PolicyClaim.Service("x-ms-attestation-type", ClaimValue.FromString(token.GetProperty("x-ms-attestation-type").GetString()!)),
            PolicyClaim.Service("x-ms-ver", ClaimValue.FromString(token.GetProperty("x-ms-ver").GetString()!)),
        };
        return claims;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "vectors", "maa");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("tests/vectors/maa not found above " + AppContext.BaseDirectory);
    }
}
