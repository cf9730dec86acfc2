using IngestService.Events;
using IngestService.Storage.Runs;

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
    /// Reads the sensor-days of <paramref name="utcDays"/> in order (each its sealed object, merged with the runs that
    /// hold it when there are any) and keeps the lines with <paramref name="fromTicks"/> ≤ ts &lt; <paramref name="toTicks"/>;
    /// null when none of the days has data.
    /// </summary>
    public static async Task<DayLines?> ReadAsync(
        SensorDayReader reader, string sensorId, DateOnly day, IEnumerable<DateOnly> utcDays, long fromTicks, long toTicks, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var etags = new List<string>();
        var count = 0;
        var storedBytes = 0L;
        foreach (var utcDay in utcDays)
        {
            var parts = await reader.PartsAsync(sensorId, utcDay, cancellationToken);
            var stored = await reader.OpenSealedAsync(parts, cancellationToken);
            if (stored is null && parts.SealedOnly)
            {
                continue;
            }

            if (stored is not null)
            {
                etags.Add(stored.Info.ETag);
                storedBytes += stored.Info.Size;
            }

            if (parts.SealedOnly)
            {
                await using (stored)
                {
                    count += await FilterAsync(stored!.Content, sensorId, fromTicks, toTicks, buffer, cancellationToken);
                }

                continue;
            }

            etags.AddRange(parts.RunTags);
            storedBytes += parts.Runs.Sum(r => r.Segment.Length);
            await foreach (var line in reader.ReadAsync(parts, stored, null, cancellationToken))
            {
                if (line.TsTicks >= fromTicks && line.TsTicks < toTicks)
                {
                    buffer.Write(line.Bytes);
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

    /// <summary>A sealed object's lines in range, without computing identities (it holds each once already).</summary>
    private static async Task<int> FilterAsync(Stream content, string sensorId, long fromTicks, long toTicks, MemoryStream buffer, CancellationToken cancellationToken)
    {
        var count = 0;
        await foreach (var line in LineReader.ReadAsync(content, cancellationToken))
        {
            if (StoredLine.TryRead(line.Bytes.Span, sensorId, out _, out _, out var ts, out _, identify: false) && ts >= fromTicks && ts < toTicks)
            {
                buffer.Write(line.Bytes.Span);
                buffer.WriteByte((byte)'\n');
                count++;
            }
        }

        return count;
    }

    public void Dispose() => _buffer.Dispose();
}
