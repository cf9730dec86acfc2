using System.Buffers.Text;

namespace IngestService.Events;

/// <summary>
/// Writes the stored line <c>{"sensorId":…,"seq":…,"ts":…,"receivedAt":…,"event":…}\n</c> straight into a
/// pooled buffer: the event's bytes are copied, never re-serialised.
/// </summary>
public static class Envelope
{
    private const int Overhead = 64 + 20 + (2 * Timestamp.MaxFormattedLength) + 8;

    /// <summary>The most bytes <see cref="Write"/> can take for this sensor and body.</summary>
    public static int MaxLength(string sensorId, int bodyLength) => bodyLength + sensorId.Length + Overhead;

    public static int Write(Span<byte> d, string sensorId, EventHeader header, DateTimeOffset receivedAt, ReadOnlySpan<byte> body)
    {
        var n = Append(d, 0, "{"u8);
        n = WriteIdentity(d, n, sensorId, header);
        n = Append(d, n, "\",\"receivedAt\":\""u8);
        n += Timestamp.Format(receivedAt, d[n..]);
        n = Append(d, n, "\",\"event\":"u8);
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
        n = Append(d, n, "\"sensorId\":\""u8);
        foreach (var c in sensorId)
        {
            d[n++] = (byte)c;
        }

        n = Append(d, n, "\",\"seq\":"u8);
        if (header.Seq is { } seq)
        {
            Utf8Formatter.TryFormat(seq, d[n..], out var written);
            n += written;
        }
        else
        {
            n = Append(d, n, "null"u8);
        }

        n = Append(d, n, ",\"ts\":\""u8);
        return n + Timestamp.Format(header.Ts, d[n..]);
    }

    internal static int Append(Span<byte> d, int n, ReadOnlySpan<byte> s)
    {
        s.CopyTo(d[n..]);
        return n + s.Length;
    }
}
