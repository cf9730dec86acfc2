using System.Globalization;
using System.Text;
using IngestService.Export;
using IngestService.Tests.Regroup;

namespace IngestService.Tests.Export;

/// <summary>
/// The fleet export as the seal writes it on the file-system store, read back by DuckDB (Node.js,
/// <c>tests/analyst</c>): sorted, typed across sensors, with row-group statistics; rewritten under new names by a
/// reseal, the old parts deleted after the grace; pruned by day and sensor.
/// </summary>
public sealed class FleetExportTests : IDisposable
{
    private const string Day = "2026-11-20";
    private readonly RegroupFixture _fixture = new();

    private string Folder => Path.Combine(_fixture.Root, "analytics", $"day={Day}");

    [Fact]
    public async Task A_sealed_day_is_exported_sorted_by_sensor_then_ts_with_types_merged_across_sensors()
    {
        // tank-b comes first in the batch and sends level as a double and mode as text; tank-a sends integers.
        var lines = new StringBuilder();
        lines.Append(RegroupFixture.Line("tank-b", 1, $"{Day}T08:00:00.000Z", """{"level":2.5,"mode":"auto","site":"north","pump":{"on":true}}"""));
        lines.Append(RegroupFixture.Line("tank-a", 2, $"{Day}T09:00:00.000Z", """{"level":7,"mode":1,"site":"south","ok":true}"""));
        lines.Append(RegroupFixture.Line("tank-a", 1, $"{Day}T07:00:00.000Z", """{"level":6,"mode":1,"site":"south","ok":false}"""));
        lines.Append(RegroupFixture.Line("tank-b", null, $"{Day}T06:00:00.000Z", """{"level":3,"mode":"off","site":"north"}"""));
        _fixture.WriteRaw(lines.ToString(), hour: "2026/11/20/10");

        await _fixture.CreateRegrouper(export: new ExportOptions()).RunPassAsync(_fixture.Token);

        var part = Assert.Single(Parts());
        Assert.Matches(@"^part-0-[0-9a-f]{12}\.parquet$", Path.GetFileName(part));
        var types = await FleetGuide.SqlAsync($"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{part}'))");
        Assert.Equal(
            ["sensorId VARCHAR", "seq BIGINT", "ts TIMESTAMP", "receivedAt TIMESTAMP", "level DOUBLE", "mode VARCHAR", "site VARCHAR", "ok BOOLEAN", "pump VARCHAR", "day DATE"],
            types.Select(r => $"{r["column_name"]} {r["column_type"]}"));
        var rows = await FleetGuide.SqlAsync($"SELECT sensorId, seq, strftime(ts, '%H:%M') AS t, level, mode, pump, ok FROM read_parquet('{part}')");
        Assert.Equal(
            ["tank-a 1 07:00 6 1 - false", "tank-a 2 09:00 7 1 - true", "tank-b - 06:00 3 off - -", "tank-b 1 08:00 2.5 auto {\"on\":true} -"],
            rows.Select(r => string.Join(' ', new[] { "sensorId", "seq", "t", "level", "mode", "pump", "ok" }.Select(c => r[c] ?? "-"))));
        var manifest = await _fixture.ManifestAsync();
        Assert.Equal(4, manifest.Exports[Day].Events);
        Assert.Equal(manifest.Sealed[Day], manifest.Exports[Day].SealedAt);
    }

    [Fact]
    public async Task Row_groups_carry_min_max_statistics_on_sensorId_and_ts_and_are_zstd_compressed()
    {
        WriteFleetDay(Day, sensors: 4, eventsPerSensor: 500);

        await _fixture.CreateRegrouper(export: new ExportOptions { RowGroupEvents = 1_000 }).RunPassAsync(_fixture.Token);

        var part = Assert.Single(Parts());
        var groups = await FleetGuide.SqlAsync(
            $"SELECT row_group_id, path_in_schema, stats_min, stats_max, compression FROM parquet_metadata('{part}') WHERE path_in_schema IN ('sensorId', 'ts') ORDER BY 1, 2");
        Assert.Equal(4, groups.Count);
        Assert.All(groups, g => Assert.Equal("ZSTD", g["compression"]));
        Assert.Equal(
            ["0 sensorId tank-000 tank-001", "0 ts 2026-11-20 00:00:00 2026-11-20 01:23:10", "1 sensorId tank-002 tank-003", "1 ts 2026-11-20 00:00:00 2026-11-20 01:23:10"],
            groups.Select(g => $"{g["row_group_id"]} {g["path_in_schema"]} {g["stats_min"]} {g["stats_max"]}"));
    }

    [Fact]
    public async Task A_query_on_one_day_and_one_sensor_reads_one_file_and_skips_the_other_row_groups()
    {
        WriteFleetDay("2026-11-19", sensors: 6, eventsPerSensor: 5_000);
        WriteFleetDay(Day, sensors: 6, eventsPerSensor: 5_000);
        await _fixture.CreateRegrouper(export: new ExportOptions { RowGroupEvents = 10_000 }).RunPassAsync(_fixture.Token);
        var query = $"SELECT count(*) AS n, round(sum(level), 3) AS total FROM read_parquet('{_fixture.Root}/analytics/*/*.parquet', hive_partitioning = true) WHERE day = DATE '{Day}' AND sensorId = 'tank-003'";
        var expected = await FleetGuide.SqlAsync(query);

        var scan = FleetGuide.Scan(await FleetGuide.ProfileAsync(query));
        Assert.Equal("1/2", scan.GetProperty("extra_info").GetProperty("Scanning Files").GetString());
        Assert.Equal("1", scan.GetProperty("extra_info").GetProperty("Total Files Read").GetString());
        Assert.EndsWith($"day={Day}", Path.GetDirectoryName(scan.GetProperty("extra_info").GetProperty("Filename(s)").GetString()), StringComparison.Ordinal);

        // Proof that the other row groups are skipped, not read and filtered: overwrite their column chunks with
        // garbage. The query still answers the same; a scan of the whole day fails on the garbage.
        var part = Assert.Single(Parts());
        var groups = await FleetGuide.SqlAsync($"SELECT row_group_id, stats_min, stats_max FROM parquet_metadata('{part}') WHERE path_in_schema = 'sensorId' ORDER BY 1");
        Assert.Equal(3, groups.Count);
        var skipped = groups.Where(g => string.CompareOrdinal(g["stats_max"], "tank-003") < 0 || string.CompareOrdinal(g["stats_min"], "tank-003") > 0)
            .Select(g => g["row_group_id"]).ToList();
        Assert.Equal(2, skipped.Count);
        var chunks = await FleetGuide.SqlAsync(
            $"SELECT row_group_id, coalesce(least(dictionary_page_offset, data_page_offset), data_page_offset) AS start, total_compressed_size AS size FROM parquet_metadata('{part}')");
        await using (var file = new FileStream(part, FileMode.Open, FileAccess.Write))
        {
            foreach (var chunk in chunks.Where(c => skipped.Contains(c["row_group_id"])))
            {
                file.Position = long.Parse(chunk["start"]!, CultureInfo.InvariantCulture);
                file.Write(Enumerable.Repeat((byte)0xA5, int.Parse(chunk["size"]!, CultureInfo.InvariantCulture)).ToArray());
            }
        }

        Assert.Equal(expected[0], (await FleetGuide.SqlAsync(query))[0]);
        Assert.Equal("5000", expected[0]["n"]);
        await Assert.ThrowsAnyAsync<Exception>(() => FleetGuide.SqlAsync($"SELECT sum(level) FROM read_parquet('{part}')"));
    }

    [Fact]
    public async Task Late_data_rewrites_the_export_under_new_names_and_the_old_parts_go_in_the_same_pass_so_no_query_counts_the_day_twice()
    {
        WriteFleetDay(Day, sensors: 2, eventsPerSensor: 10);
        var regrouper = _fixture.CreateRegrouper(export: new ExportOptions());
        await regrouper.RunPassAsync(_fixture.Token);
        var first = Assert.Single(Parts());

        _fixture.Time.Advance(TimeSpan.FromMinutes(1));
        _fixture.WriteRaw(RegroupFixture.Line("tank-001", 99, $"{Day}T23:59:00.000Z", """{"level":99,"site":"north"}"""), hour: "2026/11/21/12");
        await regrouper.RunPassAsync(_fixture.Token);

        var manifest = await _fixture.ManifestAsync();
        var second = Assert.Single(manifest.Exports[Day].Parts);
        Assert.NotEqual(Path.GetFileName(first), Path.GetFileName(second));
        Assert.Equal(21, manifest.Exports[Day].Events);
        Assert.False(File.Exists(first), "the superseded part must be gone once the flush answers");
        Assert.Equal([Path.GetFileName(second)], Parts().Select(Path.GetFileName));
        Assert.DoesNotContain(manifest.Garbage, g => g.Key.StartsWith("analytics/", StringComparison.Ordinal));
        var rows = await FleetGuide.SqlAsync($"SELECT count(*) AS n, max(seq) AS top FROM read_parquet('{Folder}/*.parquet')");
        Assert.Equal(("21", "99"), (rows[0]["n"], rows[0]["top"]));
    }

    [Fact]
    public async Task A_large_day_is_split_into_parts_by_size()
    {
        WriteFleetDay(Day, sensors: 8, eventsPerSensor: 2_000);

        await _fixture.CreateRegrouper(export: new ExportOptions { RowGroupEvents = 1_000, PartBytes = 65_536 }).RunPassAsync(_fixture.Token);

        var parts = Parts();
        Assert.True(parts.Count > 1, $"{parts.Count} part(s)");
        var total = await FleetGuide.SqlAsync($"SELECT count(*) AS n FROM read_parquet('{Folder}/*.parquet')");
        Assert.Equal("16000", total[0]["n"]);
        Assert.Equal(parts.Count, (await _fixture.ManifestAsync()).Exports[Day].Parts.Count);
        Assert.All(parts, p => Assert.Matches(@"part-\d+-[0-9a-f]{12}\.parquet$", p));
    }

    /// <summary>One raw batch: each sensor sends a level every 10 s from midnight, tank-000 first.</summary>
    private void WriteFleetDay(string day, int sensors, int eventsPerSensor)
    {
        var lines = new StringBuilder();
        var start = DateTime.Parse(day, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        for (var s = sensors - 1; s >= 0; s--)
        {
            for (var i = 0; i < eventsPerSensor; i++)
            {
                var ts = start.AddSeconds(10 * i).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                lines.Append(RegroupFixture.Line($"tank-{s:D3}", i, ts, $$"""{"level":{{((i * 7919 + s * 104729) % 100_003 / 7.0).ToString(CultureInfo.InvariantCulture)}},"site":"{{(s % 2 == 0 ? "north" : "south")}}"}"""));
            }
        }

        _fixture.WriteRaw(lines.ToString(), hour: $"{day.Replace('-', '/')}/10");
    }

    private List<string> Parts() =>
        Directory.Exists(Folder) ? [.. Directory.EnumerateFiles(Folder, "*.parquet").Order(StringComparer.Ordinal)] : [];

    public void Dispose() => _fixture.Dispose();
}
