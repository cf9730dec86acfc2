using System.Buffers;
using System.Runtime.CompilerServices;

namespace IngestService.Events;

/// <summary>
/// Streams the lines of plain or gzip NDJSON, or both in one object (<see cref="MixedGzipStream"/>: gzip members are
/// told by their magic bytes at a line start, so names do not matter and Firehose's concatenated records work),
/// with a bounded buffer. A line longer than the limit is reported
/// as <see cref="Line.TooLong"/> and skipped, never buffered whole.
/// </summary>
public static class LineReader
{
    public const int MaxLineBytes = 2 * 1024 * 1024;

    /// <summary>One line without its newline. <see cref="Bytes"/> is valid only until the next line is read.</summary>
    public readonly record struct Line(ReadOnlyMemory<byte> Bytes, bool TooLong);

    public static async IAsyncEnumerable<Line> ReadAsync(Stream content, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var source = new MixedGzipStream(content);

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
}
