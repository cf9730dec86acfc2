using System.Buffers;

namespace IngestService.Events;

/// <summary>
/// The plain NDJSON bytes of an object that may hold plain lines and gzip members in any order: what Firehose
/// delivers when some nodes send gzip records and others plain ones (<see cref="DelimitedGzip"/>), or what it
/// writes when it compresses the object itself. Every byte is accounted for: a member is told by its magic bytes
/// at a line start and inflated on its own (<see cref="GzipMember"/>), each checked against its trailer, and the
/// object goes on after it, plain lines included. A member that states its length is read whole; one that does
/// not (another writer's, a sensor-day object, or Firehose's GZIP around our records) is streamed, its end found
/// by its trailer, and what it inflates to is read the same way again, so our gzip records inside Firehose's own
/// compression come out as lines too. An object that ends inside a member throws
/// <see cref="TruncatedGzipException"/>; a damaged member, <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class MixedGzipStream(Stream inner, bool ownsInner = false) : ForwardOnlyStream
{
    /// <summary>Firehose records are at most 1,000 KiB; a stated length beyond this is corrupt data, not a member.</summary>
    private const int MaxMemberBytes = 4 * 1024 * 1024;

    /// <summary>Where a member starts after a line: a newline, then gzip's magic bytes.</summary>
    private static readonly byte[] NewlineThenMagic = [(byte)'\n', 0x1f, 0x8b];

    /// <summary>
    /// What a streamed member's reader may put back (<see cref="StreamedMember"/>'s last two pieces and 8 bytes): reads
    /// leave this much of the buffer free, so a push-back moves bytes rather than growing it. Growing, a stream of
    /// many small members (a run's segment after compactions that copy) doubled its buffer again and again.
    /// </summary>
    private const int PushBackRoom = (2 * StreamedMember.Piece) + 8;

    // Pooled: a run read whole opens one of these per segment (a nested one per member), so a fresh 64 KiB each was
    // most of a fleet day's allocation.
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private int _start;
    private int _end;

    /// <summary>The size of the read buffer now (tests: it stays the pooled 64 KiB, however many members pass).</summary>
    internal int BufferLength => _buffer.Length;
    private bool _innerEnded;
    private bool _atLineStart = true;
    private Stream? _output;

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (destination.IsEmpty)
        {
            return 0;
        }

        while (true)
        {
            if (_output is not null)
            {
                var inflated = await _output.ReadAsync(destination, cancellationToken);
                if (inflated > 0)
                {
                    return inflated;
                }

                await _output.DisposeAsync();
                _output = null;
                _atLineStart = true;
                continue;
            }

            if (!await FillAsync(2, cancellationToken))
            {
                return 0;
            }

            if (_atLineStart && _end - _start >= 2 && _buffer[_start] == 0x1f && _buffer[_start + 1] == 0x8b)
            {
                _output = await OpenMemberAsync(cancellationToken);
                continue;
            }

            // Plain lines, up to where a member begins after a newline (its first byte left for the next call,
            // so it is checked with the byte after it).
            var available = _buffer.AsSpan(_start, Math.Min(_end - _start, destination.Length));
            var member = available.IndexOf(NewlineThenMagic);
            var take = member >= 0 ? member + 1 : available.Length > 1 && available[^2] == '\n' && available[^1] == 0x1f ? available.Length - 1 : available.Length;
            available[..take].CopyTo(destination.Span);
            _start += take;
            _atLineStart = available[take - 1] == '\n';
            return take;
        }
    }

    private async Task<Stream> OpenMemberAsync(CancellationToken cancellationToken)
    {
        await FillAsync(DelimitedGzip.HeaderLength + DelimitedGzip.ExtraLength, cancellationToken);
        if (DelimitedGzip.StatedLength(_buffer.AsSpan(_start, _end - _start)) is not { } length)
        {
            // This stream owns the member: undisposed, its inflater's native state would wait for the finalizer
            // (one per segment of a run read whole, a third of a fleet day's regroup CPU).
            return new MixedGzipStream(await GzipMember.OpenAsync(new StreamedMember(this), cancellationToken), ownsInner: true);
        }

        if (length < DelimitedGzip.HeaderLength + DelimitedGzip.ExtraLength + 8 || length > MaxMemberBytes)
        {
            throw new InvalidDataException($"A gzip member states a length of {length} bytes.");
        }

        var bytes = new byte[length];
        var copied = 0;
        while (copied < length)
        {
            if (!await FillAsync(1, cancellationToken))
            {
                throw new TruncatedGzipException($"The object ends inside a gzip member after {copied} of the {length} bytes it states.");
            }

            var n = Math.Min(length - copied, _end - _start);
            _buffer.AsSpan(_start, n).CopyTo(bytes.AsSpan(copied));
            _start += n;
            copied += n;
        }

        return await GzipMember.OpenAsync(new WholeMember(bytes), cancellationToken);
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

            var read = await inner.ReadAsync(_buffer.AsMemory(_end, Math.Max(_buffer.Length - PushBackRoom, count) - _end), cancellationToken);
            _innerEnded = read == 0;
            _end += read;
        }

        return _end > _start;
    }

    /// <summary>Puts bytes a member's reader took beyond its end back in front of what is buffered.</summary>
    private void PushBack(ReadOnlySpan<byte> bytes)
    {
        if (_start < bytes.Length && _end + bytes.Length - _start <= _buffer.Length)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer.AsSpan(bytes.Length));
            _end += bytes.Length - _start;
            _start = bytes.Length;
        }
        else if (_start < bytes.Length)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length, _end - _start + bytes.Length));
            _buffer.AsSpan(_start, _end - _start).CopyTo(grown.AsSpan(bytes.Length));
            _end = _end - _start + bytes.Length;
            _start = bytes.Length;
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = grown;
        }

        _start -= bytes.Length;
        bytes.CopyTo(_buffer.AsSpan(_start));
    }

    /// <summary>A member that stated its length: its bytes in hand, the trailer its last 8.</summary>
    private sealed class WholeMember(byte[] member) : GzipMemberSource
    {
        private int _position;

        public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            var n = Math.Min(destination.Length, member.Length - 8 - _position);
            member.AsSpan(_position, n).CopyTo(destination.Span);
            _position += n;
            return ValueTask.FromResult(n);
        }

        public override ValueTask FinishAsync(ReadOnlyMemory<byte> trailer, CancellationToken cancellationToken) =>
            member.AsSpan(member.Length - 8).SequenceEqual(trailer.Span)
                ? ValueTask.CompletedTask
                : throw new InvalidDataException("A gzip member's data does not match its trailer (CRC-32 and length).");
    }

    /// <summary>
    /// A member without a stated length, read from the object as it streams. The inflater takes small pieces and
    /// stops asking once the deflate data ends, which is therefore inside the last piece it took (or the one
    /// before, kept too); the trailer is looked for there and in the 8 bytes after, and what follows it is put
    /// back for the object. Eight bytes of deflate data that happen to equal the trailer (its CRC-32 and length)
    /// would be taken for it: about one chance in 2^64 per byte position searched.
    /// </summary>
    private sealed class StreamedMember(MixedGzipStream owner) : GzipMemberSource
    {
        public const int Piece = 4096;

        // Pooled, and given back once the trailer is settled: one member per run segment read.
        private byte[] _previous = ArrayPool<byte>.Shared.Rent((2 * Piece) + 8);
        private byte[] _last = ArrayPool<byte>.Shared.Rent(Piece);
        private int _previousLength;
        private int _lastLength;

        /// <summary>The header's bytes cannot be the trailer: only deflate data and what follows is searched.</summary>
        public override void DataStarts() => _previousLength = _lastLength = 0;

        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            if (!await owner.FillAsync(1, cancellationToken))
            {
                return 0;
            }

            var n = Math.Min(Math.Min(destination.Length, Piece), owner._end - owner._start);
            var piece = owner._buffer.AsSpan(owner._start, n);
            piece.CopyTo(destination.Span);
            _last.AsSpan(0, _lastLength).CopyTo(_previous);
            _previousLength = _lastLength;
            piece.CopyTo(_last);
            _lastLength = n;
            owner._start += n;
            return n;
        }

        public override async ValueTask FinishAsync(ReadOnlyMemory<byte> trailer, CancellationToken cancellationToken)
        {
            // The pieces taken last, then up to 8 bytes the object has after them.
            await owner.FillAsync(8, cancellationToken);
            var ahead = Math.Min(8, owner._end - owner._start);
            try
            {
                Settle(trailer.Span, ahead);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(_previous);
                ArrayPool<byte>.Shared.Return(_last);
                (_previous, _last) = ([], []);
            }
        }

        private void Settle(ReadOnlySpan<byte> trailer, int ahead)
        {
            var taken = _previousLength + _lastLength;
            var window = _previous.AsSpan(0, taken + ahead);
            _last.AsSpan(0, _lastLength).CopyTo(window[_previousLength..]);
            owner._buffer.AsSpan(owner._start, ahead).CopyTo(window[taken..]);
            // The first match, moved on while the next byte starts a match too: an empty member's trailer is eight
            // zero bytes right after deflate data that ends in a zero, so it first matches one byte early.
            var at = window.IndexOf(trailer);
            while (at >= 0 && at + 9 <= window.Length && window.Slice(at + 1, 8).SequenceEqual(trailer))
            {
                at++;
            }

            if (at < 0)
            {
                // A trailer with the right length but not the right CRC-32 is damage; no trailer at all where the
                // object ends, a cut.
                if (window.LastIndexOf(trailer[4..]) < 4 && owner._innerEnded && owner._end - owner._start < 8)
                {
                    throw new TruncatedGzipException("The object ends inside a gzip member.");
                }

                throw new InvalidDataException("A gzip member's data does not match its trailer (CRC-32 and length).");
            }

            var after = at + 8;
            if (after <= taken)
            {
                owner.PushBack(window[after..taken]);
            }
            else
            {
                owner._start += after - taken;
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_output is not null)
        {
            await _output.DisposeAsync();
        }

        if (ownsInner)
        {
            await inner.DisposeAsync();
        }

        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }

        await base.DisposeAsync();
    }
}
