using System.Text.Json;

namespace IngestService.LoadGen;

/// <summary>How far a read-back falls short of what was acknowledged.</summary>
internal readonly record struct VerifyCounts(long Missing, long Duplicates, long OutOfOrder)
{
    public bool Clean => Missing == 0 && Duplicates == 0 && OutOfOrder == 0;

    public static VerifyCounts operator +(VerifyCounts a, VerifyCounts b) =>
        new(a.Missing + b.Missing, a.Duplicates + b.Duplicates, a.OutOfOrder + b.OutOfOrder);
}

/// <summary>Compares one sensor-day as the read API returns it (NDJSON) with the events acknowledged for it.</summary>
internal static class DayCheck
{
    /// <remarks>
    /// <c>ndjson</c> holds the stored lines (<c>{"sensorId","seq","ts","receivedAt","event"}</c>), <c>expected</c>
    /// the acknowledged events of this sensor and day, seq → ts in Unix milliseconds.
    /// A line whose (ts, seq) sorts before the line above it counts once as out of order; each extra copy
    /// of a seq counts once as a duplicate, whether or not that event was acknowledged (an event whose answer
    /// was lost may be stored, but never twice); an acknowledged seq without a line counts as missing.
    /// </remarks>
    public static VerifyCounts Check(ReadOnlySpan<byte> ndjson, string sensorId, IReadOnlyDictionary<long, long> expected)
    {
        var seen = new HashSet<long>();
        long duplicates = 0;
        long outOfOrder = 0;
        (DateTimeOffset Ts, long Seq)? previous = null;
        var lineNumber = 0;
        while (!ndjson.IsEmpty)
        {
            var end = ndjson.IndexOf((byte)'\n');
            var line = end < 0 ? ndjson : ndjson[..end];
            ndjson = end < 0 ? [] : ndjson[(end + 1)..];
            lineNumber++;
            line = line.Trim(" \t\r"u8);
            if (line.IsEmpty)
            {
                continue;
            }

            var (lineSensor, seq, ts) = ReadLine(line, lineNumber);
            if (lineSensor != sensorId)
            {
                throw new InvalidDataException($"line {lineNumber} of {sensorId}'s day belongs to sensor '{lineSensor}'");
            }

            // Events without seq are not the load generator's; order them before any seq at the same ts.
            var key = (ts, seq ?? -1);
            if (previous is { } before && (key.ts < before.Ts || (key.ts == before.Ts && key.Item2 < before.Seq)))
            {
                outOfOrder++;
            }

            previous = key;
            if (seq is { } s && !seen.Add(s))
            {
                duplicates++;
            }
        }

        var missing = expected.Keys.LongCount(seq => !seen.Contains(seq));
        return new VerifyCounts(missing, duplicates, outOfOrder);
    }

    private static (string? SensorId, long? Seq, DateTimeOffset Ts) ReadLine(ReadOnlySpan<byte> line, int lineNumber)
    {
        string? sensorId = null;
        long? seq = null;
        DateTimeOffset? ts = null;
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new InvalidDataException($"line {lineNumber} is not a JSON object");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("sensorId"u8))
                {
                    reader.Read();
                    sensorId = reader.GetString();
                }
                else if (reader.ValueTextEquals("seq"u8))
                {
                    reader.Read();
                    seq = reader.TokenType == JsonTokenType.Null ? null : reader.GetInt64();
                }
                else if (reader.ValueTextEquals("ts"u8))
                {
                    reader.Read();
                    ts = reader.GetDateTimeOffset();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"line {lineNumber} is not a stored event: {ex.Message}", ex);
        }

        if (ts is null)
        {
            throw new InvalidDataException($"line {lineNumber} has no ts");
        }

        return (sensorId, seq, ts.Value);
    }
}
