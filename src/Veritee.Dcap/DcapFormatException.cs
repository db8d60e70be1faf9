namespace Veritee.Dcap;

/// <summary>Collateral or certificate bytes that do not parse; the message names the item and the field.</summary>
public sealed class DcapFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public DcapFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public DcapFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public DcapFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// True when the document is well-formed but Intel QVL rejects its content as invalid (its
    /// <c>STATUS_SGX_TCB_INFO_INVALID</c> / <c>STATUS_SGX_ENCLAVE_IDENTITY_INVALID</c> class) rather than as an
    /// unsupported format: e.g. duplicate TCB levels or a status an enclave identity may not carry.
    /// </summary>
    public bool IsInvalidContent { get; init; }
}
