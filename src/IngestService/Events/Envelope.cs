using System.Text;
using System.Buffers.Text;

namespace IngestService.Events;

/// <summary>
/// Writes the stored line <c>{"sensorId":…,"seq":…,"ts":…,"receivedAt":…,"event":…}\n</c> straight into a
/// pooled buffer: the event's bytes are copied, never re-serialised.
/// </summary>
public static class Envelope
{
    // Each name with the punctuation around it, made once from StoredFields so the writer and the readers agree.
    private static readonly byte[] SensorIdKey = Key("", StoredFields.SensorId, "\"");
    private static readonly byte[] SeqKey = Key("\",", StoredFields.Seq, "");
    private static readonly byte[] TsKey = Key(",", StoredFields.Ts, "\"");
    private static readonly byte[] ReceivedAtKey = Key("\",", StoredFields.ReceivedAt, "\"");
    private static readonly byte[] EventKey = Key("\",", StoredFields.Event, "");

    private const int Overhead = 64 + 20 + (2 * Timestamp.MaxFormattedLength) + 8;

    /// <summary>The most bytes <see cref="Write"/> can take for this sensor and body.</summary>
    public static int MaxLength(string sensorId, int bodyLength) => bodyLength + sensorId.Length + Overhead;

    public static int Write(Span<byte> d, string sensorId, EventHeader header, DateTimeOffset receivedAt, ReadOnlySpan<byte> body)
    {
        var n = Append(d, 0, "{"u8);
        n = WriteIdentity(d, n, sensorId, header);
        n = Append(d, n, ReceivedAtKey);
        n += Timestamp.Format(receivedAt, d[n..]);
        n = Append(d, n, EventKey);
        body.CopyTo(d[n..]);
        // A raw CR or LF can only be whitespace between tokens in valid JSON (never inside a string), so turning
        // it into a space keeps the event's meaning and length while keeping it on one NDJSON line.
        d.Slice(n, body.Length).Replace((byte)'\n', (byte)' ');
        d.Slice(n, body.Length).Replace((byte)'\r', (byte)' ');
        n += body.Length;
        return Append(d, n, "}\n"u8);
    }

    /// <summary>
    /// Writes <c>"sensorId":"…","seq":…,"ts":"…</c> (the closing quote of <c>ts</c> is the caller's): the
    /// identity both the stored line and the 200 answer carry. Sensor ids are validated to plain ASCII that
    /// JSON never escapes.
    /// </summary>
    public static int WriteIdentity(Span<byte> d, int n, string sensorId, EventHeader header)
    {
        n = Append(d, n, SensorIdKey);
        foreach (var c in sensorId)
        {
            d[n++] = (byte)c;
        }

        n = Append(d, n, SeqKey);
        if (header.Seq is { } seq)
        {
            Utf8Formatter.TryFormat(seq, d[n..], out var written);
            n += written;
        }
        else
        {
            n = Append(d, n, "null"u8);
        }

        n = Append(d, n, TsKey);
        return n + Timestamp.Format(header.Ts, d[n..]);
    }

    private static byte[] Key(string before, string name, string after) => Encoding.UTF8.GetBytes($"{before}\"{name}\":{after}");

    internal static int Append(Span<byte> d, int n, ReadOnlySpan<byte> s)
    {
        s.CopyTo(d[n..]);
        return n + s.Length;
    }
}
