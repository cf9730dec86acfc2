using System.Text.Json;
using System.Text;
using IngestService.Events;
using Parquet.Schema;
using Parquet;

namespace IngestService.Query;

/// <summary>
/// Writes Parquet answers: <c>sensorId</c>, <c>seq</c>, <c>ts</c> and <c>receivedAt</c> (UTC timestamps, microseconds),
/// then the inferred event columns; one row group per day, each sent to the client before the next is built.
/// </summary>
public sealed class ParquetRows : IAsyncDisposable
{
    public const string ContentType = "application/vnd.apache.parquet";

    private readonly Stream _body;
    private readonly ChunkedOutput _output;
    private readonly ParquetWriter _writer;
    private readonly IReadOnlyList<(string Name, FieldKind Kind)> _columns;
    private readonly DataField[] _fields;

    private ParquetRows(Stream body, ParquetWriter writer, IReadOnlyList<(string Name, FieldKind Kind)> columns, DataField[] fields, ChunkedOutput output)
    {
        _body = body;
        _writer = writer;
        _columns = columns;
        _fields = fields;
        _output = output;
    }

    public static async Task<ParquetRows> CreateAsync(Stream body, IReadOnlyList<(string Name, FieldKind Kind)> columns, CancellationToken cancellationToken)
    {
        var fields = new List<DataField>
        {
            new DataField<string>(StoredFields.SensorId, false),
            new DataField<long?>(StoredFields.Seq),
            // UTC values as plain timestamps (isAdjustedToUTC=false), as in the CSV: DuckDB and Athena read a
            // TIMESTAMP, not a zoned type DuckDB would show in the reader's own zone. The docs say they are UTC.
            new DateTimeDataField(StoredFields.Ts, DateTimeFormat.Timestamp, isAdjustedToUTC: false, unit: DateTimeTimeUnit.Micros, isNullable: false),
            new DateTimeDataField(StoredFields.ReceivedAt, DateTimeFormat.Timestamp, isAdjustedToUTC: false, unit: DateTimeTimeUnit.Micros, isNullable: true),
        };
        foreach (var (name, kind) in columns)
        {
            fields.Add(kind switch
            {
                FieldKind.Int64 => new DataField<long?>(name),
                FieldKind.Double => new DataField<double?>(name),
                FieldKind.Boolean => new DataField<bool?>(name),
                _ => new DataField<string>(name, true),
            });
        }

        var output = new ChunkedOutput();
        var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), output, cancellationToken: cancellationToken);
        await output.DrainToAsync(body, cancellationToken);
        return new ParquetRows(body, writer, columns, [.. fields], output);
    }

    /// <summary>Writes <paramref name="day"/> as one row group and sends it.</summary>
    public async Task WriteDayAsync(DayLines day, CancellationToken cancellationToken)
    {
        var n = day.Count;
        var sensorIds = new string[n];
        var seqs = new long?[n];
        var ts = new DateTime[n];
        var received = new DateTime?[n];
        var values = new object?[_columns.Count][];
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var c = 0; c < _columns.Count; c++)
        {
            index[_columns[c].Name] = c;
            values[c] = new object?[n];
        }

        var row = 0;
        foreach (var line in day.Lines)
        {
            ReadRow(line.Span, row, sensorIds, seqs, ts, received, values, index);
            row++;
        }

        using (var group = _writer.CreateRowGroup())
        {
            await group.WriteAsync(_fields[0], sensorIds);
            await group.WriteAsync<long>(_fields[1], seqs.AsMemory(), cancellationToken: cancellationToken);
            await group.WriteAsync<DateTime>(_fields[2], ts.AsMemory(), cancellationToken: cancellationToken);
            await group.WriteAsync<DateTime>(_fields[3], received.AsMemory(), cancellationToken: cancellationToken);
            for (var c = 0; c < _columns.Count; c++)
            {
                var field = _fields[4 + c];
                var column = values[c];
                switch (_columns[c].Kind)
                {
                    case FieldKind.Int64:
                        await group.WriteAsync<long>(field, column.Select(v => v as long?).ToArray().AsMemory(), cancellationToken: cancellationToken);
                        break;
                    case FieldKind.Double:
                        await group.WriteAsync<double>(field, column.Select(v => v as double?).ToArray().AsMemory(), cancellationToken: cancellationToken);
                        break;
                    case FieldKind.Boolean:
                        await group.WriteAsync<bool>(field, column.Select(v => v as bool?).ToArray().AsMemory(), cancellationToken: cancellationToken);
                        break;
                    default:
                        await group.WriteAsync(field, column.Select(v => v?.ToString()).ToArray());
                        break;
                }
            }

            group.CompleteValidate();
        }

        await _output.DrainToAsync(_body, cancellationToken);
    }

    private void ReadRow(ReadOnlySpan<byte> line, int row, string[] sensorIds, long?[] seqs, DateTime[] ts, DateTime?[] received, object?[][] values, Dictionary<string, int> index)
    {
        var reader = new Utf8JsonReader(line);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = StoredFields.Of(ref reader);
            if (field == StoredField.Event)
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var known = index.TryGetValue(CsvDay.ColumnOf(CsvDay.Text(ref reader)), out var c);
                    reader.Read();
                    if (known)
                    {
                        values[c][row] = ValueOf(ref reader, line, _columns[c].Kind);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }

                continue;
            }

            reader.Read();
            switch (field)
            {
                case StoredField.SensorId:
                    sensorIds[row] = reader.GetString()!;
                    break;
                case StoredField.Seq when reader.TokenType == JsonTokenType.Number:
                    seqs[row] = reader.GetInt64();
                    break;
                case StoredField.Ts:
                    ts[row] = Instant(ref reader);
                    break;
                case StoredField.ReceivedAt when reader.TokenType == JsonTokenType.String:
                    received[row] = Instant(ref reader);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }
    }

    /// <summary>A stored RFC 3339 instant (written by <see cref="Timestamp"/>, never escaped), read without a string.</summary>
    private static DateTime Instant(ref Utf8JsonReader reader) =>
        Timestamp.TryParse(reader.ValueSpan, out var value, out _) ? value.UtcDateTime : throw new JsonException("A stored instant is not RFC 3339.");

    private static object? ValueOf(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, FieldKind kind)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                return CsvDay.RawJson(ref reader, line);
            // The schema comes from the same lines, so values fit their column; a range's day rewritten between its
            // two reads may not, and then a value that does not fit is left out rather than failing the answer midway.
            case JsonTokenType.Number when kind == FieldKind.Int64:
                return reader.TryGetInt64(out var integer) ? integer : null;
            case JsonTokenType.Number when kind == FieldKind.Double:
                return reader.TryGetDouble(out var real) && double.IsFinite(real) ? real : null;
            case JsonTokenType.True or JsonTokenType.False when kind == FieldKind.Boolean:
                return reader.GetBoolean();
            case JsonTokenType.String:
                return CsvDay.Text(ref reader);
            default:
                return Encoding.UTF8.GetString(reader.ValueSpan);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Disposing the writer writes the footer into the buffer; it is then sent.
        await _writer.DisposeAsync();
        await _output.DrainToAsync(_body, CancellationToken.None);
    }

    /// <summary>
    /// Where Parquet.Net writes: it needs a position, which this counts, while the bytes are held only until
    /// the row group is complete and then sent, so the response never holds more than one row group.
    /// </summary>
    private sealed class ChunkedOutput : Stream
    {
        private readonly MemoryStream _pending = new();
        private long _sent;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _sent + _pending.Length;

        public override long Position { get => Length; set => throw new NotSupportedException(); }

        public async Task DrainToAsync(Stream body, CancellationToken cancellationToken)
        {
            if (_pending.Length == 0)
            {
                return;
            }

            await body.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), cancellationToken);
            await body.FlushAsync(cancellationToken);
            _sent += _pending.Length;
            _pending.SetLength(0);
        }

        public override void Write(byte[] buffer, int offset, int count) => _pending.Write(buffer, offset, count);

        public override void Write(ReadOnlySpan<byte> buffer) => _pending.Write(buffer);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            _pending.Write(buffer, offset, count);
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _pending.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
