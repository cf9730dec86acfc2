using System.Buffers;
using System.IO.Compression;
using System.Runtime.CompilerServices;

namespace IngestService.Regroup;

/// <summary>
/// Streams the lines of plain or gzip NDJSON (told apart by the gzip magic bytes, so names do not matter and
/// Firehose's concatenated gzip members work) with a bounded buffer. A line longer than the limit is reported
/// as <see cref="Line.TooLong"/> and skipped, never buffered whole.
/// </summary>
public static class LineReader
{
    public const int MaxLineBytes = 2 * 1024 * 1024;

    /// <summary>One line without its newline. <see cref="Bytes"/> is valid only until the next line is read.</summary>
    public readonly record struct Line(ReadOnlyMemory<byte> Bytes, bool TooLong);

    public static async IAsyncEnumerable<Line> ReadAsync(Stream content, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var head = new byte[2];
        var headLength = await content.ReadAtLeastAsync(head, 2, throwOnEndOfStream: false, cancellationToken);
        var prefixed = new PrefixedStream(head.AsMemory(0, headLength), content);
        Stream source = headLength == 2 && head[0] == 0x1f && head[1] == 0x8b ? new GZipStream(prefixed, CompressionMode.Decompress) : prefixed;
        await using var _ = source;

        var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        try
        {
            int start = 0, end = 0;
            var skipping = false;
            while (true)
            {
                var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    var lineEnd = start + newline;
                    if (skipping)
                    {
                        skipping = false;
                    }
                    else if (lineEnd > start)
                    {
                        yield return new Line(buffer.AsMemory(start, lineEnd - start), false);
                    }

                    start = lineEnd + 1;
                    continue;
                }

                if (end - start >= MaxLineBytes)
                {
                    if (!skipping)
                    {
                        yield return new Line(ReadOnlyMemory<byte>.Empty, true);
                    }

                    skipping = true;
                    start = end = 0;
                }

                if (start > 0)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    start = 0;
                }

                if (end == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, MaxLineBytes + 1));
                    buffer.AsSpan(0, end).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await source.ReadAsync(buffer.AsMemory(end), cancellationToken);
                if (read == 0)
                {
                    if (end > start && !skipping)
                    {
                        yield return new Line(buffer.AsMemory(start, end - start), false);
                    }

                    yield break;
                }

                end += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Gives back the bytes read to sniff the format before the rest of the stream.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefix.IsEmpty)
            {
                return await inner.ReadAsync(buffer, cancellationToken);
            }

            var n = Math.Min(buffer.Length, _prefix.Length);
            _prefix[..n].CopyTo(buffer);
            _prefix = _prefix[n..];
            return n;
        }

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
}
