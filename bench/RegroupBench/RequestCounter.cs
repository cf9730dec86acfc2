using System.Runtime.CompilerServices;
using IngestService.Storage;

/// <summary>
/// Counts what a store is asked for in S3 billing units (a listing page per 1,000 keys), and the bytes written
/// to sensor-day keys, shared by every node of a run.
/// </summary>
internal sealed class RequestCounter
{
    public long Put;
    public long Get;
    public long Head;
    public long List;
    public long Delete;
    public long SensorDayPuts;
    public long SensorDayBytesWritten;
    public long RunBytesWritten;
    public long RunEventsWritten;
    public long SensorDayEventsWritten;

    public IObjectStore Wrap(IObjectStore inner) => new Counting(inner, this);

    /// <summary>The events a run about to be written holds, from its index (the stream is a seekable scratch file).</summary>
    private static long EventsOf(Stream run)
    {
        var start = run.Position;
        var tail = new byte[(int)Math.Min(IngestService.Storage.Runs.RunIndex.TailBytes, run.Length - start)];
        run.Position = run.Length - tail.Length;
        run.ReadExactly(tail);
        var index = IngestService.Storage.Runs.RunIndex.TryDecode(tail, run.Length - start, out var missing);
        if (index is null)
        {
            // An index longer than the tail a reader asks for first (a run of thousands of segments): read it all.
            var rest = new byte[(int)missing.Length];
            run.Position = start + missing.Offset;
            run.ReadExactly(rest);
            index = IngestService.Storage.Runs.RunIndex.TryDecode(rest, run.Length - start, out _);
        }

        run.Position = start;
        return index?.Events ?? 0;
    }

    private sealed class Counting(IObjectStore inner, RequestCounter counter) : IObjectStore
    {
        public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref counter.Get);
            return inner.GetAsync(key, cancellationToken);
        }

        public Task<StoredObject?> GetRangeAsync(string key, ObjectRange range, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref counter.Get);
            return inner.GetRangeAsync(key, range, cancellationToken);
        }

        public Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref counter.Head);
            return inner.HeadAsync(key, cancellationToken);
        }

        public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            var keys = 0;
            Interlocked.Increment(ref counter.List);
            await foreach (var info in inner.ListAsync(prefix, startAfter, cancellationToken))
            {
                if (++keys % 1000 == 0)
                {
                    Interlocked.Increment(ref counter.List);
                }

                yield return info;
            }
        }

        public Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref counter.Put);
            if (key.StartsWith("sensors/", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref counter.SensorDayPuts);
                Interlocked.Add(ref counter.SensorDayBytesWritten, content.Length - content.Position);
                if (metadata is not null && metadata.TryGetValue("events", out var events))
                {
                    Interlocked.Add(ref counter.SensorDayEventsWritten, long.Parse(events, System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            else if (key.EndsWith(".run", StringComparison.Ordinal))
            {
                Interlocked.Add(ref counter.RunBytesWritten, content.Length - content.Position);
                Interlocked.Add(ref counter.RunEventsWritten, EventsOf(content));
            }

            return inner.PutAsync(key, content, condition, metadata, cancellationToken);
        }

        public Task DeleteAsync(string key, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref counter.Delete);
            return inner.DeleteAsync(key, cancellationToken);
        }

        public Task<string?> CheckReadyAsync(CancellationToken cancellationToken) => inner.CheckReadyAsync(cancellationToken);
    }
}
