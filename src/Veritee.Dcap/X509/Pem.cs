using System.Text;

namespace Veritee.Dcap.X509;

/// <summary>PEM helpers tolerant of what collateral carries: NUL terminators, CRLF, text around the blocks.</summary>
public static class Pem
{
    private const string CertificateLabel = "CERTIFICATE";

    /// <summary>Decodes every <c>-----BEGIN CERTIFICATE-----</c> block in order; throws when a block is malformed.</summary>
    public static IReadOnlyList<byte[]> DecodeCertificates(ReadOnlySpan<byte> pemText) => DecodeAll(pemText, CertificateLabel);

    /// <summary>Decodes every PEM block with <paramref name="label"/>.</summary>
    public static IReadOnlyList<byte[]> DecodeAll(ReadOnlySpan<byte> pemText, string label)
    {
        var text = Encoding.ASCII.GetString(pemText.TrimEnd((byte)0));
        var begin = $"-----BEGIN {label}-----";
        var end = $"-----END {label}-----";
        var result = new List<byte[]>();
        var index = 0;
        while (true)
        {
            var start = text.IndexOf(begin, index, StringComparison.Ordinal);
            if (start < 0)
            {
                break;
            }

            var bodyStart = start + begin.Length;
            var stop = text.IndexOf(end, bodyStart, StringComparison.Ordinal);
            if (stop < 0)
            {
                throw new DcapFormatException($"PEM block {result.Count + 1} ({label}) has no END line");
            }

            var body = text.AsSpan(bodyStart, stop - bodyStart);
            var buffer = new byte[body.Length];
            if (!Convert.TryFromBase64Chars(RemoveWhitespace(body), buffer, out var written))
            {
                throw new DcapFormatException($"PEM block {result.Count + 1} ({label}) is not valid base64");
            }

            result.Add(buffer.AsSpan(0, written).ToArray());
            index = stop + end.Length;
        }

        return result;
    }

    /// <summary>True when <paramref name="bytes"/> contains a PEM BEGIN line with <paramref name="label"/>.</summary>
    public static bool Contains(ReadOnlySpan<byte> bytes, string label) =>
        bytes.IndexOf(Encoding.ASCII.GetBytes($"-----BEGIN {label}-----")) >= 0;

    private static string RemoveWhitespace(ReadOnlySpan<char> body)
    {
        var sb = new StringBuilder(body.Length);
        foreach (var c in body)
        {
            if (!char.IsWhiteSpace(c))
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
