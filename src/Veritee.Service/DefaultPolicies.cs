namespace Veritee.Service;

/// <summary>The default policies MAA applies when none is set (SGX and OpenEnclave share one; text as MAA returned it in 2022).</summary>
public static class DefaultPolicies
{
    /// <summary>MAA's default SGX/OpenEnclave policy, verbatim.</summary>
    public const string Sgx =
        "version= 1.0;authorizationrules{=> permit();};issuancerules{" +
        "c:[type==\"x-ms-sgx-is-debuggable\"] => issue(type=\"is-debuggable\", value=c.value);" +
        "c:[type==\"x-ms-sgx-mrsigner\"] => issue(type=\"sgx-mrsigner\", value=c.value);" +
        "c:[type==\"x-ms-sgx-mrenclave\"] => issue(type=\"sgx-mrenclave\", value=c.value);" +
        "c:[type==\"x-ms-sgx-product-id\"] => issue(type=\"product-id\", value=c.value);" +
        "c:[type==\"x-ms-sgx-svn\"] => issue(type=\"svn\", value=c.value);" +
        "c:[type==\"x-ms-attestation-type\"] => issue(type=\"tee\", value=c.value);};";

    /// <summary>Canonical spelling of a supported attestation type (paths are case-insensitive), or null.</summary>
    public static string? CanonicalType(string type) => type.ToUpperInvariant() switch
    {
        "SGXENCLAVE" => "SgxEnclave",
        "OPENENCLAVE" => "OpenEnclave",
        _ => null,
    };
}
