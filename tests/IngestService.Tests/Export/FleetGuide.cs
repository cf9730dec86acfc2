using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Export;

/// <summary>
/// The analyst guide's fleet queries (docs/analysts.md, blocks <c>sql duckdb</c>), the small fleet they are checked
/// against, and DuckDB from Node.js (<c>tests/analyst</c>) to run them. Linked into the integration tests, which run
/// the same queries over an export written to moto's S3.
/// </summary>
internal static partial class FleetGuide
{
    private static readonly string Analyst = Path.Combine(ToolProcess.RepositoryRoot(), "tests", "analyst");

    /// <summary>
    /// Four tanks, 48 half-hourly events on each of 2026-11-19 and 2026-11-20; the north tanks read 10 and 11 degrees
    /// in turn, the south ones 20.25; tank-001 sends its mode as a number and tank-002 as text; tank-004 is silent
    /// from 02:00 to 09:00 on the 20th (7 hours, 13 events fewer).
    /// </summary>
    public static IEnumerable<(string SensorId, string Body)> FleetDays()
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

    /// <summary>Posts <see cref="FleetDays"/> to the service and flushes it; answers the events acknowledged.</summary>
    public static async Task<long> PostAndFlushAsync(HttpClient client)
    {
        var acknowledged = 0L;
        foreach (var (sensorId, body) in FleetDays())
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/x-ndjson");
            using var posted = await client.PostAsync($"/v1/sensors/{sensorId}/events", content);
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
            acknowledged += (await posted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt64();
        }

        using var flushed = await client.PostAsync("/v1/admin/flush", null);
        Assert.True(flushed.StatusCode == HttpStatusCode.OK, await flushed.Content.ReadAsStringAsync());
        return acknowledged;
    }

    /// <summary>Runs the guide's queries over the export under <paramref name="dataPath"/> and checks what <see cref="FleetDays"/> must give.</summary>
    public static async Task AssertGuideAnswersAsync(string dataPath, long acknowledged)
    {
        var all = $"read_parquet('{dataPath}/analytics/*/*.parquet', hive_partitioning = true)";
        var counted = await SqlAsync($"SELECT count(*) AS n, count(DISTINCT (sensorId, seq)) AS distinct_events FROM {all}");
        Assert.Equal(acknowledged.ToString(CultureInfo.InvariantCulture), counted[0]["n"]);
        Assert.Equal(counted[0]["n"], counted[0]["distinct_events"]);
        var types = await SqlAsync($"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {all})");
        Assert.Equal(
            ["sensorId VARCHAR", "seq BIGINT", "ts TIMESTAMP", "receivedAt TIMESTAMP", "event.ts VARCHAR", "event.seq BIGINT", "site VARCHAR", "temperature DOUBLE", "mode VARCHAR", "day DATE"],
            types.Select(r => $"{r["column_name"]} {r["column_type"]}"));

        var queries = GuideQueries().Select(q => q.Replace("read_parquet('data/", $"read_parquet('{dataPath}/", StringComparison.Ordinal)).ToList();
        Assert.Equal(["north 192 10.5", "south 179 20.25"], (await SqlAsync(queries[0])).Select(r => $"{r["site"]} {r["events"]} {r["mean_temperature"]}"));
        Assert.Equal(["tank-004"], (await SqlAsync(queries[1])).Select(r => r["sensorId"]));
        Assert.Equal(["48 2026-11-20 00:00:00 2026-11-20 23:30:00"], (await SqlAsync(queries[2])).Select(r => $"{r["events"]} {r["first"]} {r["last"]}"));
        var scan = Scan(await ProfileAsync(queries[2]));
        Assert.Equal("1/2", scan.GetProperty("extra_info").GetProperty("Scanning Files").GetString());
        Assert.Equal("1", scan.GetProperty("extra_info").GetProperty("Total Files Read").GetString());
    }

    public static List<string> GuideQueries()
    {
        var guide = File.ReadAllText(Path.Combine(ToolProcess.RepositoryRoot(), "docs", "analysts.md"));
        var queries = DuckDbBlock().Matches(guide).Select(m => m.Groups[1].Value.Trim().TrimEnd(';')).ToList();
        Assert.Equal(3, queries.Count);
        return queries;
    }

    /// <summary>The rows of the last statement, each value as DuckDB renders it (null stays null).</summary>
    public static async Task<List<Dictionary<string, string?>>> SqlAsync(params string[] statements) =>
        JsonSerializer.Deserialize<List<Dictionary<string, string?>>>(await NodeAsync("duckdb-sql.mjs", statements))!;

    /// <summary>DuckDB's profile of <paramref name="query"/> (<c>EXPLAIN ANALYZE</c> with JSON profiling).</summary>
    public static async Task<JsonElement> ProfileAsync(string query)
    {
        var rows = await SqlAsync("PRAGMA enable_profiling = 'json'", "EXPLAIN ANALYZE " + query);
        return JsonDocument.Parse(rows[0]["explain_value"]!).RootElement;
    }

    /// <summary>The Parquet scan in a profile.</summary>
    public static JsonElement Scan(JsonElement node)
    {
        if (node.TryGetProperty("operator_name", out var name) && name.GetString() == "READ_PARQUET")
        {
            return node;
        }

        foreach (var child in node.GetProperty("children").EnumerateArray())
        {
            if (Scan(child) is { ValueKind: JsonValueKind.Object } found)
            {
                return found;
            }
        }

        return default;
    }

    private static async Task<string> NodeAsync(string script, string[] args)
    {
        if (!Directory.Exists(Path.Combine(Analyst, "node_modules", "@duckdb")))
        {
            await ToolProcess.RunAsync("npm", ["ci", "--no-audit", "--no-fund"], Analyst);
        }

        return await ToolProcess.RunAsync("node", [script, .. args], Analyst);
    }

    [GeneratedRegex("```sql duckdb\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex DuckDbBlock();
}
