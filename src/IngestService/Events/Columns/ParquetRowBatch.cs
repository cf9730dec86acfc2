using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace IngestService.Events.Columns;

/// <summary>
/// Stored lines as Parquet rows: <c>sensorId</c>, <c>seq</c>, <c>ts</c> and <c>receivedAt</c> (UTC timestamps,
/// milliseconds), then the event columns a <see cref="ParquetSchemaBuilder"/> inferred. Rows gather in typed
/// arrays (no boxing) until <see cref="WriteAsync"/> writes them as one row group and starts again, so memory is
/// one row group whatever the number of rows written. Shared by the Parquet answers and the fleet export.
/// </summary>
public sealed class ParquetRowBatch
{
    private readonly IReadOnlyList<(string Name, FieldKind Kind)> _columns;
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private string[] _sensorIds = [];
    private long?[] _seqs = [];
    private DateTime[] _ts = [];
    private DateTime?[] _received = [];
    private readonly Array[] _values;

    /// <param name="columns">The event columns, in order.</param>
    /// <param name="capacity">The most rows one row group holds; the arrays grow up to it as rows come.</param>
    public ParquetRowBatch(IReadOnlyList<(string Name, FieldKind Kind)> columns, int capacity)
    {
        _columns = columns;
        _capacity = capacity;
        _values = new Array[columns.Count];
        for (var c = 0; c < columns.Count; c++)
        {
            _index[columns[c].Name] = c;
            _values[c] = NewColumn(columns[c].Kind, 0);
        }

        Schema = SchemaOf(columns);
    }

    public ParquetSchema Schema { get; }

    /// <summary>Rows gathered since the last row group.</summary>
    public int Count { get; private set; }

    public bool IsFull => Count >= _capacity;

    /// <summary>The schema of Parquet rows with these event columns.</summary>
    public static ParquetSchema SchemaOf(IReadOnlyList<(string Name, FieldKind Kind)> columns)
    {
        var fields = new List<Field>
        {
            new DataField<string>(StoredFields.SensorId, false),
            new DataField<long?>(StoredFields.Seq),
            // UTC values as plain timestamps (isAdjustedToUTC=false), as in the CSV: DuckDB and Athena read a
            // TIMESTAMP, not a zoned type DuckDB would show in the reader's own zone. The docs say they are UTC.
            // Milliseconds: Parquet.Net 6.1 writes a timestamp column's min/max statistics in milliseconds whatever
            // its unit (aloneguid/parquet-dotnet#769), and with micros DuckDB skipped row groups it should have read
            // (a ts filter answered no rows). Finer digits a sensor sent stay in NDJSON and CSV.
            new DateTimeDataField(StoredFields.Ts, DateTimeFormat.Timestamp, isAdjustedToUTC: false, unit: DateTimeTimeUnit.Millis, isNullable: false),
            new DateTimeDataField(StoredFields.ReceivedAt, DateTimeFormat.Timestamp, isAdjustedToUTC: false, unit: DateTimeTimeUnit.Millis, isNullable: true),
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

        return new ParquetSchema(fields);
    }

    /// <summary>Adds one stored line as a row.</summary>
    public void Add(ReadOnlySpan<byte> line)
    {
        if (Count == _sensorIds.Length)
        {
            Grow();
        }

        var row = Count;
        var reader = new Utf8JsonReader(line);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = StoredFields.Of(ref reader);
            reader.Read();
            switch (field)
            {
                case StoredField.Event when reader.TokenType == JsonTokenType.StartObject:
                    ReadEvent(ref reader, line, row);
                    break;
                case StoredField.SensorId:
                    // A run of rows shares one sensor: reuse the previous row's string rather than a copy per row.
                    _sensorIds[row] = row > 0 && reader.ValueTextEquals(_sensorIds[row - 1]) ? _sensorIds[row - 1] : reader.GetString()!;
                    break;
                case StoredField.Seq when reader.TokenType == JsonTokenType.Number:
                    _seqs[row] = reader.GetInt64();
                    break;
                case StoredField.Ts:
                    _ts[row] = Instant(ref reader);
                    break;
                case StoredField.ReceivedAt when reader.TokenType == JsonTokenType.String:
                    _received[row] = Instant(ref reader);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        Count++;
    }

    /// <summary>Writes the gathered rows as one row group of <paramref name="writer"/> (made with <see cref="Schema"/>) and clears them.</summary>
    public async Task WriteAsync(ParquetWriter writer, CancellationToken cancellationToken)
    {
        var n = Count;
        var fields = Schema.DataFields;
        using (var group = writer.CreateRowGroup())
        {
            await group.WriteAsync(fields[0], new ArraySegment<string>(_sensorIds, 0, n));
            await group.WriteAsync<long>(fields[1], _seqs.AsMemory(0, n), cancellationToken: cancellationToken);
            await group.WriteAsync<DateTime>(fields[2], _ts.AsMemory(0, n), cancellationToken: cancellationToken);
            await group.WriteAsync<DateTime>(fields[3], _received.AsMemory(0, n), cancellationToken: cancellationToken);
            for (var c = 0; c < _columns.Count; c++)
            {
                var field = fields[4 + c];
                switch (_values[c])
                {
                    case long?[] integers:
                        await group.WriteAsync<long>(field, integers.AsMemory(0, n), cancellationToken: cancellationToken);
                        break;
                    case double?[] reals:
                        await group.WriteAsync<double>(field, reals.AsMemory(0, n), cancellationToken: cancellationToken);
                        break;
                    case bool?[] flags:
                        await group.WriteAsync<bool>(field, flags.AsMemory(0, n), cancellationToken: cancellationToken);
                        break;
                    case string?[] texts:
                        await group.WriteAsync(field, new ArraySegment<string>(texts!, 0, n));
                        break;
                }
            }

            group.CompleteValidate();
        }

        Clear(n);
    }

    private void ReadEvent(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, int row)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var known = _index.TryGetValue(EventFields.ColumnOf(EventFields.Text(ref reader)), out var c);
            reader.Read();
            if (!known)
            {
                reader.Skip();
                continue;
            }

            // The schema comes from the same lines, so values fit their column; lines that changed between the two
            // reads (a range's day rewritten, late data in the fleet export) may not, and then a value that does not
            // fit is left out rather than failing the file midway. Strings take any value as its JSON text.
            switch (_values[c])
            {
                case long?[] integers:
                    integers[row] = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var integer) ? integer : null;
                    break;
                case double?[] reals:
                    reals[row] = reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var real) && double.IsFinite(real) ? real : null;
                    break;
                case bool?[] flags:
                    flags[row] = reader.TokenType is JsonTokenType.True or JsonTokenType.False ? reader.GetBoolean() : null;
                    break;
                case string?[] texts:
                    texts[row] = Text(ref reader, line);
                    break;
            }

            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }
    }

    private static string? Text(ref Utf8JsonReader reader, ReadOnlySpan<byte> line) => reader.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.StartObject or JsonTokenType.StartArray => EventFields.RawJson(ref reader, line),
        JsonTokenType.String => EventFields.Text(ref reader),
        _ => Encoding.UTF8.GetString(reader.ValueSpan),
    };

    /// <summary>A stored RFC 3339 instant (written by <see cref="Timestamp"/>, never escaped), read without a string.</summary>
    private static DateTime Instant(ref Utf8JsonReader reader) =>
        Timestamp.TryParse(reader.ValueSpan, out var value, out _) ? value.UtcDateTime : throw new JsonException("A stored instant is not RFC 3339.");

    private void Grow()
    {
        var size = Math.Min(_capacity == 0 ? 1024 : _capacity, Math.Max(1024, _sensorIds.Length * 2));
        size = Math.Max(size, _sensorIds.Length + 1);
        Array.Resize(ref _sensorIds, size);
        Array.Resize(ref _seqs, size);
        Array.Resize(ref _ts, size);
        Array.Resize(ref _received, size);
        for (var c = 0; c < _values.Length; c++)
        {
            var grown = NewColumn(_columns[c].Kind, size);
            Array.Copy(_values[c], grown, _values[c].Length);
            _values[c] = grown;
        }
    }

    private void Clear(int n)
    {
        Array.Clear(_sensorIds, 0, n);
        Array.Clear(_seqs, 0, n);
        Array.Clear(_received, 0, n);
        foreach (var column in _values)
        {
            Array.Clear(column, 0, n);
        }

        Count = 0;
    }

    private static Array NewColumn(FieldKind kind, int size) => kind switch
    {
        FieldKind.Int64 => new long?[size],
        FieldKind.Double => new double?[size],
        FieldKind.Boolean => new bool?[size],
        _ => new string?[size],
    };
}
