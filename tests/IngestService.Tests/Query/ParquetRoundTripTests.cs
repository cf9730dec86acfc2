using System.Globalization;
using System.Net;
using System.Text;
using IngestService.Tests.RoundTrip;
using Parquet;
using Parquet.Schema;

namespace IngestService.Tests.Query;

/// <summary>
/// The round-trip property (<see cref="RoundTripPropertyTests"/>) for Parquet, whose values are typed rather than
/// text: every accepted event is one row of its day, with its envelope, and each field equal to what was sent
/// (numbers compared as numbers, nested values as their stored JSON).
/// </summary>
public sealed class ParquetRoundTripTests(RoundTripPropertyTests.Run run) : IClassFixture<RoundTripPropertyTests.Run>
{
    private static readonly string[] EnvelopeColumns = ["sensorId", "seq", "ts", "receivedAt"];

    [Fact]
    public async Task Every_accepted_event_is_a_row_of_its_Parquet_day_with_the_values_it_was_sent_with()
    {
        foreach (var day in run.Accepted.GroupBy(e => (e.SensorId, e.Day)))
        {
            var where = $"seed {run.Seed}, parquet, sensor {day.Key.SensorId}, day {day.Key.Day}";
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sensors/{day.Key.SensorId}/days/{day.Key.Day}");
            request.Headers.Accept.ParseAdd("application/vnd.apache.parquet");
            using var response = await run.Client.SendAsync(request, run.Token);
            var body = await response.Content.ReadAsByteArrayAsync(run.Token);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{where}: {(int)response.StatusCode} {Encoding.UTF8.GetString(body)}");

            var rows = await ReadRowsAsync(body);
            var expected = day.ToDictionary(e => e.Id);
            Assert.True(rows.Count == expected.Count, $"{where}: {rows.Count} rows for {expected.Count} distinct events");
            foreach (var row in rows)
            {
                var id = row.GetValueOrDefault("id") as string;
                Assert.True(id is not null && expected.ContainsKey(id), $"{where}: a row that was never sent");
                var sent = expected[id];
                var at = $"{where}, event {id} sent as {sent.Body}";
                var ts = DateTimeOffset.Parse(sent.Ts, CultureInfo.InvariantCulture).UtcTicks;
                Assert.True((string?)row["sensorId"] == sent.SensorId && (long?)row["seq"] == sent.Seq, $"{at}: envelope {row["sensorId"]} {row["seq"]}");
                // Milliseconds: the unit whose row-group statistics Parquet.Net writes right (ParquetRowBatch says why).
                Assert.True(((DateTime)row["ts"]!).Ticks == ts - (ts % TimeSpan.TicksPerMillisecond), $"{at}: ts read back as {row["ts"]:O}");
                foreach (var (name, text) in sent.Fields)
                {
                    var column = EnvelopeColumns.Contains(name) || name.StartsWith("event.", StringComparison.Ordinal) ? "event." + name : name;
                    var value = row.GetValueOrDefault(column);
                    Assert.True(Same(value, text), $"{at}: field {name} read back as {value}, expected {text}");
                }
            }
        }
    }

    /// <summary>A typed value against the text CSV gives for it: numbers as written, literals, decoded strings.</summary>
    private static bool Same(object? value, string? text) => value switch
    {
        null => text is null,
        long l => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == l,
        double d => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var e) && e == d,
        bool b => text == (b ? "true" : "false"),
        _ => (string)value == text,
    };

    internal static async Task<List<Dictionary<string, object?>>> ReadRowsAsync(byte[] file)
    {
        await using var reader = await ParquetReader.CreateAsync(new MemoryStream(file));
        var rows = new List<Dictionary<string, object?>>();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var n = (int)group.RowCount;
            var groupRows = Enumerable.Range(0, n).Select(_ => new Dictionary<string, object?>(StringComparer.Ordinal)).ToList();
            foreach (var field in reader.Schema.GetDataFields())
            {
                var values = await ReadColumnAsync(group, field, n);
                for (var i = 0; i < n; i++)
                {
                    groupRows[i][field.Name] = values[i];
                }
            }

            rows.AddRange(groupRows);
        }

        return rows;
    }

    private static async Task<object?[]> ReadColumnAsync(ParquetRowGroupReader group, DataField field, int n)
    {
        switch (field)
        {
            case DateTimeDataField:
                var times = new DateTime?[n];
                await group.ReadAsync<DateTime>(field, times.AsMemory());
                return [.. times.Select(t => (object?)t)];
            case { ClrType: var t } when t == typeof(long):
                var longs = new long?[n];
                await group.ReadAsync<long>(field, longs.AsMemory());
                return [.. longs.Select(v => (object?)v)];
            case { ClrType: var t } when t == typeof(double):
                var doubles = new double?[n];
                await group.ReadAsync<double>(field, doubles.AsMemory());
                return [.. doubles.Select(v => (object?)v)];
            case { ClrType: var t } when t == typeof(bool):
                var bools = new bool?[n];
                await group.ReadAsync<bool>(field, bools.AsMemory());
                return [.. bools.Select(v => (object?)v)];
            default:
                var strings = new string?[n];
                await group.ReadAsync(field, strings.AsMemory());
                return [.. strings];
        }
    }
}
