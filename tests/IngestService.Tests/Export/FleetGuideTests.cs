using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using IngestService.Tests.Infrastructure;
using IngestService.Tests.Query;

namespace IngestService.Tests.Export;

/// <summary>
/// A small fleet's two days, posted to the service on <c>Local</c> and flushed; the analyst guide's DuckDB queries
/// (docs/analysts.md, blocks <c>sql duckdb</c>) then run over the export it wrote, from <c>Ingest:DataPath</c>.
/// </summary>
public sealed partial class FleetGuideTests
{
    [Fact]
    public async Task The_guides_DuckDB_fleet_queries_read_every_acknowledged_event_once_typed_and_pruned_by_day()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();
        var acknowledged = 0L;
        foreach (var (sensorId, body) in FleetDays())
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/x-ndjson");
            using var posted = await client.PostAsync($"/v1/sensors/{sensorId}/events", content);
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
            acknowledged += (await posted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt64();
        }

        using var flushed = await client.PostAsync("/v1/admin/flush", null);
        Assert.Equal(HttpStatusCode.OK, flushed.StatusCode);

        var results = await RunGuideAsync(app.DataPath);
        var all = $"read_parquet('{app.DataPath}/analytics/*/*.parquet', hive_partitioning = true)";
        var counted = await FleetExportTests.SqlAsync($"SELECT count(*) AS n, count(DISTINCT (sensorId, seq)) AS distinct_events FROM {all}");
        Assert.Equal(acknowledged.ToString(CultureInfo.InvariantCulture), counted[0]["n"]);
        Assert.Equal(counted[0]["n"], counted[0]["distinct_events"]);
        var types = await FleetExportTests.SqlAsync($"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {all})");
        Assert.Equal(
            ["sensorId VARCHAR", "seq BIGINT", "ts TIMESTAMP", "receivedAt TIMESTAMP", "event.ts VARCHAR", "event.seq BIGINT", "site VARCHAR", "temperature DOUBLE", "mode VARCHAR", "day DATE"],
            types.Select(r => $"{r["column_name"]} {r["column_type"]}"));

        Assert.Equal(["north 192 10.5", "south 179 20.25"], results[0].Select(r => $"{r["site"]} {r["events"]} {r["mean_temperature"]}"));
        Assert.Equal(["tank-004"], results[1].Select(r => r["sensorId"]));
        Assert.Equal(["48 2026-11-20 00:00:00 2026-11-20 23:30:00"], results[2].Select(r => $"{r["events"]} {r["first"]} {r["last"]}"));
        var scan = FleetExportTests.Scan(await FleetExportTests.ProfileAsync(Localised(GuideQueries()[2], app.DataPath)));
        Assert.Equal("1/2", scan.GetProperty("extra_info").GetProperty("Scanning Files").GetString());
        Assert.Equal("1", scan.GetProperty("extra_info").GetProperty("Total Files Read").GetString());
    }

    /// <summary>
    /// Four tanks, 48 half-hourly events on each of 2026-11-19 and 2026-11-20; the north tanks read 10 and 11 degrees
    /// in turn, the south ones 20.25; tank-001 sends its mode as a number and tank-002 as text; tank-004 is silent
    /// from 02:00 to 09:00 on the 20th (7 hours, 13 events fewer).
    /// </summary>
    internal static IEnumerable<(string SensorId, string Body)> FleetDays()
    {
        foreach (var tank in new[] { 1, 2, 3, 4 })
        {
            var lines = new StringBuilder();
            var seq = 0;
            for (var slot = 0; slot < 96; slot++)
            {
                var ts = new DateTime(2026, 11, 19, 0, 0, 0, DateTimeKind.Utc).AddMinutes(30 * slot);
                if (tank == 4 && ts > new DateTime(2026, 11, 20, 2, 0, 0, DateTimeKind.Utc) && ts < new DateTime(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc))
                {
                    continue;
                }

                var north = tank <= 2;
                var temperature = north ? (slot % 2 == 0 ? "10.0" : "11.0") : "20.25";
                var mode = tank switch { 1 => ",\"mode\":1", 2 => ",\"mode\":\"eco\"", _ => "" };
                lines.Append(CultureInfo.InvariantCulture,
                    $"{{\"ts\":\"{ts:yyyy-MM-dd'T'HH:mm:ss}Z\",\"seq\":{seq++},\"site\":\"{(north ? "north" : "south")}\",\"temperature\":{temperature}{mode}}}\n");
            }

            yield return ($"tank-{tank:D3}", lines.ToString());
        }
    }

    /// <summary>Runs every <c>sql duckdb</c> block of the guide against the export under <paramref name="dataPath"/>.</summary>
    internal static async Task<List<List<Dictionary<string, string?>>>> RunGuideAsync(string dataPath)
    {
        var results = new List<List<Dictionary<string, string?>>>();
        foreach (var query in GuideQueries())
        {
            results.Add(await FleetExportTests.SqlAsync(Localised(query, dataPath)));
        }

        return results;
    }

    internal static List<string> GuideQueries()
    {
        var guide = File.ReadAllText(Path.Combine(AnalystToolsTests.RepositoryRoot(), "docs", "analysts.md"));
        var queries = DuckDbBlock().Matches(guide).Select(m => m.Groups[1].Value.Trim().TrimEnd(';')).ToList();
        Assert.Equal(3, queries.Count);
        return queries;
    }

    /// <summary>The guide's queries read <c>data/</c>, the default <c>Ingest:DataPath</c>; the test's node keeps its data elsewhere.</summary>
    internal static string Localised(string query, string dataPath) =>
        query.Replace("read_parquet('data/", $"read_parquet('{dataPath}/", StringComparison.Ordinal);

    [GeneratedRegex("```sql duckdb\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex DuckDbBlock();
}
