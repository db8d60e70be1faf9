using System.Buffers.Text;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Veritee.Cli;

/// <summary>
/// One keep-alive HTTP/1.1 connection of the load generators (<c>bench attest</c>): a prepared request is written as
/// bytes and the answer is read only as far as its status line, headers and body framing need, the body discarded.
/// A load generator on the same machine as the service takes CPU from it, so it spends as little as it can
/// (bench/README.md, "Attestation throughput"). It connects directly (no proxy); https uses the system's trust store
/// and, when given, one more CA.
/// </summary>
internal sealed class Http1Connection : IAsyncDisposable
{
    /// <summary>Largest status line plus headers read before the answer is refused.</summary>
    internal const int MaxHeadBytes = 64 * 1024;

    /// <summary>Largest chunk-size line (with extensions) or trailer line.</summary>
    internal const int MaxLineBytes = 4 * 1024;

    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[MaxHeadBytes];
    private int _start;
    private int _end;

    internal Http1Connection(Stream stream) => _stream = stream;

    /// <summary>False once the server has said it closes the connection, or an exchange failed.</summary>
    public bool IsReusable { get; private set; } = true;

    /// <summary>Opens a connection to <paramref name="server"/> (http or https).</summary>
    public static async Task<Http1Connection> OpenAsync(Uri server, X509Certificate2? extraCa, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        // An IPv6 literal without its brackets: the form the resolver and TLS take.
        var host = server.HostNameType == UriHostNameType.IPv6 ? server.DnsSafeHost : server.IdnHost;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, server.Port, cancellationToken).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (server.Scheme == Uri.UriSchemeHttps)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                try
                {
                    await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                    {
                        TargetHost = host,
                        RemoteCertificateValidationCallback = extraCa is null ? null : (_, certificate, _, errors) => BenchHttpCommand.ChainsTo(certificate, errors, extraCa),
                    }, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    await tls.DisposeAsync().ConfigureAwait(false);
                    throw;
                }

                stream = tls;
            }

            return new Http1Connection(stream);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The request bytes for <paramref name="method"/> <paramref name="target"/> with <paramref name="body"/> (sent with
    /// Content-Length when not null) and <paramref name="headers"/>.
    /// </summary>
    public static byte[] Request(string method, Uri target, ReadOnlySpan<byte> body, string? contentType, IEnumerable<(string Name, string Value)>? headers = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"{method} {target.PathAndQuery} HTTP/1.1\r\nHost: {target.Authority}\r\n");
        foreach (var (name, value) in headers ?? [])
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        if (contentType is not null)
        {
            head.Append(CultureInfo.InvariantCulture, $"Content-Type: {contentType}\r\n");
        }

        if (method != "GET" || !body.IsEmpty)
        {
            head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
        }

        head.Append("\r\n");
        var headBytes = Encoding.ASCII.GetBytes(head.ToString());
        return [.. headBytes, .. body];
    }

    /// <summary>
    /// Sends <paramref name="request"/> and reads the whole answer, discarding its body; returns the status code.
    /// Throws <see cref="HttpIOException"/> when the answer is not well-formed HTTP/1.1 or the connection ends early.
    /// </summary>
    public async Task<int> ExchangeAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        if (!IsReusable)
        {
            throw new InvalidOperationException("the connection is closed");
        }

        IsReusable = false;
        await _stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        Http1ResponseHead head;
        do
        {
            head = await ReadHeadAsync(cancellationToken).ConfigureAwait(false);
        }
        while (head.Status is >= 100 and < 200);

        if (head.Status is 204 or 304)
        {
            // No body, whatever the headers say.
        }
        else if (head.Chunked)
        {
            await SkipChunkedAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (head.ContentLength is { } length)
        {
            await SkipAsync(length, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // Neither length nor chunks: the body runs to the end of the connection.
            while (await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                _start = _end;
            }

            return head.Status;
        }

        // Bytes beyond the answer were never asked for: the connection is not trusted for another request.
        IsReusable = !head.Close && _start == _end;
        return head.Status;
    }

    private async Task<Http1ResponseHead> ReadHeadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (Http1ResponseHead.TryParse(_buffer.AsSpan(_start, _end - _start), out var head))
            {
                _start += head.HeadLength;
                return head;
            }

            if (_end - _start >= MaxHeadBytes)
            {
                throw new HttpIOException(HttpRequestError.ResponseEnded, $"the response head is larger than {MaxHeadBytes} bytes");
            }

            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new HttpIOException(HttpRequestError.ResponseEnded, "the connection closed before the response head ended");
            }
        }
    }

    private async Task SkipChunkedAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
            var size = Http1ResponseHead.ParseChunkSize(line.Span);
            if (size == 0)
            {
                // Trailers, then the empty line.
                while ((await ReadLineAsync(cancellationToken).ConfigureAwait(false)).Length > 0)
                {
                }

                return;
            }

            await SkipAsync(size, cancellationToken).ConfigureAwait(false);
            if ((await ReadLineAsync(cancellationToken).ConfigureAwait(false)).Length != 0)
            {
                throw new HttpIOException(HttpRequestError.InvalidResponse, "a chunk is longer than its declared size");
            }
        }
    }

    /// <summary>The next CRLF-terminated line (without the CRLF), valid until the next read.</summary>
    private async Task<ReadOnlyMemory<byte>> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var available = _buffer.AsMemory(_start, _end - _start);
            var crlf = available.Span.IndexOf("\r\n"u8);
            if (crlf >= 0)
            {
                _start += crlf + 2;
                return available[..crlf];
            }

            if (available.Length > MaxLineBytes)
            {
                throw new HttpIOException(HttpRequestError.InvalidResponse, $"a chunk line is longer than {MaxLineBytes} bytes");
            }

            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new HttpIOException(HttpRequestError.ResponseEnded, "the connection closed inside a chunked body");
            }
        }
    }

    private async Task SkipAsync(long count, CancellationToken cancellationToken)
    {
        while (true)
        {
            var here = (int)Math.Min(count, _end - _start);
            _start += here;
            count -= here;
            if (count == 0)
            {
                return;
            }

            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new HttpIOException(HttpRequestError.ResponseEnded, "the connection closed before the body ended");
            }
        }
    }

    /// <summary>Reads more bytes after the unread ones (moved to the front); false at the end of the connection.</summary>
    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += read;
        return read > 0;
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        IsReusable = false;
        return _stream.DisposeAsync();
    }
}

/// <summary>What a load generator needs of an HTTP/1.1 response head: status, body framing, whether the connection stays.</summary>
/// <param name="Status">The status code.</param>
/// <param name="HeadLength">Bytes of the status line and headers, with the empty line.</param>
/// <param name="ContentLength">The Content-Length, when given.</param>
/// <param name="Chunked">True for Transfer-Encoding: chunked.</param>
/// <param name="Close">True when the server closes the connection after this answer.</param>
internal readonly record struct Http1ResponseHead(int Status, int HeadLength, long? ContentLength, bool Chunked, bool Close)
{
    /// <summary>
    /// Parses the head at the start of <paramref name="data"/>; false when its end (CRLF CRLF) is not there yet.
    /// Throws <see cref="HttpIOException"/> for a head that is not HTTP/1.x.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out Http1ResponseHead head)
    {
        head = default;
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return false;
        }

        var lines = data[..end];
        var eol = lines.IndexOf("\r\n"u8);
        var statusLine = eol < 0 ? lines : lines[..eol];

        // "HTTP/1.1 200 OK": version, one space, three digits, then a space or the end.
        if (statusLine.Length < 12 || !statusLine.StartsWith("HTTP/1."u8) || statusLine[8] != (byte)' ' ||
            (statusLine.Length > 12 && statusLine[12] != (byte)' ') ||
            !Utf8Parser.TryParse(statusLine.Slice(9, 3), out int status, out var digits) || digits != 3 || status < 100)
        {
            throw new HttpIOException(HttpRequestError.InvalidResponse, $"the status line is not HTTP/1.x: \"{Printable(statusLine)}\"");
        }

        long? contentLength = null;
        var chunked = false;
        var close = statusLine[7] == (byte)'0';
        var rest = eol < 0 ? [] : lines[(eol + 2)..];
        while (!rest.IsEmpty)
        {
            var next = rest.IndexOf("\r\n"u8);
            var line = next < 0 ? rest : rest[..next];
            rest = next < 0 ? [] : rest[(next + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                throw new HttpIOException(HttpRequestError.InvalidResponse, $"a header line has no name: \"{Printable(line)}\"");
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (System.Text.Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!Utf8Parser.TryParse(value, out long length, out var used) || used != value.Length || length < 0 ||
                    (contentLength is { } earlier && earlier != length))
                {
                    throw new HttpIOException(HttpRequestError.InvalidResponse, $"Content-Length \"{Printable(value)}\" is not one non-negative number");
                }

                contentLength = length;
            }
            else if (System.Text.Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                chunked = LastToken(value, "chunked"u8);
            }
            else if (System.Text.Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                close = LastToken(value, "close"u8) || (close && !LastToken(value, "keep-alive"u8));
            }
        }

        head = new Http1ResponseHead(status, end + 4, chunked ? null : contentLength, chunked, close);
        return true;
    }

    /// <summary>The size in a chunk-size line (hex, extensions after ';' ignored); refuses what is not one.</summary>
    public static long ParseChunkSize(ReadOnlySpan<byte> line)
    {
        var semicolon = line.IndexOf((byte)';');
        var digits = (semicolon < 0 ? line : line[..semicolon]).Trim(" \t"u8);
        if (digits.IsEmpty || digits.Length > 15 || !Utf8Parser.TryParse(digits, out ulong size, out var used, 'X') || used != digits.Length)
        {
            throw new HttpIOException(HttpRequestError.InvalidResponse, $"the chunk size \"{Printable(line)}\" is not hexadecimal");
        }

        // At most 15 hex digits: below 2^60.
        return (long)size;
    }

    private static bool LastToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        var comma = value.LastIndexOf((byte)',');
        return System.Text.Ascii.EqualsIgnoreCase((comma < 0 ? value : value[(comma + 1)..]).Trim(" \t"u8), token);
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var shown = bytes[..Math.Min(bytes.Length, 80)];
        var text = new StringBuilder(shown.Length);
        foreach (var b in shown)
        {
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        }

        return bytes.Length > 80 ? text + "…" : text.ToString();
    }
}
