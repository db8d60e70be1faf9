namespace Veritee.Service.Store;

/// <summary>
/// What every store accepts as text: PostgreSQL cannot keep U+0000 in a text column (SQLite can), so both refuse it
/// alike, as a permanent input error rather than a store failure.
/// </summary>
internal static class StoredText
{
    /// <summary>Throws <see cref="StoredTextException"/> naming <paramref name="field"/> when <paramref name="value"/> has a NUL character.</summary>
    public static void Require(string? value, string field)
    {
        if (value is not null && value.IndexOf('\0', StringComparison.Ordinal) is var at and >= 0)
        {
            throw new StoredTextException($"the {field} contains a NUL character (U+0000) at offset {at}, which the store cannot keep", field);
        }
    }
}

/// <summary>A value no store can keep (the service answers 400 InvalidParameter with its message).</summary>
public sealed class StoredTextException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public StoredTextException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public StoredTextException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public StoredTextException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a message naming <paramref name="paramName"/>.</summary>
    public StoredTextException(string message, string paramName)
        : base(message, paramName)
    {
    }
}
