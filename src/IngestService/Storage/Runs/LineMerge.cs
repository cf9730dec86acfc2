using System.Runtime.CompilerServices;
using IngestService.Events;

namespace IngestService.Storage.Runs;

/// <summary>
/// The store's order and its union: lines ordered by (sensor id, ordinal), <c>ts</c>, <c>seq</c> (none first), then
/// bytes, so the day follows from <c>ts</c> and every writer agrees; merging sorted inputs keeps each identity
/// once per sensor-day, the copy that sorts first (the earliest <c>receivedAt</c> of the same event).
/// </summary>
public static class LineMerge
{
    public static readonly Comparer<StoredLine> Order = Comparer<StoredLine>.Create(Compare);

    public static int Compare(StoredLine a, StoredLine b)
    {
        var c = string.CompareOrdinal(a.SensorId, b.SensorId);
        return c != 0 ? c : StoredLine.Compare(a, b);
    }

    /// <summary>
    /// Merges inputs that are each in <see cref="Order"/> into one, dropping repeated identities. Memory: one line
    /// per input, the <c>seq</c>s of the current sensor-day and the seq-less identities of the current <c>ts</c>.
    /// </summary>
    public static async IAsyncEnumerable<StoredLine> MergeAsync(IReadOnlyList<IAsyncEnumerable<StoredLine>> inputs, DuplicateCounter? duplicates, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var enumerators = new List<IAsyncEnumerator<StoredLine>>(inputs.Count);
        try
        {
            var queue = new PriorityQueue<int, StoredLine>(Order);
            foreach (var input in inputs)
            {
                var e = input.GetAsyncEnumerator(cancellationToken);
                enumerators.Add(e);
                if (await e.MoveNextAsync())
                {
                    queue.Enqueue(enumerators.Count - 1, e.Current);
                }
            }

            var unique = new Unique();
            while (queue.TryDequeue(out var i, out var line))
            {
                if (unique.IsNew(line))
                {
                    yield return line;
                }
                else if (duplicates is not null)
                {
                    duplicates.Add();
                }

                if (await enumerators[i].MoveNextAsync())
                {
                    queue.Enqueue(i, enumerators[i].Current);
                }
            }
        }
        finally
        {
            foreach (var e in enumerators)
            {
                await e.DisposeAsync();
            }
        }
    }

    /// <summary>Drops repeated identities from one input in <see cref="Order"/>.</summary>
    public static IEnumerable<StoredLine> Distinct(IEnumerable<StoredLine> sorted, DuplicateCounter? duplicates)
    {
        var unique = new Unique();
        foreach (var line in sorted)
        {
            if (unique.IsNew(line))
            {
                yield return line;
            }
            else if (duplicates is not null)
            {
                duplicates.Add();
            }
        }
    }

    /// <summary>The identities seen in the current sensor-day of a stream in <see cref="Order"/>.</summary>
    private sealed class Unique
    {
        private readonly HashSet<long> _seqs = [];
        private readonly HashSet<EventIdentity> _sameTs = [];
        private string? _sensorId;
        private DateOnly _day;
        private long _ts = long.MinValue;

        public bool IsNew(StoredLine line)
        {
            if (!string.Equals(line.SensorId, _sensorId, StringComparison.Ordinal) || line.Day != _day)
            {
                _sensorId = line.SensorId;
                _day = line.Day;
                _seqs.Clear();
                _sameTs.Clear();
            }

            if (line.Seq is { } seq)
            {
                return _seqs.Add(seq);
            }

            // Without seq the identity includes ts, so copies are neighbours: only this ts's identities matter.
            if (line.TsTicks != _ts)
            {
                _ts = line.TsTicks;
                _sameTs.Clear();
            }

            return _sameTs.Add(line.Identity);
        }
    }
}

/// <summary>Counts the duplicates merges dropped.</summary>
public sealed class DuplicateCounter
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    /// <summary>Counts one dropped line; the merges of units worked at the same time share a pass's counter.</summary>
    public void Add(long count = 1) => Interlocked.Add(ref _count, count);
}
