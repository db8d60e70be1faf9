using System.Buffers;

namespace Veritee.Dcap.Collateral;

/// <summary>
/// Reads an HTTP answer's body up to a limit. Bodies from PCS, a PCCS or any upstream are not trusted, so none may
/// take more memory than the caller allows, whatever its Content-Length says or omits.
/// </summary>
public static class BoundedContent
{
    /// <summary>
    /// The body of <paramref name="content"/>, refused with <paramref name="tooLarge"/> once it exceeds
    /// <paramref name="max"/> bytes: called with the declared Content-Length when that alone is too large (nothing is
    /// read), or with null when the bytes read so far are.
    /// </summary>
    public static async Task<byte[]> ReadAsync(HttpContent content, long max, Func<long?, Exception> tooLarge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(tooLarge);
        if (content.Headers.ContentLength is long declared && declared > max)
        {
            throw tooLarge(declared);
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var body = new MemoryStream();
            var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (body.Length + read > max)
                    {
                        throw tooLarge(null);
                    }

                    body.Write(buffer, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            return body.ToArray();
        }
    }
}
