using System.Globalization;
using IngestService.Events;
using IngestService.Events.Columns;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Export;

/// <summary>What the export did in one call.</summary>
public sealed record ExportReport(int Days, int Parts, long Events)
{
    public static readonly ExportReport None = new(0, 0, 0);
}

/// <summary>
/// The daily fleet export: once a day is sealed (and again after each reseal), every sensor-day of it is written as
/// <c>analytics/day=YYYY-MM-DD/part-{n}-{id}.parquet</c>, sorted by <c>sensorId</c> then <c>ts</c>, with the
/// columns of the Parquet answers typed across the whole fleet-day. Two passes over the sealed sensor-days: the
/// first infers the types (a field typed differently by two sensors becomes a string), the second streams rows a
/// row group at a time into parts of about <c>Export:PartBytes</c>, each uploaded with one PUT. One manifest commit
/// names the new parts and turns the previous export's parts into garbage, deleted by the same pass's collection: a
/// reader that lists the folder after the commit sees one generation, never the day twice; a query already reading
/// an old part when it goes may fail and is retried (on the file system an open file stays readable). Parts no
/// export names (one that died, or another node's not yet committed) are deleted after <c>Regroup:DeleteGrace</c>.
/// </summary>
/// <remarks>
/// Part names are new for every export, so a reader never sees a part change under it, and two nodes exporting the
/// same day never overwrite each other: the commit that names the newer seal wins and the other's parts are garbage.
/// </remarks>
public sealed partial class FleetExport(
    IObjectStore store,
    ManifestStore manifests,
    SensorDayReader reader,
    IOptions<ExportOptions> options,
    IOptions<StorageOptions> storage,
    TimeProvider time,
    ILogger<FleetExport> logger)
{
    private const int ParallelReads = 8;

    /// <summary>The folder of a day's export.</summary>
    public static string FolderOf(DateOnly day) => $"{StorageOptions.AnalyticsPrefix}day={Manifest.DayText(day)}/";

    /// <summary>
    /// Exports every sealed day whose export is missing or older than its last seal, oldest first: after a seal, and
    /// again at the next pass when an export failed half way (its parts are then found and collected).
    /// </summary>
    public async Task<ExportReport> ExportDueAsync(string scratchFolder, TimeSpan deleteGrace, CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled)
        {
            return ExportReport.None;
        }

        var manifest = await manifests.CurrentAsync(cancellationToken);
        var due = manifest.Sealed.Where(s => !manifest.Exports.TryGetValue(s.Key, out var e) || e.SealedAt < s.Value).ToList();
        var total = ExportReport.None;
        foreach (var (day, sealedAt) in due)
        {
            var report = await ExportDayAsync(Manifest.ParseDay(day), sealedAt, scratchFolder, deleteGrace, cancellationToken);
            total = new ExportReport(total.Days + report.Days, total.Parts + report.Parts, total.Events + report.Events);
        }

        return total;
    }

    private async Task<ExportReport> ExportDayAsync(DateOnly day, DateTimeOffset sealedAt, string scratchFolder, TimeSpan deleteGrace, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var folder = FolderOf(day);
        // What is there before this export writes: the previous export, or parts of one that died before its commit.
        var before = new List<string>();
        await foreach (var info in store.ListAsync(folder, null, cancellationToken))
        {
            before.Add(info.Key);
        }

        var sensors = await SensorsAsync(day, cancellationToken);
        var (columns, withData) = await InferAsync(sensors, day, cancellationToken);
        var id = Guid.NewGuid().ToString("N")[..12];
        var settings = options.Value;
        await using var parts = new PartWriter(store, folder, id, columns, settings, scratchFolder);
        foreach (var sensorId in withData)
        {
            await foreach (var line in ReadAsync(sensorId, day, cancellationToken))
            {
                await parts.AddAsync(line.Bytes, cancellationToken);
            }
        }

        var written = await parts.FinishAsync(cancellationToken);
        var now = time.GetUtcNow();
        var dayText = Manifest.DayText(day);
        await manifests.CommitAsync(m =>
        {
            if (m.Exports.TryGetValue(dayText, out var previous) && previous.SealedAt >= sealedAt)
            {
                // Another node exported this seal (or a newer one) first: these parts are not needed.
                Collect(m, written, now);
                return true;
            }

            // The previous generation goes in this pass's collection, not after the grace: a query that lists the
            // folder must never count the day twice. Unnamed parts (an export that died, or one another node has not
            // committed yet) wait the grace, so a slower exporter's parts are still there when it commits.
            var superseded = (previous?.Parts ?? []).Except(written).ToList();
            Collect(m, superseded, now);
            Collect(m, before.Except(superseded).Except(written), now + deleteGrace);
            m.Garbage.RemoveAll(g => written.Contains(g.Key));
            m.Exports[dayText] = new ExportEntry { SealedAt = sealedAt, Parts = written, Events = parts.Events };
            // Exports are kept as long as the seals they follow (60 days); a day sealed again later starts a new one,
            // and its listing finds the old parts.
            foreach (var old in m.Exports.Keys.Where(d => !m.Sealed.ContainsKey(d)).ToList())
            {
                m.Exports.Remove(old);
            }

            return true;
        }, cancellationToken);

        LogExported(logger, dayText, parts.Events, withData.Count, written.Count, parts.Bytes, time.GetElapsedTime(started).TotalSeconds);
        return new ExportReport(1, written.Count, parts.Events);
    }

    private static void Collect(Manifest m, IEnumerable<string> keys, DateTimeOffset deleteAfter)
    {
        foreach (var key in keys.Distinct(StringComparer.Ordinal))
        {
            if (m.Garbage.All(g => g.Key != key))
            {
                m.Garbage.Add(new GarbageEntry { Key = key, DeleteAfter = deleteAfter });
            }
        }
    }

    /// <summary>
    /// The sensors that may hold the day: every sensor folder (a delimiter listing, a request per 1,000 sensors) and
    /// those whose lines are still in runs (quarantined, or late data not yet resealed); ordinal order.
    /// </summary>
    private async Task<List<string>> SensorsAsync(DateOnly day, CancellationToken cancellationToken)
    {
        var prefix = storage.Value.SensorPrefix;
        var sensors = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var folder in store.ListFoldersAsync(prefix, null, cancellationToken))
        {
            sensors.Add(folder[prefix.Length..^1]);
        }

        var manifest = await manifests.CurrentAsync(cancellationToken);
        var dayText = Manifest.DayText(day);
        foreach (var q in manifest.Quarantine.Where(q => q.Day == dayText))
        {
            sensors.Add(q.SensorId);
        }

        if (manifest.Runs.Any(r => r.Days.Contains(dayText)))
        {
            sensors.UnionWith(await reader.OpenSensorsAsync("", cancellationToken));
        }

        return [.. sensors];
    }

    /// <summary>The first pass: the fleet-day's columns (in sensor order, as if one builder saw every line) and the sensors with lines.</summary>
    private async Task<(IReadOnlyList<(string Name, FieldKind Kind)> Columns, List<string> WithData)> InferAsync(List<string> sensors, DateOnly day, CancellationToken cancellationToken)
    {
        var schemas = new ParquetSchemaBuilder?[sensors.Count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = ParallelReads, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, sensors.Count), parallel, async (i, ct) =>
        {
            var schema = new ParquetSchemaBuilder();
            var any = false;
            await foreach (var line in ReadAsync(sensors[i], day, ct))
            {
                schema.Add(line.Bytes);
                any = true;
            }

            schemas[i] = any ? schema : null;
        });

        var columns = new ParquetSchemaBuilder();
        var withData = new List<string>();
        for (var i = 0; i < sensors.Count; i++)
        {
            if (schemas[i] is { } schema)
            {
                columns.Add(schema);
                withData.Add(sensors[i]);
            }
        }

        return (columns.Columns, withData);
    }

    /// <summary>
    /// One sensor-day as reads see it (the sealed object merged with any run still holding it). Data that cannot be
    /// read (a corrupt object, also quarantined by the seal) leaves that sensor-day out and never stops the others.
    /// </summary>
    private async IAsyncEnumerable<StoredLine> ReadAsync(string sensorId, DateOnly day, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var parts = await reader.PartsAsync(sensorId, day, cancellationToken);
        await using var enumerator = reader.ReadAsync(parts, null, null, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            StoredLine line;
            try
            {
                if (!await enumerator.MoveNextAsync())
                {
                    yield break;
                }

                line = enumerator.Current;
            }
            catch (Exception ex) when (ex is InvalidDataException or System.Text.Json.JsonException or FormatException or EndOfStreamException)
            {
                LogUnreadable(logger, sensorId, Manifest.DayText(day), ex);
                yield break;
            }

            yield return line;
        }
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Exported {Day}: {Events} events of {Sensors} sensors in {Parts} Parquet parts, {Bytes} bytes, {Seconds:F1} s")]
    private static partial void LogExported(ILogger logger, string day, long events, int sensors, int parts, long bytes, double seconds);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Error, Message = "Sensor-day {SensorId} {Day} could not be read for the fleet export and is left out of it")]
    private static partial void LogUnreadable(ILogger logger, string sensorId, string day, Exception exception);

    internal static string PartName(string folder, int n, string id) => string.Create(CultureInfo.InvariantCulture, $"{folder}part-{n}-{id}.parquet");
}
