namespace Veritee.Sgx;

/// <summary>Base16 helpers shared by the parsers and the CLI.</summary>
public static class Hex
{
    /// <summary>Lower-case hex of <paramref name="bytes"/>.</summary>
    public static string Lower(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>Upper-case hex of <paramref name="bytes"/>.</summary>
    public static string Upper(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    /// <summary>Decodes hex of either case; false when <paramref name="text"/> is not hex of even length.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length % 2 != 0)
        {
            return false;
        }

        var result = new byte[text.Length / 2];
        if (Convert.FromHexString(text, result, out _, out var written) != System.Buffers.OperationStatus.Done || written != result.Length)
        {
            return false;
        }

        bytes = result;
        return true;
    }
}
