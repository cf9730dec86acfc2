using System.Text.Json;
using System.Text.Unicode;
using IngestService.Events;

namespace IngestService.Ingest;

/// <summary>
/// Validates one event with a single forward pass of <see cref="Utf8JsonReader"/>: the whole body must be
/// one well-formed JSON object, and only the top-level <c>ts</c> and <c>seq</c> are interpreted. Nothing is
/// accepted that a reader of the store could not read back: nesting stays within <see cref="MaxDepth"/>, and
/// no string escapes a lone UTF-16 surrogate.
/// </summary>
/// <remarks>
/// Lone surrogates (<c>"\uD800"</c> without its low half) are rejected rather than stored. JSON's grammar
/// allows them, but RFC 8259 §8.2 leaves their meaning to each reader and I-JSON (RFC 7493 §2.1) forbids
/// them; readers do differ (System.Text.Json and Rust's serde_json throw, Go and JavaScript substitute or
/// keep them), and Parquet and CSV cannot carry them as UTF-8 at all. Storing one would keep the bytes but
/// let every consumer read a different event, or none; a 400 tells the sensor now, while it still holds the
/// event. Lines stored before this check are read by <c>CsvDay</c> with U+FFFD in their place.
/// </remarks>
public static class EventParser
{
    /// <summary>
    /// The stored line wraps the event in one object and the JSON array read wraps stored lines in one array,
    /// so an event may nest two levels less than <see cref="StoredLine.MaxReadDepth"/>.
    /// </summary>
    public const int MaxDepth = StoredLine.MaxReadDepth - 2;

    // The reader may go one level past the limit so the walk below, not the reader, rejects it with a detail.
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth + 1 };

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
                // Before ValueTextEquals, which throws on a name it cannot unescape.
                if (!IsWellFormedString(ref reader, out error))
                {
                    return false;
                }

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
                    if (!TrySkipValue(ref reader, out error))
                    {
                        return false;
                    }
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
            if (!IsWellFormedString(ref reader, out error))
            {
                return false;
            }

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

    /// <summary>
    /// Steps over the value under the reader as <see cref="Utf8JsonReader.Skip"/> would, checking each nested
    /// container against <see cref="MaxDepth"/> and each escaped string for lone surrogates.
    /// </summary>
    private static bool TrySkipValue(ref Utf8JsonReader reader, out string? error)
    {
        var depth = reader.CurrentDepth;
        while (true)
        {
            switch (reader.TokenType)
            {
                // A container at depth d is the (d+1)th level: the event's own object is at depth 0.
                case JsonTokenType.StartObject or JsonTokenType.StartArray when reader.CurrentDepth >= MaxDepth:
                    error = $"the event nests objects and arrays more than {MaxDepth} levels deep; an event may nest at most {MaxDepth} levels, because its stored line and the JSON array read add two and JSON readers commonly stop at {StoredLine.MaxReadDepth}; flatten the deepest part";
                    return false;
                case JsonTokenType.String or JsonTokenType.PropertyName when !IsWellFormedString(ref reader, out error):
                    return false;
            }

            // Done on a scalar at the value's own depth, or on the end of the container the value opened.
            if ((reader.CurrentDepth == depth && reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray)) || !reader.Read())
            {
                error = null;
                return true;
            }
        }
    }

    /// <summary>False, with a detail, when the string or name under the reader escapes a lone UTF-16 surrogate.</summary>
    private static bool IsWellFormedString(ref Utf8JsonReader reader, out string? error)
    {
        error = null;
        if (!reader.ValueIsEscaped || !JsonStrings.HasLoneSurrogate(reader.ValueSpan))
        {
            return true;
        }

        error = "a string in the event escapes a lone UTF-16 surrogate (\\uD800-\\uDFFF without its pair), which readers of "
            + "the stored event cannot decode (RFC 8259 §8.2, RFC 7493 §2.1); send the character itself in UTF-8, or both "
            + "halves of its surrogate pair, such as \\uD83D\\uDE00";
        return false;
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
