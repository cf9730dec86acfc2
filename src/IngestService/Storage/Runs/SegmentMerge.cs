using System.Runtime.CompilerServices;
using IngestService.Events;

namespace IngestService.Storage.Runs;

/// <summary>
/// Merges runs a sensor-day at a time. The segments of one (sensor, day) are copied as the gzip members they are
/// when their lines cannot interleave or repeat: one input has the sensor-day, or each input's <c>ts</c> and
/// <c>seq</c> all lie below the next one's (then no identity is in two of them, and one after the other is the
/// store's order). Only sensor-days whose inputs overlap (a resent event, a sensor whose clock went back, late
/// data) are inflated, parsed and merged line by line. Runs of consecutive passes hold consecutive minutes, so
/// compactions mostly copy bytes: each event is inflated and parsed once after its first run, when its day is
/// sealed, instead of once per tier.
/// </summary>
public static class SegmentMerge
{
    private static readonly Comparer<RunSegment> SensorDayOrder = Comparer<RunSegment>.Create((a, b) =>
    {
        var c = string.CompareOrdinal(a.SensorId, b.SensorId);
        return c != 0 ? c : a.Day.CompareTo(b.Day);
    });

    /// <summary>A run being merged: its index, its data read front to back, and the days still live in it.</summary>
    public sealed class Input(RunIndex index, Stream data, IReadOnlySet<DateOnly> liveDays)
    {
        private long _position;
        private int _next;

        internal RunSegment? NextLive()
        {
            while (_next < index.Segments.Count)
            {
                var segment = index.Segments[_next++];
                if (liveDays.Contains(segment.Day))
                {
                    return segment;
                }
            }

            return null;
        }

        /// <summary>The data from <paramref name="segment"/>'s start to its end; what lies before it (days sealed since) is skipped.</summary>
        internal async Task<Stream> OpenAsync(RunSegment segment, CancellationToken cancellationToken)
        {
            if (segment.Offset > _position)
            {
                await using var skipped = new BoundedStream(data, segment.Offset - _position, leaveOpen: true);
                await skipped.CopyToAsync(Stream.Null, cancellationToken);
            }

            _position = segment.Offset + segment.Length;
            return new BoundedStream(data, segment.Length, leaveOpen: true);
        }
    }

    /// <summary>Writes the union of <paramref name="inputs"/> into <paramref name="writer"/>, each identity once per sensor-day.</summary>
    public static async Task WriteAsync(IReadOnlyList<Input> inputs, RunWriter writer, DuplicateCounter? duplicates, CancellationToken cancellationToken)
    {
        var queue = new PriorityQueue<int, RunSegment>(SensorDayOrder);
        for (var i = 0; i < inputs.Count; i++)
        {
            Enqueue(queue, inputs, i);
        }

        var group = new List<(Input Input, RunSegment Segment)>();
        while (queue.TryDequeue(out var i, out var first))
        {
            group.Clear();
            group.Add((inputs[i], first));
            Enqueue(queue, inputs, i);
            while (queue.TryPeek(out var j, out var next) && SensorDayOrder.Compare(next, first) == 0)
            {
                queue.Dequeue();
                group.Add((inputs[j], next));
                Enqueue(queue, inputs, j);
            }

            group.Sort((a, b) => a.Segment.MinTicks.CompareTo(b.Segment.MinTicks));
            if (Disjoint(group))
            {
                foreach (var (input, segment) in group)
                {
                    await using var data = await input.OpenAsync(segment, cancellationToken);
                    await writer.CopyAsync(segment, data, cancellationToken);
                }

                continue;
            }

            var lines = new List<IAsyncEnumerable<StoredLine>>(group.Count);
            foreach (var (input, segment) in group)
            {
                lines.Add(LinesAsync(await input.OpenAsync(segment, cancellationToken), cancellationToken));
            }

            await foreach (var line in LineMerge.MergeAsync(lines, duplicates, cancellationToken))
            {
                writer.Add(line);
            }
        }
    }

    private static void Enqueue(PriorityQueue<int, RunSegment> queue, IReadOnlyList<Input> inputs, int i)
    {
        if (inputs[i].NextLive() is { } segment)
        {
            queue.Enqueue(i, segment);
        }
    }

    /// <summary>Whether segments in <c>MinTicks</c> order hold no common identity and no lines out of order once concatenated.</summary>
    private static bool Disjoint(List<(Input Input, RunSegment Segment)> group)
    {
        for (var k = 1; k < group.Count; k++)
        {
            var (before, after) = (group[k - 1].Segment, group[k].Segment);
            if (before.MaxTicks >= after.MinTicks || (before.MaxSeq >= 0 && after.MinSeq >= 0 && before.MaxSeq >= after.MinSeq))
            {
                return false;
            }
        }

        return true;
    }

    private static async IAsyncEnumerable<StoredLine> LinesAsync(Stream segment, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using (segment)
        {
            await foreach (var line in LineReader.ReadAsync(segment, cancellationToken))
            {
                if (!line.TooLong && StoredLine.TryParse(line.Bytes.Span) is { } parsed)
                {
                    yield return parsed;
                }
            }

            // Whatever the reader left (nothing, for a well-formed segment) is not the next segment's.
            await segment.CopyToAsync(Stream.Null, cancellationToken);
        }
    }
}
