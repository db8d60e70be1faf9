using System.Buffers.Binary;

namespace Veritee.Sgx;

/// <summary>
/// Bounds-checked little-endian reader over <c>buffer[position..limit)</c> that reports the field and the absolute
/// offset of every short read.
/// </summary>
internal struct ByteCursor
{
    private readonly ReadOnlyMemory<byte> _buffer;
    private readonly int _limit;

    public ByteCursor(ReadOnlyMemory<byte> buffer, int position = 0, int limit = -1)
    {
        _buffer = buffer;
        Position = position;
        _limit = limit < 0 ? buffer.Length : limit;
    }

    public int Position { get; private set; }

    public readonly int Remaining => _limit - Position;

    public ReadOnlyMemory<byte> Take(string field, int length)
    {
        if (length < 0 || length > Remaining)
        {
            throw new SgxFormatException(field, Position, $"needs {length} bytes but only {Math.Max(Remaining, 0)} remain");
        }

        var slice = _buffer.Slice(Position, length);
        Position += length;
        return slice;
    }

    /// <summary>The next <paramref name="length"/> bytes without advancing (the caller has checked the length).</summary>
    public readonly ReadOnlyMemory<byte> Peek(int length) => _buffer.Slice(Position, length);

    /// <summary>A cursor over the next <paramref name="length"/> bytes, keeping absolute offsets; this cursor skips them.</summary>
    public ByteCursor Sub(string field, int length)
    {
        var start = Position;
        _ = Take(field, length);
        return new ByteCursor(_buffer, start, start + length);
    }

    public ushort U16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(field, 2).Span);

    public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(field, 4).Span);

    public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(field, 8).Span);
}
