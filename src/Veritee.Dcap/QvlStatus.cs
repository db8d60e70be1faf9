namespace Veritee.Dcap;

#pragma warning disable CA1707 // Names are Intel QVL's status names, kept verbatim so they can be compared with Intel's output.
#pragma warning disable CA1028 // Values are Intel's enum positions.

/// <summary>
/// Intel Quote Verification Library status codes (<c>Status</c> in QVL's <c>QuoteVerification.h</c>), with Intel's
/// names and values. <see cref="QvlStatusNames.Name"/> gives the <c>STATUS_…</c> spelling.
/// </summary>
public enum QvlStatus
{
    /// <summary>Verified; TCB up to date.</summary>
    STATUS_OK = 0,
    /// <summary>A certificate could not be parsed.</summary>
    STATUS_UNSUPPORTED_CERT_FORMAT = 1,
    /// <summary>No Intel SGX Root CA in the chain.</summary>
    STATUS_SGX_ROOT_CA_MISSING = 2,
    /// <summary>Root CA invalid.</summary>
    STATUS_SGX_ROOT_CA_INVALID = 3,
    /// <summary>Root CA lacks a required extension.</summary>
    STATUS_SGX_ROOT_CA_INVALID_EXTENSIONS = 4,
    /// <summary>Root CA is not self-signed or its signature is wrong.</summary>
    STATUS_SGX_ROOT_CA_INVALID_ISSUER = 5,
    /// <summary>Root CA not trusted.</summary>
    STATUS_SGX_ROOT_CA_UNTRUSTED = 6,
    /// <summary>No intermediate CA in the chain.</summary>
    STATUS_SGX_INTERMEDIATE_CA_MISSING = 7,
    /// <summary>Intermediate CA invalid.</summary>
    STATUS_SGX_INTERMEDIATE_CA_INVALID = 8,
    /// <summary>Intermediate CA lacks a required extension.</summary>
    STATUS_SGX_INTERMEDIATE_CA_INVALID_EXTENSIONS = 9,
    /// <summary>Intermediate CA not issued by the root.</summary>
    STATUS_SGX_INTERMEDIATE_CA_INVALID_ISSUER = 10,
    /// <summary>Intermediate CA listed in the root CA CRL.</summary>
    STATUS_SGX_INTERMEDIATE_CA_REVOKED = 11,
    /// <summary>No PCK certificate in the chain.</summary>
    STATUS_SGX_PCK_MISSING = 12,
    /// <summary>PCK certificate invalid.</summary>
    STATUS_SGX_PCK_INVALID = 13,
    /// <summary>PCK certificate lacks a required extension.</summary>
    STATUS_SGX_PCK_INVALID_EXTENSIONS = 14,
    /// <summary>PCK certificate not issued by the intermediate CA.</summary>
    STATUS_SGX_PCK_INVALID_ISSUER = 15,
    /// <summary>PCK certificate listed in the PCK CRL.</summary>
    STATUS_SGX_PCK_REVOKED = 16,
    /// <summary>The trusted root is not a valid self-signed CA.</summary>
    STATUS_TRUSTED_ROOT_CA_INVALID = 17,
    /// <summary>The PCK chain does not end at the trusted root.</summary>
    STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED = 18,
    /// <summary>TCB Info could not be parsed.</summary>
    STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT = 19,
    /// <summary>TCB Info invalid.</summary>
    STATUS_SGX_TCB_INFO_INVALID = 20,
    /// <summary>TCB Info signature does not verify.</summary>
    STATUS_TCB_INFO_INVALID_SIGNATURE = 21,
    /// <summary>No TCB Signing certificate in the chain.</summary>
    STATUS_SGX_TCB_SIGNING_CERT_MISSING = 22,
    /// <summary>TCB Signing certificate invalid.</summary>
    STATUS_SGX_TCB_SIGNING_CERT_INVALID = 23,
    /// <summary>TCB Signing certificate lacks a required extension.</summary>
    STATUS_SGX_TCB_SIGNING_CERT_INVALID_EXTENSIONS = 24,
    /// <summary>TCB Signing certificate not issued by the root.</summary>
    STATUS_SGX_TCB_SIGNING_CERT_INVALID_ISSUER = 25,
    /// <summary>TCB signing chain does not end at the trusted root.</summary>
    STATUS_SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED = 26,
    /// <summary>TCB Signing certificate listed in the root CA CRL.</summary>
    STATUS_SGX_TCB_SIGNING_CERT_REVOKED = 27,
    /// <summary>A CRL could not be parsed.</summary>
    STATUS_SGX_CRL_UNSUPPORTED_FORMAT = 28,
    /// <summary>A CRL was not issued by the CA it must come from.</summary>
    STATUS_SGX_CRL_UNKNOWN_ISSUER = 29,
    /// <summary>CRL invalid.</summary>
    STATUS_SGX_CRL_INVALID = 30,
    /// <summary>A CRL lacks CRL Number or Authority Key Identifier.</summary>
    STATUS_SGX_CRL_INVALID_EXTENSIONS = 31,
    /// <summary>A CRL signature does not verify.</summary>
    STATUS_SGX_CRL_INVALID_SIGNATURE = 32,
    /// <summary>A CA certificate could not be parsed.</summary>
    STATUS_SGX_CA_CERT_UNSUPPORTED_FORMAT = 33,
    /// <summary>A CA certificate is invalid.</summary>
    STATUS_SGX_CA_CERT_INVALID = 34,
    /// <summary>The trusted root could not be parsed.</summary>
    STATUS_TRUSTED_ROOT_CA_UNSUPPORTED_FORMAT = 35,
    /// <summary>A required input is missing.</summary>
    STATUS_MISSING_PARAMETERS = 36,
    /// <summary>The quote could not be parsed or is not of a supported kind.</summary>
    STATUS_UNSUPPORTED_QUOTE_FORMAT = 37,
    /// <summary>The PCK certificate could not be parsed.</summary>
    STATUS_UNSUPPORTED_PCK_CERT_FORMAT = 38,
    /// <summary>The PCK certificate's SGX extension is invalid.</summary>
    STATUS_INVALID_PCK_CERT = 39,
    /// <summary>The PCK CRL could not be parsed.</summary>
    STATUS_UNSUPPORTED_PCK_RL_FORMAT = 40,
    /// <summary>The PCK CRL does not belong to the PCK's issuer.</summary>
    STATUS_INVALID_PCK_CRL = 41,
    /// <summary>TCB Info could not be parsed.</summary>
    STATUS_UNSUPPORTED_TCB_INFO_FORMAT = 42,
    /// <summary>PCK certificate revoked.</summary>
    STATUS_PCK_REVOKED = 43,
    /// <summary>TCB Info does not belong to this platform or TEE.</summary>
    STATUS_TCB_INFO_MISMATCH = 44,
    /// <summary>Verified; platform TCB OutOfDate.</summary>
    STATUS_TCB_OUT_OF_DATE = 45,
    /// <summary>Platform TCB revoked.</summary>
    STATUS_TCB_REVOKED = 46,
    /// <summary>Verified; ConfigurationNeeded.</summary>
    STATUS_TCB_CONFIGURATION_NEEDED = 47,
    /// <summary>Verified; OutOfDateConfigurationNeeded.</summary>
    STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED = 48,
    /// <summary>No TCB level matches the platform.</summary>
    STATUS_TCB_NOT_SUPPORTED = 49,
    /// <summary>A TCB level carries an unknown status.</summary>
    STATUS_TCB_UNRECOGNIZED_STATUS = 50,
    /// <summary>Unsupported QE certification.</summary>
    STATUS_UNSUPPORTED_QE_CERTIFICATION = 51,
    /// <summary>Certification data size mismatch.</summary>
    STATUS_INVALID_QE_CERTIFICATION_DATA_SIZE = 52,
    /// <summary>Certification data type other than the PCK chain (5).</summary>
    STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE = 53,
    /// <summary>PCK certificate mismatch.</summary>
    STATUS_PCK_CERT_MISMATCH = 54,
    /// <summary>The QE report signature does not verify under the PCK key.</summary>
    STATUS_INVALID_QE_REPORT_SIGNATURE = 55,
    /// <summary>The QE report data does not bind the attestation key and QE auth data.</summary>
    STATUS_INVALID_QE_REPORT_DATA = 56,
    /// <summary>The quote signature does not verify under the attestation key.</summary>
    STATUS_INVALID_QUOTE_SIGNATURE = 57,
    /// <summary>QE identity format unsupported.</summary>
    STATUS_SGX_QE_IDENTITY_UNSUPPORTED_FORMAT = 58,
    /// <summary>QE identity invalid.</summary>
    STATUS_SGX_QE_IDENTITY_INVALID = 59,
    /// <summary>QE identity signature invalid.</summary>
    STATUS_SGX_QE_IDENTITY_INVALID_SIGNATURE = 60,
    /// <summary>Enclave report format unsupported.</summary>
    STATUS_SGX_ENCLAVE_REPORT_UNSUPPORTED_FORMAT = 61,
    /// <summary>Enclave identity could not be parsed.</summary>
    STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT = 62,
    /// <summary>Enclave identity invalid.</summary>
    STATUS_SGX_ENCLAVE_IDENTITY_INVALID = 63,
    /// <summary>Enclave identity version other than 2.</summary>
    STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_VERSION = 64,
    /// <summary>Enclave identity out of date.</summary>
    STATUS_SGX_ENCLAVE_IDENTITY_OUT_OF_DATE = 65,
    /// <summary>QE report MISCSELECT does not match the identity.</summary>
    STATUS_SGX_ENCLAVE_REPORT_MISCSELECT_MISMATCH = 66,
    /// <summary>QE report ATTRIBUTES do not match the identity.</summary>
    STATUS_SGX_ENCLAVE_REPORT_ATTRIBUTES_MISMATCH = 67,
    /// <summary>MRENCLAVE mismatch.</summary>
    STATUS_SGX_ENCLAVE_REPORT_MRENCLAVE_MISMATCH = 68,
    /// <summary>QE report MRSIGNER does not match the identity.</summary>
    STATUS_SGX_ENCLAVE_REPORT_MRSIGNER_MISMATCH = 69,
    /// <summary>QE report ISVPRODID does not match the identity.</summary>
    STATUS_SGX_ENCLAVE_REPORT_ISVPRODID_MISMATCH = 70,
    /// <summary>QE ISVSVN is out of date.</summary>
    STATUS_SGX_ENCLAVE_REPORT_ISVSVN_OUT_OF_DATE = 71,
    /// <summary>QE identity could not be parsed.</summary>
    STATUS_UNSUPPORTED_QE_IDENTITY_FORMAT = 72,
    /// <summary>QE identity out of date.</summary>
    STATUS_QE_IDENTITY_OUT_OF_DATE = 73,
    /// <summary>The QE identity does not describe this quote's Quoting Enclave.</summary>
    STATUS_QE_IDENTITY_MISMATCH = 74,
    /// <summary>TCB Info past its nextUpdate (reported as a flag by Intel).</summary>
    STATUS_SGX_TCB_INFO_EXPIRED = 75,
    /// <summary>Enclave identity signature does not verify.</summary>
    STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE = 76,
    /// <summary>Invalid parameter.</summary>
    STATUS_INVALID_PARAMETER = 77,
    /// <summary>A PCK chain certificate is past its notAfter.</summary>
    STATUS_SGX_PCK_CERT_CHAIN_EXPIRED = 78,
    /// <summary>A CRL is outside thisUpdate..nextUpdate.</summary>
    STATUS_SGX_CRL_EXPIRED = 79,
    /// <summary>A signing chain certificate is past its notAfter.</summary>
    STATUS_SGX_SIGNING_CERT_CHAIN_EXPIRED = 80,
    /// <summary>Enclave identity past its nextUpdate.</summary>
    STATUS_SGX_ENCLAVE_IDENTITY_EXPIRED = 81,
    /// <summary>Verified; SWHardeningNeeded.</summary>
    STATUS_TCB_SW_HARDENING_NEEDED = 82,
    /// <summary>Verified; ConfigurationAndSWHardeningNeeded.</summary>
    STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED = 83,
    /// <summary>QE ISVSVN revoked.</summary>
    STATUS_SGX_ENCLAVE_REPORT_ISVSVN_REVOKED = 84,
    /// <summary>The TDX module does not match the TCB Info module identity.</summary>
    STATUS_TDX_MODULE_MISMATCH = 85,
    /// <summary>No QE identity TCB level matches the QE's ISVSVN.</summary>
    STATUS_SGX_ENCLAVE_REPORT_ISVSVN_NOT_SUPPORTED = 86,
    /// <summary>Verified; the TD should be relaunched to pick up an updated TDX module.</summary>
    STATUS_TCB_TD_RELAUNCH_ADVISED = 87,
    /// <summary>Verified; relaunch advised and configuration needed.</summary>
    STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED = 88,
}

#pragma warning restore CA1028
#pragma warning restore CA1707

/// <summary>Helpers over <see cref="QvlStatus"/>.</summary>
public static class QvlStatusNames
{
    /// <summary>Intel's name, e.g. <c>STATUS_TCB_OUT_OF_DATE</c>.</summary>
    public static string Name(this QvlStatus status) => status.ToString();

    /// <summary>
    /// True when the quote verified and the status only grades the platform's TCB (Intel QvE returns success for
    /// these): OK, OutOfDate, ConfigurationNeeded, OutOfDateConfigurationNeeded, SWHardeningNeeded,
    /// ConfigurationAndSWHardeningNeeded, TDRelaunchAdvised(ConfigurationNeeded).
    /// </summary>
    public static bool IsVerified(this QvlStatus status) => status is QvlStatus.STATUS_OK
        or QvlStatus.STATUS_TCB_OUT_OF_DATE
        or QvlStatus.STATUS_TCB_CONFIGURATION_NEEDED
        or QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED
        or QvlStatus.STATUS_TCB_SW_HARDENING_NEEDED
        or QvlStatus.STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED
        or QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED
        or QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED;
}
