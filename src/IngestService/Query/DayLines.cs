using IngestService.Events;
using IngestService.Storage;

namespace IngestService.Query;

/// <summary>
/// The stored lines of one day, filtered to <c>from ≤ ts &lt; to</c>, held in memory: the unit the CSV, JSON
/// and Parquet writers and the range read work on. One day is the bound: a range is read a day at a time.
/// </summary>
public sealed class DayLines : IDisposable
{
    private readonly MemoryStream _buffer;

    private DayLines(DateOnly day, MemoryStream buffer, IReadOnlyList<string> etags, int count, long storedBytes)
    {
        Day = day;
        _buffer = buffer;
        ETags = etags;
        Count = count;
        StoredBytes = storedBytes;
    }

    public DateOnly Day { get; }

    /// <summary>The ETags of the stored objects read, in order.</summary>
    public IReadOnlyList<string> ETags { get; }

    public int Count { get; }

    /// <summary>The size of the stored (gzip) objects read.</summary>
    public long StoredBytes { get; }

    /// <summary>Newline-terminated NDJSON lines, in stored order.</summary>
    public ReadOnlyMemory<byte> Ndjson => _buffer.GetBuffer().AsMemory(0, (int)_buffer.Length);

    /// <summary>Each line, without its newline.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> Lines
    {
        get
        {
            var rest = Ndjson;
            while (!rest.IsEmpty)
            {
                var end = rest.Span.IndexOf((byte)'\n');
                yield return rest[..end];
                rest = rest[(end + 1)..];
            }
        }
    }

    /// <summary>
    /// Reads the sensor-day objects of <paramref name="utcDays"/> in order and keeps the lines with
    /// <paramref name="fromTicks"/> ≤ ts &lt; <paramref name="toTicks"/>; null when none of the objects exists.
    /// </summary>
    public static async Task<DayLines?> ReadAsync(
        IObjectStore store, string sensorPrefix, string sensorId, DateOnly day, IEnumerable<DateOnly> utcDays, long fromTicks, long toTicks, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var etags = new List<string>();
        var count = 0;
        var storedBytes = 0L;
        foreach (var utcDay in utcDays)
        {
            await using var stored = await store.GetAsync(SensorDayKey.For(sensorPrefix, sensorId, utcDay), cancellationToken);
            if (stored is null)
            {
                continue;
            }

            etags.Add(stored.Info.ETag);
            storedBytes += stored.Info.Size;
            await foreach (var line in LineReader.ReadAsync(stored.Content, cancellationToken))
            {
                if (StoredLine.TryRead(line.Bytes.Span, sensorId, out _, out _, out var ts, out _, identify: false) && ts >= fromTicks && ts < toTicks)
                {
                    buffer.Write(line.Bytes.Span);
                    buffer.WriteByte((byte)'\n');
                    count++;
                }
            }
        }

        if (etags.Count == 0)
        {
            buffer.Dispose();
            return null;
        }

        return new DayLines(day, buffer, etags, count, storedBytes);
    }

    public void Dispose() => _buffer.Dispose();
}
