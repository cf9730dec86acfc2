using System.Globalization;
using System.Text;

namespace IngestService.Query;

/// <summary>
/// Writes days as one CSV (<see cref="CsvDay"/>): the columns are collected from every day first, then the header
/// and each day's rows are written.
/// </summary>
public sealed class CsvWriter(Stream body) : IAsyncDisposable
{
    public const string ContentType = "text/csv; charset=utf-8; header=present";

    private readonly List<string> _columns = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    // Rows are formatted into a small buffer and written asynchronously: the server forbids blocking writes.
    private readonly StreamWriter _writer = new(body, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
    private readonly StringWriter _row = new(CultureInfo.InvariantCulture);

    /// <summary>A whole day: columns, header and rows.</summary>
    public static async Task WriteDayAsync(DayLines day, Stream body, CancellationToken cancellationToken)
    {
        await using var csv = new CsvWriter(body);
        csv.Collect(day);
        csv.WriteHeader();
        await csv.WriteRowsAsync(day, cancellationToken);
    }

    public void Collect(DayLines day)
    {
        foreach (var line in day.Lines)
        {
            CsvDay.CollectColumns(line.Span, _columns, _seen);
        }
    }

    /// <summary>After every <see cref="Collect"/>, before the rows: the columns are fixed from then on.</summary>
    public void WriteHeader()
    {
        for (var i = 0; i < _columns.Count; i++)
        {
            _index[_columns[i]] = i;
        }

        CsvDay.WriteHeader(_row, _columns);
    }

    public async Task WriteRowsAsync(DayLines day, CancellationToken cancellationToken)
    {
        foreach (var line in day.Lines)
        {
            CsvDay.WriteRow(_row, line.Span, _columns, _index);
            if (_row.GetStringBuilder().Length > 32 * 1024)
            {
                await _writer.WriteAsync(_row.GetStringBuilder(), cancellationToken);
                _row.GetStringBuilder().Clear();
            }
        }

        await _writer.WriteAsync(_row.GetStringBuilder(), cancellationToken);
        _row.GetStringBuilder().Clear();
        await _writer.FlushAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        // Whatever is still formatted (a header with no rows after it) is sent.
        await _writer.WriteAsync(_row.GetStringBuilder());
        await _writer.DisposeAsync();
        await _row.DisposeAsync();
    }
}
