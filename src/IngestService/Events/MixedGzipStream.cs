using System.IO.Compression;

namespace IngestService.Events;

/// <summary>
/// The plain NDJSON bytes of an object that may hold plain lines and gzip members in any order: what Firehose
/// delivers when some nodes send gzip records and others plain ones (<see cref="DelimitedGzip"/>). A member that
/// states its length is inflated on its own and the object goes on after it; a gzip member without the field
/// (another writer's, or a sensor-day object) is inflated together with the rest of the object, as before.
/// </summary>
internal sealed class MixedGzipStream(Stream inner) : ForwardOnlyStream
{
    /// <summary>Firehose records are at most 1,000 KiB; a stated length beyond this is corrupt data, not a member.</summary>
    private const int MaxMemberBytes = 4 * 1024 * 1024;

    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _innerEnded;
    private bool _atLineStart = true;
    private Stream? _member;
    private bool _restIsOneGzipStream;

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_member is not null)
            {
                var inflated = await _member.ReadAsync(destination, cancellationToken);
                if (inflated > 0 || _restIsOneGzipStream)
                {
                    return inflated;
                }

                await _member.DisposeAsync();
                _member = null;
                _atLineStart = true;
                continue;
            }

            if (!await FillAsync(2, cancellationToken))
            {
                return 0;
            }

            if (_atLineStart && _end - _start >= 2 && _buffer[_start] == 0x1f && _buffer[_start + 1] == 0x8b)
            {
                await OpenMemberAsync(cancellationToken);
                continue;
            }

            // Plain lines up to the next line start, where a member may begin.
            var available = _buffer.AsSpan(_start, Math.Min(_end - _start, destination.Length));
            var newline = available.IndexOf((byte)'\n');
            var take = newline >= 0 ? newline + 1 : available.Length;
            available[..take].CopyTo(destination.Span);
            _start += take;
            _atLineStart = newline >= 0;
            return take;
        }
    }

    private async Task OpenMemberAsync(CancellationToken cancellationToken)
    {
        await FillAsync(DelimitedGzip.HeaderLength + DelimitedGzip.ExtraLength, cancellationToken);
        if (DelimitedGzip.StatedLength(_buffer.AsSpan(_start, _end - _start)) is not { } length)
        {
            _member = new GZipStream(new RestStream(this), CompressionMode.Decompress);
            _restIsOneGzipStream = true;
            return;
        }

        if (length < DelimitedGzip.HeaderLength + DelimitedGzip.ExtraLength || length > MaxMemberBytes)
        {
            throw new InvalidDataException($"A gzip member states a length of {length} bytes.");
        }

        var member = new byte[length];
        var copied = 0;
        while (copied < length)
        {
            if (!await FillAsync(1, cancellationToken))
            {
                throw new InvalidDataException("The object ends inside a gzip member.");
            }

            var n = Math.Min(length - copied, _end - _start);
            _buffer.AsSpan(_start, n).CopyTo(member.AsSpan(copied));
            _start += n;
            copied += n;
        }

        _member = new GZipStream(new MemoryStream(member), CompressionMode.Decompress);
    }

    /// <summary>Makes at least <paramref name="count"/> bytes available unless the object ends first; false when none are.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count && !_innerEnded)
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            var read = await inner.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            _innerEnded = read == 0;
            _end += read;
        }

        return _end > _start;
    }

    /// <summary>The buffered bytes, then the rest of the inner stream: for a gzip stream read to its end.</summary>
    private sealed class RestStream(MixedGzipStream owner) : ForwardOnlyStream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            if (!await owner.FillAsync(1, cancellationToken))
            {
                return 0;
            }

            var n = Math.Min(destination.Length, owner._end - owner._start);
            owner._buffer.AsSpan(owner._start, n).CopyTo(destination.Span);
            owner._start += n;
            return n;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_member is not null)
        {
            await _member.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}

/// <summary>A stream read once from start to end: what such a stream must still say it cannot do.</summary>
internal abstract class ForwardOnlyStream : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
