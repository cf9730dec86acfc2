using System.Text.Json;
using System.Text;

namespace IngestService.Tests.RoundTrip;

/// <summary>One stored event as a read format gives it back; <c>Event</c> is the event's JSON where the format keeps it whole.</summary>
public sealed record ReadRow(string SensorId, string? Seq, string Ts, string? Event, IReadOnlyDictionary<string, string?> Fields);

/// <summary>A read format: the Accept header that asks for it, and how its body decodes into rows.</summary>
public sealed record ReadFormat(string Accept, Func<byte[], IReadOnlyList<ReadRow>> Decode);

/// <summary>
/// Every read format of a sensor-day, each decoded independently of the service's own writers. Adding a
/// format to the round-trip property is one line in <see cref="All"/>: fields decode to the text CSV gives
/// (strings decoded, numbers and literals as written, nested values as their JSON).
/// </summary>
public static class ReadFormats
{
    public static readonly IReadOnlyDictionary<string, ReadFormat> All = new Dictionary<string, ReadFormat>
    {
        ["ndjson"] = new("application/x-ndjson", body => [.. Encoding.UTF8.GetString(body).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonRow(JsonDocument.Parse(l).RootElement))]),
        ["json"] = new("application/json", body => [.. JsonDocument.Parse(body).RootElement.EnumerateArray().Select(JsonRow)]),
        ["csv"] = new("text/csv", CsvRows),
    };

    private static readonly string[] EnvelopeColumns = ["sensorId", "seq", "ts", "receivedAt"];

    private static ReadRow JsonRow(JsonElement line)
    {
        var e = line.GetProperty("event");
        var fields = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
        {
            fields[p.Name] = p.Value.ValueKind switch
            {
                JsonValueKind.String => p.Value.GetString(),
                JsonValueKind.Null => null,
                _ => p.Value.GetRawText(),
            };
        }

        var seq = line.GetProperty("seq");
        return new ReadRow(line.GetProperty("sensorId").GetString()!, seq.ValueKind == JsonValueKind.Null ? null : seq.GetRawText(),
            line.GetProperty("ts").GetString()!, e.GetRawText(), fields);
    }

    /// <summary>RFC 4180: the header names envelope columns, then event fields (<c>event.</c> before a name an envelope column has or that starts with <c>event.</c>).</summary>
    private static List<ReadRow> CsvRows(byte[] body)
    {
        var records = ParseCsv(Encoding.UTF8.GetString(body).TrimStart('\uFEFF'));
        var header = records[0];
        Assert.Equal(EnvelopeColumns, header.Take(4));
        var rows = new List<ReadRow>();
        foreach (var record in records.Skip(1))
        {
            Assert.Equal(header.Count, record.Count);
            var fields = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (var c = 4; c < header.Count; c++)
            {
                var column = Unneutralise(header[c]);
                var name = column.StartsWith("event.", StringComparison.Ordinal) ? column[6..] : column;
                fields[name] = record[c].Length == 0 ? null : Unneutralise(record[c]);
            }

            rows.Add(new ReadRow(record[0], record[1].Length == 0 ? null : record[1], record[2], null, fields));
        }

        return rows;
    }

    /// <summary>
    /// CSV prefixes a text that a spreadsheet would run as a formula with <c>'</c> (docs/api.md, "CSV is safe to open");
    /// a number never starts with <c>'</c>, so one leading <c>'</c> before such a text is the writer's.
    /// </summary>
    private static string Unneutralise(string cell) =>
        cell.TrimStart('\'') is [ '=' or '+' or '-' or '@' or '\t' or '\r', .. ] && cell.StartsWith('\'') ? cell[1..] : cell;

    private static List<List<string>> ParseCsv(string text)
    {
        var records = new List<List<string>>();
        var record = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '"' && field.Length == 0)
            {
                for (i++; !(text[i] == '"' && (i + 1 == text.Length || text[i + 1] != '"')); i++)
                {
                    field.Append(text[i]);
                    i += text[i] == '"' ? 1 : 0;
                }

                i++;
                continue;
            }

            if (text[i] == ',')
            {
                record.Add(field.ToString());
                field.Clear();
                i++;
            }
            else if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                record.Add(field.ToString());
                field.Clear();
                records.Add(record);
                record = [];
                i += 2;
            }
            else
            {
                field.Append(text[i++]);
            }
        }

        Assert.True(field.Length == 0 && record.Count == 0, "the CSV does not end with CRLF");
        return records;
    }
}
