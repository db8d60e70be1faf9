using System.Text;

namespace Veritee.Cli.Tests;

/// <summary>
/// The load generators' HTTP/1.1 connection: every framing a server may use is read to its end, and a truncated,
/// oversized or corrupted answer is an <see cref="HttpIOException"/>, never a hang or another exception.
/// </summary>
public sealed class Http1ConnectionTests
{
    private static readonly byte[] Request = Http1Connection.Request("POST", new Uri("http://127.0.0.1:8080/attest/SgxEnclave?api-version=2022-08-01"), "{}"u8, "application/json");

    private const string Ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"token\":1}";

    [Fact]
    public void The_request_is_one_HTTP_1_1_message_with_its_length()
    {
        Assert.Equal(
            "POST /attest/SgxEnclave?api-version=2022-08-01 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            Encoding.ASCII.GetString(Request));
        var get = Http1Connection.Request("GET", new Uri("https://example.org/certs"), [], null, [("X-A", "1")]);
        Assert.Equal("GET /certs HTTP/1.1\r\nHost: example.org\r\nX-A: 1\r\n\r\n", Encoding.ASCII.GetString(get));
    }

    [Theory]
    [InlineData(Ok, 200, true)]
    [InlineData("HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nabc", 400, true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n", 200, true)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab", 200, false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nab", 200, false)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nab", 200, true)]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 201, true)]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n", 204, true)]
    [InlineData("HTTP/1.1 200 OK\r\n\r\nruns to the end of the connection", 200, false)]
    [InlineData("HTTP/1.1 429\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n", 429, true)]
    public async Task Every_framing_is_read_to_its_end(string response, int status, bool reusable)
    {
        await using var connection = new Http1Connection(new ScriptedStream(response, response));
        Assert.Equal(status, await connection.ExchangeAsync(Request, CancellationToken.None));
        Assert.Equal(reusable, connection.IsReusable);
        if (reusable)
        {
            // The second answer starts where the first ended: nothing of the first was left unread.
            Assert.Equal(status, await connection.ExchangeAsync(Request, CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_response_read_one_byte_at_a_time_is_the_same_response()
    {
        var chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        await using var connection = new Http1Connection(new ScriptedStream(chunked, chunked) { ReadSize = 1 });
        Assert.Equal(200, await connection.ExchangeAsync(Request, CancellationToken.None));
        Assert.Equal(200, await connection.ExchangeAsync(Request, CancellationToken.None));
    }

    [Fact]
    public async Task Every_truncation_is_an_HttpIOException()
    {
        foreach (var response in new[] { Ok, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n" })
        {
            for (var length = 0; length < response.Length; length++)
            {
                await using var connection = new Http1Connection(new ScriptedStream(response[..length]));
                await Assert.ThrowsAsync<HttpIOException>(() => connection.ExchangeAsync(Request, CancellationToken.None));
                Assert.False(connection.IsReusable);
            }
        }
    }

    [Fact]
    public async Task Every_bit_flip_gives_a_status_or_an_HttpIOException()
    {
        var bytes = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n4\r\nabcd\r\n0\r\n\r\n");
        for (var i = 0; i < bytes.Length * 8; i++)
        {
            var flipped = (byte[])bytes.Clone();
            flipped[i / 8] ^= (byte)(1 << (i % 8));
            await using var connection = new Http1Connection(new ScriptedStream(flipped));
            try
            {
                var status = await connection.ExchangeAsync(Request, CancellationToken.None);
                Assert.InRange(status, 100, 999);
            }
            catch (HttpIOException)
            {
                // Refused: the expected outcome for most flips.
            }
        }
    }

    [Theory]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 099 Low\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n")]
    public async Task Malformed_answers_are_refused(string response)
    {
        await using var connection = new Http1Connection(new ScriptedStream(response));
        var e = await Assert.ThrowsAsync<HttpIOException>(() => connection.ExchangeAsync(Request, CancellationToken.None));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public async Task Oversized_heads_and_chunk_lines_are_refused_without_growing()
    {
        var endlessHeader = "HTTP/1.1 200 OK\r\nX-Big: " + new string('a', Http1Connection.MaxHeadBytes + 10);
        await using (var connection = new Http1Connection(new ScriptedStream(endlessHeader)))
        {
            var e = await Assert.ThrowsAsync<HttpIOException>(() => connection.ExchangeAsync(Request, CancellationToken.None));
            Assert.Contains("larger than", e.Message, StringComparison.Ordinal);
        }

        var endlessChunkLine = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + new string('e', Http1Connection.MaxLineBytes + 10);
        await using (var connection = new Http1Connection(new ScriptedStream(endlessChunkLine)))
        {
            var e = await Assert.ThrowsAsync<HttpIOException>(() => connection.ExchangeAsync(Request, CancellationToken.None));
            Assert.Contains("longer than", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_large_body_is_skipped_through_a_fixed_buffer()
    {
        var body = new string('b', 5 * Http1Connection.MaxHeadBytes);
        var response = $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}";
        await using var connection = new Http1Connection(new ScriptedStream(response, Ok));
        Assert.Equal(200, await connection.ExchangeAsync(Request, CancellationToken.None));
        Assert.Equal(200, await connection.ExchangeAsync(Request, CancellationToken.None));
    }

    [Fact]
    public async Task A_connection_that_failed_is_not_used_again()
    {
        await using var connection = new Http1Connection(new ScriptedStream("garbage\r\n\r\n"));
        await Assert.ThrowsAsync<HttpIOException>(() => connection.ExchangeAsync(Request, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => connection.ExchangeAsync(Request, CancellationToken.None));
    }

    [Fact]
    public async Task The_load_generator_counts_answers_refusals_and_errors_and_reconnects_after_a_close()
    {
        using var server = new FakeHttp(r => r.Path switch
        {
            "/ok" => new(200, "{}"u8.ToArray()),
            "/closing" => new(200, "{}"u8.ToArray(), new KeyValuePair<string, string>("Connection", "close")),
            _ => new(503, "busy"u8.ToArray()),
        });
        var ok = Http1Connection.Request("GET", new Uri(server.BaseAddress, "/ok"), [], null);
        var closing = Http1Connection.Request("GET", new Uri(server.BaseAddress, "/closing"), [], null);
        var busy = Http1Connection.Request("GET", new Uri(server.BaseAddress, "/busy"), [], null);
        await using var load = new LoadGenerator(server.BaseAddress, null, 2);

        static (long, long, long) Counts(LoadResult r) => (r.Requests, r.Errors, r.Refused);
        Assert.Equal((10, 0, 0), Counts(await load.RunAsync(_ => ok, long.MaxValue, count: 10)));
        Assert.Equal((10, 0, 0), Counts(await load.RunAsync(_ => closing, long.MaxValue, count: 10)));
        Assert.Equal((0, 10, 0), Counts(await load.RunAsync(_ => busy, long.MaxValue, count: 10)));
        Assert.Equal((10, 0, 10), Counts(await load.RunAsync(_ => busy, long.MaxValue, acceptAny: true, count: 10)));
        Assert.Equal(40, server.Requests.Count);
    }

    [Fact]
    public async Task A_server_that_is_gone_gives_errors_not_exceptions()
    {
        var server = new FakeHttp(_ => new(200, []));
        var address = server.BaseAddress;
        server.Dispose();
        var request = Http1Connection.Request("GET", new Uri(address, "/"), [], null);
        await using var load = new LoadGenerator(address, null, 2);
        var result = await load.RunAsync(_ => request, long.MaxValue, count: 4);
        Assert.Equal((0, 4), (result.Requests, result.Errors));
    }

    /// <summary>A server on a stream: each write (a request) makes the next scripted answer readable; then the end.</summary>
    private sealed class ScriptedStream(params object[] answers) : Stream
    {
        private readonly Queue<byte[]> _answers = new(answers.Select(a => a as byte[] ?? Encoding.ASCII.GetBytes((string)a)));
        private byte[] _current = [];
        private int _offset;

        public int ReadSize { get; init; } = 1 << 20;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(Math.Min(buffer.Length, ReadSize), _current.Length - _offset);
            _current.AsSpan(_offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _current = _answers.Count > 0 ? _answers.Dequeue() : [];
            _offset = 0;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
