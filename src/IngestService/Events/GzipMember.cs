using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace IngestService.Events;

/// <summary>An object that ends inside a gzip member: the data is cut short, which a later read may not be.</summary>
public sealed class TruncatedGzipException(string message) : EndOfStreamException(message);

/// <summary>
/// Where a gzip member's compressed bytes come from, and how its end is settled: the deflate data is read through
/// <c>ReadAsync</c>, and once it ends <see cref="FinishAsync"/> must find the 8-byte trailer (CRC-32 and
/// length of what was inflated) right after the deflate data and consume it, or throw.
/// </summary>
internal abstract class GzipMemberSource : ForwardOnlyStream
{
    /// <summary>The header has been read: what follows is deflate data.</summary>
    public virtual void DataStarts()
    {
    }

    public abstract ValueTask FinishAsync(ReadOnlyMemory<byte> trailer, CancellationToken cancellationToken);
}

/// <summary>
/// One gzip member's inflated bytes, checked: the header is parsed here, the deflate data inflated, and the member
/// counts only once its trailer is found where the deflate data ends and matches the CRC-32 and length of what
/// was inflated. A member cut short is a <see cref="TruncatedGzipException"/>, a damaged one an
/// <see cref="InvalidDataException"/>; neither passes for a clean end.
/// </summary>
internal sealed class GzipMember : ForwardOnlyStream
{
    private const byte FlagHeaderCrc = 0x02;
    private const byte FlagExtra = 0x04;
    private const byte FlagName = 0x08;
    private const byte FlagComment = 0x10;

    private readonly GzipMemberSource _source;
    private readonly DeflateStream _deflate;
    private readonly Crc32 _crc = new();
    private long _length;
    private bool _ended;

    private GzipMember(GzipMemberSource source)
    {
        _source = source;
        _deflate = new DeflateStream(source, CompressionMode.Decompress, leaveOpen: true);
    }

    /// <summary>Reads the member header from <paramref name="source"/>; the deflate data follows.</summary>
    public static async Task<GzipMember> OpenAsync(GzipMemberSource source, CancellationToken cancellationToken)
    {
        var header = new byte[DelimitedGzip.HeaderLength];
        await ReadExactAsync(source, header, cancellationToken);
        if (header[0] != 0x1f || header[1] != 0x8b || header[2] != 8)
        {
            throw new InvalidDataException("A gzip member header is not gzip with deflate.");
        }

        var flags = header[3];
        var two = new byte[2];
        if ((flags & FlagExtra) != 0)
        {
            await ReadExactAsync(source, two, cancellationToken);
            await SkipAsync(source, BinaryPrimitives.ReadUInt16LittleEndian(two), cancellationToken);
        }

        if ((flags & FlagName) != 0)
        {
            await SkipZeroTerminatedAsync(source, cancellationToken);
        }

        if ((flags & FlagComment) != 0)
        {
            await SkipZeroTerminatedAsync(source, cancellationToken);
        }

        if ((flags & FlagHeaderCrc) != 0)
        {
            await ReadExactAsync(source, two, cancellationToken);
        }

        source.DataStarts();
        return new GzipMember(source);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_ended || destination.IsEmpty)
        {
            return 0;
        }

        var read = await _deflate.ReadAsync(destination, cancellationToken);
        if (read > 0)
        {
            _crc.Append(destination.Span[..read]);
            _length += read;
            return read;
        }

        // The deflate data ended, or the input did before it: only the trailer tells which.
        _ended = true;
        var trailer = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, _crc.GetCurrentHashAsUInt32());
        BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(4), unchecked((uint)_length));
        await _source.FinishAsync(trailer, cancellationToken);
        return 0;
    }

    public override async ValueTask DisposeAsync()
    {
        await _deflate.DisposeAsync();
        await base.DisposeAsync();
    }

    private static async Task ReadExactAsync(Stream source, byte[] into, CancellationToken cancellationToken)
    {
        try
        {
            await source.ReadExactlyAsync(into, cancellationToken);
        }
        catch (EndOfStreamException)
        {
            throw new TruncatedGzipException("The object ends inside a gzip member header.");
        }
    }

    private static async Task SkipAsync(Stream source, int count, CancellationToken cancellationToken)
    {
        var skip = new byte[Math.Min(count, 4096)];
        while (count > 0)
        {
            var n = Math.Min(count, skip.Length);
            await ReadExactAsync(source, n == skip.Length ? skip : new byte[n], cancellationToken);
            count -= n;
        }
    }

    private static async Task SkipZeroTerminatedAsync(Stream source, CancellationToken cancellationToken)
    {
        var one = new byte[1];
        do
        {
            await ReadExactAsync(source, one, cancellationToken);
        }
        while (one[0] != 0);
    }
}
