using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace IngestService.Storage.Runs;

/// <summary>
/// One (sensor, day) segment of a run: gzip members at <see cref="Offset"/> of <see cref="Length"/> bytes
/// holding <see cref="Events"/> lines (<see cref="Bytes"/> once inflated), ordered by <c>ts</c> then <c>seq</c>.
/// A compaction that copies segments whole leaves several members in one (<see cref="SegmentMerge"/>).
/// <see cref="MinSeq"/> and <see cref="MaxSeq"/> are -1 when no line has a <c>seq</c>.
/// </summary>
public sealed record RunSegment(string SensorId, DateOnly Day, long Offset, long Length, long Events, long Bytes, long MinTicks, long MaxTicks, long MinSeq, long MaxSeq);

/// <summary>
/// The footer of a run: its segments in (sensor, day) order, then a fixed trailer (magic, index offset, index
/// length), so one suffix-range GET of <see cref="TailBytes"/> reads the whole index of a run of up to about
/// 2,000 sensor-days, and a second ranged GET the rest of a larger one.
/// </summary>
public sealed class RunIndex
{
    /// <summary>How much of a run's end a reader asks for first.</summary>
    public const int TailBytes = 64 * 1024;

    public const int TrailerBytes = 24;

    private static readonly byte[] Magic = "IGRUN001"u8.ToArray();

    public RunIndex(IReadOnlyList<RunSegment> segments, long dataLength)
    {
        Segments = segments;
        DataLength = dataLength;
    }

    /// <summary>The segments, ordered by sensor id (ordinal) and day.</summary>
    public IReadOnlyList<RunSegment> Segments { get; }

    /// <summary>Where the gzip members end and the index begins.</summary>
    public long DataLength { get; }

    public long Events => Segments.Sum(s => s.Events);

    /// <summary>The segment of one sensor-day, or null when this run has no line of it (exact, case-sensitive id).</summary>
    public RunSegment? Find(string sensorId, DateOnly day)
    {
        int lo = 0, hi = Segments.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var s = Segments[mid];
            var c = string.CompareOrdinal(s.SensorId, sensorId);
            if (c == 0)
            {
                c = s.Day.CompareTo(day);
            }

            if (c == 0)
            {
                return s;
            }

            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return null;
    }

    /// <summary>The gzip-compressed index followed by the trailer, as written at the end of a run.</summary>
    public static byte[] Encode(IReadOnlyList<RunSegment> segments, long dataLength)
    {
        using var body = new MemoryStream();
        using (var gzip = new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true))
        using (var writer = new BinaryWriter(gzip, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(segments.Count);
            foreach (var s in segments)
            {
                writer.Write(s.SensorId);
                writer.Write(s.Day.DayNumber);
                writer.Write(s.Offset);
                writer.Write(s.Length);
                writer.Write(s.Events);
                writer.Write(s.Bytes);
                writer.Write(s.MinTicks);
                writer.Write(s.MaxTicks);
                writer.Write(s.MaxSeq);
            }

            // The least seqs come after the entries, where a reader from before they existed stops reading: during a
            // rolling upgrade old and new nodes read each other's runs.
            foreach (var s in segments)
            {
                writer.Write(s.MinSeq);
            }
        }

        var indexLength = body.Length;
        var trailer = new byte[TrailerBytes];
        Magic.CopyTo(trailer, 0);
        BinaryPrimitives.WriteInt64LittleEndian(trailer.AsSpan(8), dataLength);
        BinaryPrimitives.WriteInt64LittleEndian(trailer.AsSpan(16), indexLength);
        body.Write(trailer);
        return body.ToArray();
    }

    /// <summary>
    /// Reads the index from the end of a run of <paramref name="size"/> bytes whose last bytes are
    /// <paramref name="tail"/>. Answers null with the range still to fetch when the index is longer than the tail.
    /// </summary>
    public static RunIndex? TryDecode(ReadOnlySpan<byte> tail, long size, out ObjectRange missing)
    {
        missing = default;
        if (tail.Length < TrailerBytes || !tail[^TrailerBytes..^16].SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a run: the trailer's magic number is missing.");
        }

        var dataLength = BinaryPrimitives.ReadInt64LittleEndian(tail[^16..]);
        var indexLength = BinaryPrimitives.ReadInt64LittleEndian(tail[^8..]);
        if (dataLength < 0 || indexLength < 0 || dataLength + indexLength + TrailerBytes != size)
        {
            throw new InvalidDataException("Not a run: the trailer's offsets do not match its size.");
        }

        if (indexLength + TrailerBytes > tail.Length)
        {
            missing = new ObjectRange(dataLength, indexLength + TrailerBytes);
            return null;
        }

        return Decode(tail.Slice(tail.Length - TrailerBytes - (int)indexLength, (int)indexLength), dataLength);
    }

    private static RunIndex Decode(ReadOnlySpan<byte> index, long dataLength)
    {
        using var gzip = new GZipStream(new MemoryStream(index.ToArray()), CompressionMode.Decompress);
        using var reader = new BinaryReader(gzip, Encoding.UTF8);
        var count = reader.ReadInt32();
        var segments = new RunSegment[count];
        for (var i = 0; i < count; i++)
        {
            var (sensorId, day, offset, length) = (reader.ReadString(), DateOnly.FromDayNumber(reader.ReadInt32()), reader.ReadInt64(), reader.ReadInt64());
            var (events, bytes, minTicks, maxTicks, maxSeq) = (reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64());
            // A seq is never below 0, so 0 bounds the least seq of a run written before it was recorded (never copied wrongly).
            segments[i] = new RunSegment(sensorId, day, offset, length, events, bytes, minTicks, maxTicks, Math.Min(maxSeq, 0), maxSeq);
        }

        try
        {
            for (var i = 0; i < count; i++)
            {
                segments[i] = segments[i] with { MinSeq = reader.ReadInt64() };
            }
        }
        catch (EndOfStreamException)
        {
            // A run from before the least seqs: the bounds above stand.
        }

        return new RunIndex(segments, dataLength);
    }

    /// <summary>
    /// Reads a run's index: one suffix-range GET of its last <paramref name="indexBytes"/> (when known, exactly the index
    /// and trailer) or <see cref="TailBytes"/>, and a second only for an index longer than that guess.
    /// </summary>
    public static async Task<RunIndex?> ReadAsync(IObjectStore store, string key, long indexBytes, CancellationToken cancellationToken)
    {
        byte[] tail;
        long size;
        await using (var stored = await store.GetRangeAsync(key, ObjectRange.Suffix(indexBytes > 0 ? indexBytes : TailBytes), cancellationToken))
        {
            if (stored is null)
            {
                return null;
            }

            size = stored.Info.Size;
            tail = await ReadAllAsync(stored.Content, cancellationToken);
        }

        if (TryDecode(tail, size, out var missing) is { } index)
        {
            return index;
        }

        await using var rest = await store.GetRangeAsync(key, missing, cancellationToken);
        return rest is null ? null : TryDecode(await ReadAllAsync(rest.Content, cancellationToken), size, out _);
    }

    private static async Task<byte[]> ReadAllAsync(Stream content, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }
}
