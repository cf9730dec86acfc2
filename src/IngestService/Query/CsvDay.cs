using System.Text.Json;
using System.Text;
using IngestService.Events;
using IngestService.Events.Columns;

namespace IngestService.Query;

/// <summary>
/// A sensor-day as RFC 4180 CSV: <c>sensorId,seq,ts,receivedAt</c>, then every top-level field of the day's
/// events in the order first seen; strings as text, numbers and literals as written, nested values as JSON.
/// Column names never collide (<see cref="EventFields.ColumnOf"/>): an event field named like an envelope column (the sensor's
/// own <c>ts</c> as sent, say), or whose name starts with <c>event.</c>, is prefixed <c>event.</c>. A string that
/// a spreadsheet would run as a formula (it starts with <c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>, tab or carriage
/// return), and such a column name, is prefixed with <c>'</c>, as OWASP advises against CSV injection; numbers are
/// written as sent, so a negative number stays a number.
/// </summary>
public static class CsvDay
{
    /// <summary>Adds the event's top-level field names not yet in <paramref name="columns"/>.</summary>
    public static void CollectColumns(ReadOnlySpan<byte> line, List<string> columns, HashSet<string> seen)
    {
        var reader = new Utf8JsonReader(line);
        if (!EventFields.MoveToEvent(ref reader))
        {
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = EventFields.ColumnOf(EventFields.Text(ref reader));
            if (seen.Add(name))
            {
                columns.Add(name);
            }

            reader.Read();
            reader.Skip();
        }
    }

    public static void WriteHeader(TextWriter writer, IReadOnlyList<string> columns)
    {
        var first = true;
        foreach (var column in StoredFields.EnvelopeColumns.Concat(columns))
        {
            if (!first)
            {
                writer.Write(',');
            }

            WriteField(writer, Neutralise(column));
            first = false;
        }

        writer.Write("\r\n");
    }

    public static void WriteRow(TextWriter writer, ReadOnlySpan<byte> line, IReadOnlyList<string> columns, Dictionary<string, int> columnIndex)
    {
        var values = new string?[StoredFields.EnvelopeColumns.Count + columns.Count];
        var reader = new Utf8JsonReader(line);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = StoredFields.Of(ref reader);
            reader.Read();
            if (field == StoredField.Event && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = EventFields.ColumnOf(EventFields.Text(ref reader));
                    reader.Read();
                    var value = ValueText(ref reader, line);
                    if (columnIndex.TryGetValue(name, out var index))
                    {
                        values[StoredFields.EnvelopeColumns.Count + index] = value;
                    }
                }
            }
            else if (field is not (StoredField.Other or StoredField.Event))
            {
                values[(int)field] = ValueText(ref reader, line);
            }
            else
            {
                reader.Skip();
            }
        }

        for (var i = 0; i < values.Length; i++)
        {
            if (i > 0)
            {
                writer.Write(',');
            }

            WriteField(writer, values[i]);
        }

        writer.Write("\r\n");
    }

    /// <summary>The value under the reader as CSV text, leaving the reader on its last token.</summary>
    private static string? ValueText(ref Utf8JsonReader reader, ReadOnlySpan<byte> line)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return Neutralise(EventFields.Text(ref reader));
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                return EventFields.RawJson(ref reader, line);
            default:
                return Encoding.UTF8.GetString(reader.ValueSpan);
        }
    }

    /// <summary>
    /// Strings and column names only: JSON numbers, literals and nested JSON cannot start a formula. A string that
    /// already starts with quotes before such a character gets one more, so removing one leading <c>'</c> from a
    /// cell that has one before such a string gives back exactly what the sensor sent.
    /// </summary>
    public static string Neutralise(string value) => NeedsPrefix(value) ? "'" + value : value;

    public static bool NeedsPrefix(ReadOnlySpan<char> value)
    {
        var start = value.IndexOfAnyExcept('\'');
        return start >= 0 && value[start] is '=' or '+' or '-' or '@' or '\t' or '\r';
    }

    private static void WriteField(TextWriter writer, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            writer.Write(value);
            return;
        }

        writer.Write('"');
        writer.Write(value.Replace("\"", "\"\"", StringComparison.Ordinal));
        writer.Write('"');
    }
}
