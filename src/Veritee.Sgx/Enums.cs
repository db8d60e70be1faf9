namespace Veritee.Sgx;

/// <summary>The TEE a quote attests (<c>tee_type</c> of the v4/v5 header).</summary>
public enum TeeType : uint
{
    /// <summary>Intel SGX enclave.</summary>
    Sgx = 0x00000000,

    /// <summary>Intel TDX trust domain.</summary>
    Tdx = 0x00000081,
}

/// <summary>What the quote body is (v5 <c>body_type</c>; implied by the TEE in v3/v4).</summary>
public enum QuoteBodyType : ushort
{
    /// <summary>384-byte SGX enclave report body.</summary>
    SgxReport = 1,

    /// <summary>584-byte TD report, TDX 1.0.</summary>
    TdReport10 = 2,

    /// <summary>648-byte TD report, TDX 1.5 (adds <c>tee_tcb_svn2</c> and <c>mr_servicetd</c>).</summary>
    TdReport15 = 3,
}

/// <summary>Certification data types of the quote signature data (DCAP <c>sgx_ql_cert_key_type_t</c>).</summary>
public enum CertificationDataType : ushort
{
    /// <summary>PPID in clear text, CPUSVN, PCESVN, PCE-ID.</summary>
    PpidCleartext = 1,

    /// <summary>PPID encrypted with RSA-2048-OAEP, CPUSVN, PCESVN, PCE-ID.</summary>
    PpidRsa2048Encrypted = 2,

    /// <summary>PPID encrypted with RSA-3072-OAEP, CPUSVN, PCESVN, PCE-ID.</summary>
    PpidRsa3072Encrypted = 3,

    /// <summary>The PCK leaf certificate.</summary>
    PckCertificate = 4,

    /// <summary>PEM chain: PCK leaf, Processor or Platform CA, Intel SGX Root CA.</summary>
    PckCertificateChain = 5,

    /// <summary>QE report certification data (the v4/v5 wrapper around QE report, signature, auth data and a nested type).</summary>
    QeReportCertificationData = 6,

    /// <summary>Platform manifest (listed by Intel; not used for verification).</summary>
    PlatformManifest = 7,
}
