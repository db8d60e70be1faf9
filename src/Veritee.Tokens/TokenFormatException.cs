namespace Veritee.Tokens;

/// <summary>A token, JWS, JWKS, key or certificate that is not well formed. Nothing was decided from it.</summary>
public sealed class TokenFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public TokenFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public TokenFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the cause.</summary>
    public TokenFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
