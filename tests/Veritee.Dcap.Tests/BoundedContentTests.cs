using Veritee.Dcap.Collateral;

namespace Veritee.Dcap.Tests;

/// <summary>An upstream body is read up to the caller's limit, whatever its Content-Length says or omits.</summary>
public sealed class BoundedContentTests
{
    private static Func<long?, Exception> Refuse(List<long?> calls) => declared =>
    {
        calls.Add(declared);
        return new InvalidDataException("too large");
    };

    [Fact]
    public async Task A_body_up_to_the_limit_is_read_whole()
    {
        var calls = new List<long?>();
        var bytes = Enumerable.Range(0, 40_000).Select(i => (byte)i).ToArray();
        using var content = new StreamContent(new MemoryStream(bytes));
        Assert.Equal(bytes, await BoundedContent.ReadAsync(content, bytes.Length, Refuse(calls), CancellationToken.None));
        Assert.Empty(calls);
    }

    [Fact]
    public async Task A_declared_length_over_the_limit_is_refused_before_reading()
    {
        var calls = new List<long?>();
        var stream = new MemoryStream(new byte[100]);
        using var content = new StreamContent(stream);
        content.Headers.ContentLength = 100;
        await Assert.ThrowsAsync<InvalidDataException>(() => BoundedContent.ReadAsync(content, 99, Refuse(calls), CancellationToken.None));
        Assert.Equal([100L], calls);
        Assert.Equal(0, stream.Position);
    }

    [Fact]
    public async Task An_undeclared_body_over_the_limit_is_refused_once_it_passes_it()
    {
        var calls = new List<long?>();
        using var content = new StreamContent(new MemoryStream(new byte[50_001]));
        content.Headers.ContentLength = null;
        await Assert.ThrowsAsync<InvalidDataException>(() => BoundedContent.ReadAsync(content, 50_000, Refuse(calls), CancellationToken.None));
        Assert.Equal([(long?)null], calls);
    }
}
