using System.Text.Json;

namespace IngestService.Events.Columns;

/// <summary>The Parquet type of an event field, inferred across every value it takes.</summary>
public enum FieldKind
{
    /// <summary>Only nulls seen so far: written as a nullable string.</summary>
    Unknown,
    Int64,
    Double,
    Boolean,
    String,
}

/// <summary>
/// Infers the event columns of a Parquet answer or a fleet export: top-level fields in first-seen order; numbers are int64 when
/// every value is an integer that fits, else double (a number beyond double's range makes the field a string);
/// booleans; strings; nested values as JSON text; a field whose values have different types becomes a string.
/// </summary>
public sealed class ParquetSchemaBuilder
{
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly List<(string Name, FieldKind Kind)> _columns = [];

    public IReadOnlyList<(string Name, FieldKind Kind)> Columns => _columns;

    public int Count => _columns.Count;

    /// <summary>Adds the columns of <paramref name="other"/> (built over other lines) as if its lines came after these.</summary>
    public void Add(ParquetSchemaBuilder other)
    {
        foreach (var (name, kind) in other._columns)
        {
            Add(name, kind);
        }
    }

    public void Add(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line);
        if (!EventFields.MoveToEvent(ref reader))
        {
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = EventFields.ColumnOf(EventFields.Text(ref reader));
            reader.Read();
            Add(name, KindOf(ref reader));
        }
    }

    private void Add(string name, FieldKind kind)
    {
        if (!_index.TryGetValue(name, out var i))
        {
            _index[name] = _columns.Count;
            _columns.Add((name, kind));
        }
        else
        {
            _columns[i] = (name, Merge(_columns[i].Kind, kind));
        }
    }

    private static FieldKind KindOf(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return FieldKind.Unknown;
            case JsonTokenType.True or JsonTokenType.False:
                return FieldKind.Boolean;
            case JsonTokenType.Number:
                // A number no double can hold (1e400 reads as infinity) stays text, as sent.
                return reader.TryGetInt64(out _) ? FieldKind.Int64 : reader.TryGetDouble(out var d) && double.IsFinite(d) ? FieldKind.Double : FieldKind.String;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                reader.Skip();
                return FieldKind.String;
            default:
                return FieldKind.String;
        }
    }

    private static FieldKind Merge(FieldKind a, FieldKind b) => (a, b) switch
    {
        _ when a == b => a,
        (FieldKind.Unknown, _) => b,
        (_, FieldKind.Unknown) => a,
        (FieldKind.Int64, FieldKind.Double) or (FieldKind.Double, FieldKind.Int64) => FieldKind.Double,
        _ => FieldKind.String,
    };
}
