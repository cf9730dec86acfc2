using System.Buffers;
using System.Text.Json;

namespace IngestService.LoadGen;

/// <summary>
/// Writes a sensor's events straight into one reusable buffer: the bytes of an event are fixed when it is
/// first sent, so every resend carries exactly the same body.
/// </summary>
/// <remarks>One instance per sensor: its writer is reset, not reallocated, for every event.</remarks>
internal sealed class EventBodies(string runId, int eventBytes, bool randomReadings = false, string sensorId = "")
{
    private readonly string _runId = runId;
    private readonly int _eventBytes = eventBytes;
    private readonly bool _randomReadings = randomReadings;
    private readonly Utf8JsonWriter _writer = new(Stream.Null);
    private byte[] _pad = [];

    /// <summary>Appends one event as a single JSON line (no newline).</summary>
    public void Write(ArrayBufferWriter<byte> output, long seq, long tsUnixMs)
    {
        var start = output.WrittenCount;
        var writer = _writer;
        writer.Reset(output);
        {
            writer.WriteStartObject();
            Span<byte> ts = stackalloc byte[32];
            var length = FormatTs(tsUnixMs, ts);
            writer.WriteString("ts"u8, ts[..length]);
            writer.WriteNumber("seq"u8, seq);
            writer.WriteString("run"u8, _runId);
            writer.WriteNumber("temperature"u8, 18 + (seq % 100 / 10.0));
            writer.WriteBoolean("ok"u8, true);
            writer.Flush();

            if (_randomReadings)
            {
                WriteReadings(writer, output, start, seq);
                writer.WriteEndObject();
                writer.Flush();
                return;
            }

            // Pad after measuring what is already there so the whole event lands near the asked size.
            var natural = output.WrittenCount - start + 1;
            var padding = _eventBytes - natural - ",\"pad\":\"\"".Length;
            if (padding > 0)
            {
                if (_pad.Length < padding)
                {
                    _pad = new byte[padding];
                    _pad.AsSpan().Fill((byte)'x');
                }

                writer.WriteString("pad"u8, _pad.AsSpan(0, padding));
            }

            writer.WriteEndObject();
            writer.Flush();
        }
    }

    /// <summary>
    /// Readings <c>"r0":123.456,…</c> of random value until the event is about the asked size, drawn from the sensor and
    /// the seq: writing the same event again gives the same bytes, and two sensors' events of one seq differ (drawn from
    /// the seq alone, a window's events of a thousand sensors were a few distinct bodies and compressed 20 to 1).
    /// </summary>
    private void WriteReadings(Utf8JsonWriter writer, ArrayBufferWriter<byte> output, int start, long seq)
    {
        var random = new Random(HashCode.Combine(seq, _runId, sensorId));
        Span<byte> name = stackalloc byte[8];
        for (var k = 0; writer.BytesPending + output.WrittenCount - start + 14 <= _eventBytes; k++)
        {
            name[0] = (byte)'r';
            System.Buffers.Text.Utf8Formatter.TryFormat(k, name[1..], out var digits);
            writer.WriteNumber(name[..(1 + digits)], Math.Round(random.NextDouble() * 1000, 3));
        }
    }

    /// <summary>Formats <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, the form the store normalises to.</summary>
    public static int FormatTs(long unixMs, Span<byte> destination)
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime;
        time.TryFormat(destination, out var written, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        return written;
    }
}
