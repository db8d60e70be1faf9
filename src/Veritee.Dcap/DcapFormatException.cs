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
}
