using System.Globalization;
using System.Text;
using System.Text.Json;

namespace IngestService.Events.Columns;

/// <summary>
/// The event's top-level fields as columns, shared by every tabular form of stored lines (CSV and Parquet answers,
/// the fleet export): where the event object starts, a field's column name, its text and nested JSON.
/// </summary>
public static class EventFields
{
    private const string EventPrefix = "event.";

    /// <summary>
    /// The column of an event field: its name, or <c>event.</c> + its name when that is an envelope column's name
    /// or already starts with <c>event.</c> (<c>ts</c> → <c>event.ts</c>, <c>event.ts</c> → <c>event.event.ts</c>).
    /// Prefixed names all start with <c>event.</c> and others never do, so two fields never share a column, no
    /// field takes an envelope column, and a field has the same column in every answer whatever else the day holds.
    /// </summary>
    public static string ColumnOf(string field) =>
        StoredFields.EnvelopeColumns.Contains(field) || field.StartsWith(EventPrefix, StringComparison.Ordinal) ? EventPrefix + field : field;

    public static bool MoveToEvent(ref Utf8JsonReader reader)
    {
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isEvent = StoredFields.Of(ref reader) == StoredField.Event;
            reader.Read();
            if (isEvent)
            {
                return reader.TokenType == JsonTokenType.StartObject;
            }

            reader.Skip();
        }

        return false;
    }

    /// <summary>A nested object or array under the reader as its JSON text, as sent, leaving the reader on its end.</summary>
    public static string RawJson(ref Utf8JsonReader reader, ReadOnlySpan<byte> line)
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        return Encoding.UTF8.GetString(line[start..(int)reader.BytesConsumed]);
    }

    /// <summary>
    /// The string or name under the reader. Ingest rejects escaped lone surrogates, but a line stored before
    /// it did may hold one, and <see cref="Utf8JsonReader.GetString"/> throws on it mid-response; such a
    /// string reads with U+FFFD in place of each lone surrogate, as a UTF-8 encoder would write it.
    /// </summary>
    public static string Text(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped || !JsonStrings.HasLoneSurrogate(reader.ValueSpan))
        {
            return reader.GetString()!;
        }

        var escaped = reader.ValueSpan;
        var text = new StringBuilder(escaped.Length);
        for (var i = 0; i < escaped.Length; i++)
        {
            var run = escaped[i..].IndexOf((byte)'\\');
            if (run != 0)
            {
                var end = run < 0 ? escaped.Length : i + run;
                text.Append(Encoding.UTF8.GetString(escaped[i..end]));
                i = end - 1;
                continue;
            }

            i++;
            text.Append(escaped[i] switch
            {
                (byte)'b' => '\b',
                (byte)'f' => '\f',
                (byte)'n' => '\n',
                (byte)'r' => '\r',
                (byte)'t' => '\t',
                (byte)'u' => (char)int.Parse(Encoding.ASCII.GetString(escaped.Slice(i + 1, 4)), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                var c => (char)c,
            });
            if (escaped[i] == 'u')
            {
                i += 4;
            }
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                text[i] = '\uFFFD';
            }
        }

        return text.ToString();
    }
}
