using System.Globalization;
using System.Text;

namespace IngestService.Query;

/// <summary>Writes a day as CSV (<see cref="CsvDay"/>): one pass finds the columns, a second writes the rows.</summary>
public static class CsvWriter
{
    public const string ContentType = "text/csv; charset=utf-8; header=present";

    public static async Task WriteAsync(DayLines day, Stream body, CancellationToken cancellationToken)
    {
        var columns = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in day.Lines)
        {
            CsvDay.CollectColumns(line.Span, columns, seen);
        }

        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < columns.Count; i++)
        {
            index[columns[i]] = i;
        }

        // Rows are formatted into a small buffer and written asynchronously: the server forbids blocking writes.
        await using var writer = new StreamWriter(body, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        using var row = new StringWriter(CultureInfo.InvariantCulture);
        CsvDay.WriteHeader(row, columns);
        foreach (var line in day.Lines)
        {
            CsvDay.WriteRow(row, line.Span, columns, index);
            if (row.GetStringBuilder().Length > 32 * 1024)
            {
                await writer.WriteAsync(row.GetStringBuilder(), cancellationToken);
                row.GetStringBuilder().Clear();
            }
        }

        await writer.WriteAsync(row.GetStringBuilder(), cancellationToken);
        await writer.FlushAsync(cancellationToken);
    }
}
