namespace Veritee.Service;

/// <summary>The default policies applied when none is set (SGX and OpenEnclave share MAA's; TdxVm has Veritee's own).</summary>
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

    /// <summary>
    /// The default TdxVm policy: permit and issue nothing (MAA's TDX default is unpublished; its sample token shows that
    /// it issues nothing). Like MAA's SGX default it accepts debug TDs and every verified TCB status: relying parties
    /// check <c>tdx_td_attributes_debug</c>, <c>attester_tcb_status</c> and the measurements, or set a policy.
    /// </summary>
    public const string TdxVm = "version= 1.0;authorizationrules{=> permit();};issuancerules{};";

    /// <summary>The TDX attestation type's canonical name.</summary>
    public const string TdxVmType = "TdxVm";

    /// <summary>Canonical spelling of a supported attestation type (paths are case-insensitive), or null.</summary>
    public static string? CanonicalType(string type) => type.ToUpperInvariant() switch
    {
        "SGXENCLAVE" => "SgxEnclave",
        "OPENENCLAVE" => "OpenEnclave",
        "TDXVM" => TdxVmType,
        _ => null,
    };

    /// <summary>The default policy text of a canonical attestation type.</summary>
    public static string For(string canonicalType) => canonicalType == TdxVmType ? TdxVm : Sgx;
}
