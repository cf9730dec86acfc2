using System.Text.Json;
using System.Text.Unicode;

namespace IngestService.Ingest;

/// <summary>What the service reads out of an event: everything else is the sensor's own.</summary>
public readonly record struct EventHeader(DateTimeOffset Ts, long? Seq);

/// <summary>
/// Validates one event with a single forward pass of <see cref="Utf8JsonReader"/>: the whole body must be
/// one well-formed JSON object, and only the top-level <c>ts</c> and <c>seq</c> are interpreted.
/// </summary>
public static class EventParser
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    public static bool TryParse(ReadOnlySpan<byte> json, DateTimeOffset now, TimeSpan maxFutureSkew, out EventHeader header, out string? error)
    {
        header = default;
        if (!Utf8.IsValid(json))
        {
            error = "the body is not valid UTF-8";
            return false;
        }

        DateTimeOffset? ts = null;
        long? seq = null;
        var seenSeq = false;
        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = "an event must be a JSON object, such as {\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1}";
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("ts"u8))
                {
                    if (ts is not null)
                    {
                        error = "ts appears twice; an event has exactly one ts";
                        return false;
                    }

                    reader.Read();
                    if (!TryReadTs(ref reader, out var value, out error))
                    {
                        return false;
                    }

                    ts = value;
                }
                else if (reader.ValueTextEquals("seq"u8))
                {
                    if (seenSeq)
                    {
                        error = "seq appears twice; an event has at most one seq";
                        return false;
                    }

                    seenSeq = true;
                    reader.Read();
                    if (!TryReadSeq(ref reader, out seq, out error))
                    {
                        return false;
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Reading past the closing brace makes the reader reject anything that trails the object.
            while (reader.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            error = $"the body is not valid JSON: {ex.Message}";
            return false;
        }

        if (ts is null)
        {
            error = "the event has no ts; add an RFC 3339 timestamp such as \"ts\":\"2026-11-21T10:00:00Z\"";
            return false;
        }

        if (ts.Value > now + maxFutureSkew)
        {
            error = $"ts {Timestamp.ToUtcString(ts.Value)} is more than {maxFutureSkew} ahead of this node's clock ({Timestamp.ToUtcString(now)}); check the sensor's clock";
            return false;
        }

        header = new EventHeader(ts.Value, seq);
        error = null;
        return true;
    }

    private static bool TryReadTs(ref Utf8JsonReader reader, out DateTimeOffset value, out string? error)
    {
        value = default;
        if (reader.TokenType != JsonTokenType.String)
        {
            error = "ts must be a string holding an RFC 3339 timestamp, such as \"2026-11-21T10:00:00Z\"";
            return false;
        }

        if (reader.ValueIsEscaped)
        {
            // An escaped form is never shorter than the text it stands for.
            Span<byte> unescaped = stackalloc byte[128];
            if (reader.ValueSpan.Length > unescaped.Length)
            {
                error = "ts is too long to be a timestamp";
                return false;
            }

            var length = reader.CopyString(unescaped);
            return Timestamp.TryParse(unescaped[..length], out value, out error);
        }

        return Timestamp.TryParse(reader.ValueSpan, out value, out error);
    }

    private static bool TryReadSeq(ref Utf8JsonReader reader, out long? seq, out string? error)
    {
        seq = null;
        error = null;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.Number)
        {
            error = "seq must be a JSON integer from 0 to 9223372036854775807";
            return false;
        }

        var raw = reader.ValueSpan;
        if (raw.IndexOfAny("."u8) >= 0 || raw.IndexOfAny("eE"u8) >= 0 || !reader.TryGetInt64(out var value))
        {
            error = raw.Length > 0 && raw[0] == '-'
                ? "seq must not be negative; it counts up from 0"
                : "seq must be a whole number from 0 to 9223372036854775807, written without a fraction or exponent";
            return false;
        }

        if (value < 0)
        {
            error = "seq must not be negative; it counts up from 0";
            return false;
        }

        seq = value;
        return true;
    }
}
