namespace Veritee.Sgx;

/// <summary>
/// Raised when bytes do not have the shape of the SGX/TDX structure being parsed. The message names the
/// field and the byte offset where parsing stopped, so a truncated or corrupted quote can be located.
/// </summary>
public sealed class SgxFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="field"/> at <paramref name="offset"/>.</summary>
    public SgxFormatException(string field, int offset, string problem)
        : base($"{field} at offset {offset}: {problem}")
    {
        Field = field;
        Offset = offset;
        Problem = problem;
    }

    /// <summary>Creates the exception with a message only (for serializers and tooling).</summary>
    public SgxFormatException()
        : this("input", 0, "invalid format")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public SgxFormatException(string message)
        : base(message)
    {
        Field = "input";
        Problem = message;
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SgxFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Field = "input";
        Problem = message;
    }

    /// <summary>The structure field that could not be read, e.g. <c>signature_data_len</c>.</summary>
    public string Field { get; }

    /// <summary>The byte offset of that field in the parsed buffer.</summary>
    public int Offset { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}
