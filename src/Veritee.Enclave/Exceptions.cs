namespace Veritee.Enclave;

/// <summary>
/// The simulated platform's state folder is unreadable, incomplete or inconsistent. The message names the file and
/// what is wrong with it; nothing is repaired or regenerated silently.
/// </summary>
public sealed class PlatformStateException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public PlatformStateException(string path, string problem, Exception? inner = null)
        : base($"simulated platform state {path}: {problem}", inner)
    {
        Path = path;
    }

    /// <summary>The file or folder at fault.</summary>
    public string Path { get; }
}

/// <summary>A hardware quote source (Gramine, configfs-tsm) is absent, refused the request or returned unusable data.</summary>
public sealed class QuoteSourceException : IOException
{
    /// <summary>Creates the exception.</summary>
    public QuoteSourceException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>An <c>enclave.info.*.json</c> file is not in the samples' format.</summary>
public sealed class EnclaveInfoFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public EnclaveInfoFormatException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
