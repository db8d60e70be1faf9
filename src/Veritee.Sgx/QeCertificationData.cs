namespace Veritee.Sgx;

/// <summary>Certification data: a type and its raw bytes.</summary>
public readonly record struct CertificationData(CertificationDataType Type, ReadOnlyMemory<byte> Data, int Offset);

/// <summary>
/// The signature data ("auth data") that follows the quote body: the quote signature, the attestation key,
/// the Quoting Enclave's report signed by the PCK key, QE authentication data and certification data.
/// </summary>
public sealed class QuoteSignatureData
{
    internal QuoteSignatureData(
        ReadOnlyMemory<byte> signature,
        ReadOnlyMemory<byte> attestationKey,
        SgxReportBody qeReport,
        ReadOnlyMemory<byte> qeReportSignature,
        ReadOnlyMemory<byte> qeAuthData,
        CertificationData certificationData,
        CertificationDataType? outerCertificationDataType)
    {
        Signature = signature;
        AttestationKey = attestationKey;
        QeReport = qeReport;
        QeReportSignature = qeReportSignature;
        QeAuthData = qeAuthData;
        CertificationData = certificationData;
        OuterCertificationDataType = outerCertificationDataType;
    }

    /// <summary>ECDSA P-256 signature over the signed region, raw <c>r‖s</c> (64 bytes).</summary>
    public ReadOnlyMemory<byte> Signature { get; }

    /// <summary>Attestation public key, raw <c>x‖y</c> (64 bytes, no 0x04 prefix).</summary>
    public ReadOnlyMemory<byte> AttestationKey { get; }

    /// <summary>The Quoting Enclave's report body.</summary>
    public SgxReportBody QeReport { get; }

    /// <summary>Signature of <see cref="QeReport"/> by the PCK key, raw <c>r‖s</c>.</summary>
    public ReadOnlyMemory<byte> QeReportSignature { get; }

    /// <summary>QE authentication data (32 bytes from Intel's QE).</summary>
    public ReadOnlyMemory<byte> QeAuthData { get; }

    /// <summary>The certification data that identifies the PCK (the nested one in v4/v5).</summary>
    public CertificationData CertificationData { get; }

    /// <summary>v4/v5: the outer certification data type (always 6); null for v3.</summary>
    public CertificationDataType? OuterCertificationDataType { get; }
}
