using System.Text;
using IngestService.Events;
using IngestService.Query;
using Parquet;
using IngestService.Events.Columns;

namespace IngestService.Tests.Events;

/// <summary>The stored line's one writer and its readers agree on every field, and so do the CSV and Parquet columns.</summary>
public sealed class StoredLineRoundTripTests
{
    private static readonly DateTimeOffset Ts = new(2026, 11, 21, 10, 0, 0, 123, TimeSpan.FromHours(2));
    private static readonly DateTimeOffset ReceivedAt = new(2026, 11, 21, 8, 0, 0, 456, TimeSpan.Zero);
    private const string Body = """{"ts":"2026-11-21T10:00:00.123+02:00","seq":42,"level":3.5,"site":"north","tags":{"a":1}}""";

    [Fact]
    public void A_written_line_reads_back_with_the_identity_and_bytes_it_was_written_with()
    {
        var line = Write("tank-7", new EventHeader(Ts, 42));

        var stored = StoredLine.TryParse(line.AsSpan(0, line.Length - 1));

        Assert.NotNull(stored);
        Assert.Equal("tank-7", stored.SensorId);
        Assert.Equal(42, stored.Seq);
        Assert.Equal(Ts.UtcTicks, stored.TsTicks);
        Assert.Equal(new DateOnly(2026, 11, 21), stored.Day);
        Assert.Equal(line, stored.Bytes);
        Assert.EndsWith(",\"event\":" + Body + "}\n", Encoding.UTF8.GetString(line), StringComparison.Ordinal);
    }

    [Fact]
    public void A_line_without_seq_reads_back_with_a_null_seq_and_a_body_hash_identity()
    {
        var first = StoredLine.TryParse(Trim(Write("s1", new EventHeader(Ts, null))))!;
        var again = StoredLine.TryParse(Trim(Write("s1", new EventHeader(Ts, null))))!;

        Assert.Null(first.Seq);
        Assert.Null(first.Identity.Seq);
        Assert.Equal(first.Identity, again.Identity);
        Assert.Contains("\"seq\":null", Encoding.UTF8.GetString(first.Bytes), StringComparison.Ordinal);
    }

    [Fact]
    public void The_CSV_columns_are_the_envelope_then_the_event_fields_and_the_row_holds_the_written_values()
    {
        var line = Trim(Write("tank-7", new EventHeader(Ts, 42)));
        List<string> columns = [];
        CsvDay.CollectColumns(line, columns, []);
        var index = columns.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i);
        using var text = new StringWriter();

        CsvDay.WriteHeader(text, columns);
        CsvDay.WriteRow(text, line, columns, index);

        var rows = text.ToString().Split("\r\n");
        Assert.Equal("sensorId,seq,ts,receivedAt,event.ts,event.seq,level,site,tags", rows[0]);
        Assert.StartsWith("tank-7,42,2026-11-21T08:00:00.123Z,2026-11-21T08:00:00.456Z,2026-11-21T10:00:00.123+02:00,42,3.5,north,", rows[1], StringComparison.Ordinal);
        Assert.Equal(StoredFields.EnvelopeColumns, rows[0].Split(',')[..4]);
    }

    [Fact]
    public async Task The_Parquet_columns_are_the_envelope_then_the_typed_event_fields()
    {
        using var body = new MemoryStream();
        // Disposing writes the footer, which holds the schema.
        await using (await ParquetRows.CreateAsync(body, [("level", FieldKind.Double), ("site", FieldKind.String)], CancellationToken.None))
        {
        }

        body.Position = 0;
        await using var reader = await ParquetReader.CreateAsync(body);
        var names = reader.Schema.DataFields.Select(f => f.Name).ToArray();
        Assert.Equal([.. StoredFields.EnvelopeColumns, "level", "site"], names);
        Assert.Equal(typeof(double), reader.Schema.DataFields[4].ClrType);
    }

    private static byte[] Write(string sensorId, EventHeader header)
    {
        var body = Encoding.UTF8.GetBytes(Body);
        var buffer = new byte[Envelope.MaxLength(sensorId, body.Length)];
        var length = Envelope.Write(buffer, sensorId, header, ReceivedAt, body);
        return buffer[..length];
    }

    private static byte[] Trim(byte[] line) => line[..^1];
}
