using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace IngestService.Delivery.Kpl;

/// <summary>
/// The KPL aggregation format, which the Kinesis Client Library and Firehose take apart on their own:
/// magic <c>F3 89 9A C2</c>, a protobuf <c>AggregatedRecord</c>, then the MD5 of the protobuf bytes.
/// The message is small and fixed, so it is written by hand here rather than from generated code:
/// <code>
/// AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
/// Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; required bytes data = 3; }
/// </code>
/// </summary>
public static class AggregatedRecord
{
    public static ReadOnlySpan<byte> Magic => [0xF3, 0x89, 0x9A, 0xC2];

    /// <summary>The most one event can add to a record: its data, its framing, and its partition key in the table.</summary>
    public static int WorstCaseSize(PendingEvent e) => e.Length + e.SensorId.Length + 24;

    /// <summary>Bytes around the protobuf body.</summary>
    public const int FrameBytes = 4 + 16;

    /// <summary>
    /// Encodes <paramref name="events"/> (indexes into <paramref name="window"/>) into a pooled buffer that the
    /// caller returns to <see cref="ArrayPool{T}.Shared"/>. Answers the buffer and the record's length.
    /// </summary>
    public static (byte[] Buffer, int Length) Encode(IReadOnlyList<PendingEvent> window, ReadOnlySpan<int> events)
    {
        var capacity = FrameBytes;
        foreach (var i in events)
        {
            capacity += WorstCaseSize(window[i]);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(capacity);
        Magic.CopyTo(buffer);
        var n = Magic.Length;

        // The partition key table first: each distinct sensor once, in order of first appearance.
        var keys = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var i in events)
        {
            var key = window[i].SensorId;
            if (keys.TryAdd(key, keys.Count))
            {
                buffer[n++] = (1 << 3) | 2;
                n += WriteVarint(buffer.AsSpan(n), (ulong)key.Length);
                n += Encoding.ASCII.GetBytes(key, buffer.AsSpan(n));
            }
        }

        foreach (var i in events)
        {
            var e = window[i];
            var index = (ulong)keys[e.SensorId];
            var inner = 1 + VarintLength(index) + 1 + VarintLength((ulong)e.Length) + e.Length;
            buffer[n++] = (3 << 3) | 2;
            n += WriteVarint(buffer.AsSpan(n), (ulong)inner);
            buffer[n++] = (1 << 3) | 0;
            n += WriteVarint(buffer.AsSpan(n), index);
            buffer[n++] = (3 << 3) | 2;
            n += WriteVarint(buffer.AsSpan(n), (ulong)e.Length);
            e.Line.Span.CopyTo(buffer.AsSpan(n));
            n += e.Length;
        }

        n += MD5.HashData(buffer.AsSpan(Magic.Length, n - Magic.Length), buffer.AsSpan(n));
        return (buffer, n);
    }

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        var n = 0;
        while (value >= 0x80)
        {
            destination[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[n++] = (byte)value;
        return n;
    }

    private static int VarintLength(ulong value)
    {
        var n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }

        return n;
    }
}
