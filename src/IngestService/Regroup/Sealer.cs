using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using IngestService.Events;
using IngestService.Export;
using IngestService.Resilience;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>What sealing did in one pass.</summary>
public sealed record SealReport(int SensorDaysWritten, long Duplicates, int Conflicts, int Quarantined)
{
    public static readonly SealReport None = new(0, 0, 0, 0);

    public SealReport Add(SealReport other) =>
        new(SensorDaysWritten + other.SensorDaysWritten, Duplicates + other.Duplicates, Conflicts + other.Conflicts, other.Quarantined);
}

/// <summary>
/// Seals days: once a UTC day has ended and <c>Regroup:DeliveryLag</c> has passed, each of its sensor-days is
/// written once as <c>sensors/{id}/{day}.ndjson.gz</c> (the contract's key and format), merged from the runs
/// that hold it and the sealed object if there is one, and the day leaves those runs in the manifest. Late data
/// for a sealed day lands in new runs and is sealed in again <c>Regroup:ResealAfter</c> after the last seal.
/// A sensor-day that fails is quarantined (its runs stay pinned for reads) and never stops the others.
/// </summary>
public sealed partial class Sealer(
    IObjectStore store,
    ManifestStore manifests,
    RunIndexCache indexes,
    WorkClaims claims,
    IOptions<RegroupOptions> options,
    IOptions<StorageOptions> storage,
    TimeProvider time,
    ILogger<Sealer> logger,
    FleetExport? export = null)
{
    private const int MaxAttempts = 10;

    // The raw units in work when this node last found a day due: the seal waits for those, not for units published later.
    private HashSet<string>? _awaited;

    // Another node sealed the same sensor-day first: merge again onto what it wrote.
    private readonly RetryLoop<SealAttempt> _races = Retry.While<SealAttempt>(
        a => !a.Done, new RetryDelays(TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(1)), TimeProvider.System, MaxAttempts);

    /// <summary>
    /// Seals the due days of <paramref name="manifest"/>; <paramref name="force"/> (a flush) re-seals late data at once.
    /// A day of more than <c>Regroup:UnitEvents</c> events is not sealed here but published as sensor-range units that
    /// every node claims (<see cref="SealUnitAsync"/>). A due day waits for the raw units in work when it was found due.
    /// </summary>
    public async Task<SealReport> SealDueAsync(Manifest manifest, bool force, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        var days = manifest.Runs.SelectMany(r => r.Days).Concat(manifest.Quarantine.Select(q => q.Day)).Distinct().Order(StringComparer.Ordinal)
            .Where(d => IsDue(manifest, d, now, force, settings) && !manifest.Work.Any(u => u.Kind == WorkKind.Seal && u.Day == d)).ToList();
        if (WaitsForRawUnits(manifest, days.Count > 0))
        {
            days.Clear();
        }

        var total = SealReport.None;
        foreach (var day in days)
        {
            var plan = await PlanAsync(manifest, Manifest.ParseDay(day), null, null, cancellationToken);
            if (plan.Events > settings.UnitEvents)
            {
                var units = plan.Split(settings.UnitEvents);
                await manifests.CommitAsync(m =>
                {
                    // Another node may have planned (or even finished) the same seal since this node read the manifest.
                    if (m.Work.Any(u => u.Kind == WorkKind.Seal && u.Day == day) || !plan.Runs.All(k => m.Runs.Any(r => r.Key == k && r.Days.Contains(day))))
                    {
                        return false;
                    }

                    WorkClaims.Publish(m, units);
                    return true;
                }, cancellationToken);
                continue;
            }

            total = total.Add(await SealAsync(plan, null, cancellationToken));
        }

        await ExportAsync(cancellationToken);
        return total with { Quarantined = manifests.Latest.Quarantine.Count };
    }

    /// <summary>
    /// Whether due days wait: a raw unit may hold events of any day, and sealed before it lands a day is sealed again
    /// for it later (a backlog shared by three nodes was sealed a third twice: the lease holder's look sealed while the
    /// others still read its last units). The wait is for the units in work when days were found due, so units a busy
    /// fleet publishes at every pass after that never hold the seal back.
    /// </summary>
    private bool WaitsForRawUnits(Manifest manifest, bool anyDue)
    {
        var raw = manifest.Work.Where(u => u.Kind == WorkKind.Raw).Select(u => u.Id);
        _awaited = !anyDue ? null : _awaited is null ? [.. raw] : [.. raw.Where(_awaited.Contains)];
        if (_awaited is { Count: 0 })
        {
            _awaited = null;
            return false;
        }

        return _awaited is not null;
    }

    /// <summary>Seals one claimed sensor range of a day; the last range of the day to finish drops the day from its runs.</summary>
    public async Task<SealReport> SealUnitAsync(WorkUnit unit, CancellationToken cancellationToken)
    {
        var plan = await PlanAsync(manifests.Latest, Manifest.ParseDay(unit.Day!), unit, unit.Runs, cancellationToken);
        var report = await SealAsync(plan, unit, cancellationToken);
        // The node whose unit finished the day (its commit marks it sealed) exports it.
        await ExportAsync(cancellationToken);
        return report;
    }

    /// <summary>
    /// The fleet export of every day sealed since its last export, after the seal's commit so it reads the sealed
    /// objects; a day whose export failed is found again by the next seal or pass.
    /// </summary>
    private async Task ExportAsync(CancellationToken cancellationToken)
    {
        if (export is not null)
        {
            await export.ExportDueAsync(Scratch.Folder, options.Value.DeleteGrace, cancellationToken);
        }
    }

    private static bool IsDue(Manifest manifest, string day, DateTimeOffset now, bool force, RegroupOptions settings) =>
        HasEnded(day, now, settings) && (force || !manifest.Sealed.TryGetValue(day, out var sealedAt) || now - sealedAt >= settings.ResealAfter);

    /// <summary>Whether every day of <paramref name="run"/> is due and never sealed: the next seal takes it, no compaction need.</summary>
    public static bool AwaitsFirstSeal(Manifest manifest, RunEntry run, DateTimeOffset now, RegroupOptions settings) =>
        run.Days.Count > 0 && run.Days.All(d => HasEnded(d, now, settings) && !manifest.Sealed.ContainsKey(d));

    private static bool HasEnded(string day, DateTimeOffset now, RegroupOptions settings) =>
        new DateTimeOffset(Manifest.ParseDay(day).AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) + settings.DeliveryLag <= now;

    /// <summary>Writes the plan's sensor-days, then commits: quarantine, and (a whole day, or its last unit) the day sealed.</summary>
    private async Task<SealReport> SealAsync(DayPlan plan, WorkUnit? unit, CancellationToken cancellationToken)
    {
        var written = 0;
        var conflicts = 0;
        var duplicates = new DuplicateCounter();
        var failed = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var dayText = Manifest.DayText(plan.Day);
        async Task SealOneAsync(string sensorId, Func<CancellationToken, Task<(bool Written, int Conflicts, long Duplicates)>> seal, CancellationToken ct)
        {
            try
            {
                var (wrote, raced, dropped) = await seal(ct);
                Interlocked.Add(ref written, wrote ? 1 : 0);
                Interlocked.Add(ref conflicts, raced);
                duplicates.Add(dropped);
            }
            catch (Exception ex) when (IsBadData(ex))
            {
                failed[sensorId] = $"{ex.GetType().Name}: {ex.Message}";
                LogQuarantined(logger, sensorId, dayText, ex);
            }
        }

        if (plan.First)
        {
            // The first seal of a day: one streaming merge of the day's runs writes every sensor-day in turn, a GET per
            // run rather than one per run and sensor.
            await SealStreamingAsync(plan, SealOneAsync, duplicates, cancellationToken);
        }
        else
        {
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Value.MaxParallelWrites, CancellationToken = cancellationToken };
            await Parallel.ForEachAsync(plan.Sensors, parallel, (sensor, ct) =>
                new ValueTask(SealOneAsync(sensor.Key, c => SealSensorDayAsync(sensor.Key, plan.Day, sensor.Value, c), ct)));
        }

        var now = time.GetUtcNow();
        if (unit is null)
        {
            await manifests.CommitAsync(m =>
            {
                Apply(m, plan, failed, now, dayDone: true);
                return true;
            }, cancellationToken);
        }
        else
        {
            await claims.CompleteAsync(unit, m => Apply(m, plan, failed, now, dayDone: !m.Work.Any(u => u.Kind == WorkKind.Seal && u.Day == dayText)), cancellationToken);
        }

        return new SealReport(written, duplicates.Count, conflicts, failed.Count);
    }

    /// <summary>
    /// Merges one sensor-day into its sealed object, written with <c>If-Match</c> (or <c>If-None-Match: *</c>). A retry
    /// after a crash finds the object already holding every event of the runs and writes nothing.
    /// </summary>
    private async Task<(bool Written, int Conflicts, long Duplicates)> SealSensorDayAsync(string sensorId, DateOnly day, List<RunPart> runs, CancellationToken cancellationToken)
    {
        var key = SensorDayKey.For(storage.Value.SensorPrefix, sensorId, day);
        var attempts = 0;
        var last = await _races.ExecuteAsync(async ct =>
        {
            attempts++;
            return await TrySealAsync(key, sensorId, day, runs, ct);
        }, cancellationToken);
        return last.Done
            ? (last.Written, attempts - 1, last.Duplicates)
            : throw new IOException($"Sensor-day {key} kept changing under {MaxAttempts} seals in a row.");
    }

    /// <summary>One try: read the sealed object, merge, write with its ETag as the condition; not done when another writer got there first.</summary>
    private async ValueTask<SealAttempt> TrySealAsync(string key, string sensorId, DateOnly day, List<RunPart> runs, CancellationToken cancellationToken)
    {
        var stored = await store.GetAsync(key, cancellationToken);
        var etag = stored?.Info.ETag;
        var storedEvents = stored is null ? 0 : Number(stored.Info.Metadata, SensorDayKey.EventsMetadata);
        var duplicates = new DuplicateCounter();
        var path = Path.Combine(Scratch.Folder, $"{Guid.NewGuid():N}.day");
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.DeleteOnClose);
        long events = 0, bytes = 0;
        await using (var gzip = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true))
        {
            var inputs = new List<IAsyncEnumerable<StoredLine>> { SealedAsync(stored, sensorId, day, cancellationToken) };
            inputs.AddRange(runs.Select(r => SensorDayReader.SegmentLinesAsync(store, r, sensorId, day, cancellationToken)));
            await foreach (var line in LineMerge.MergeAsync(inputs, duplicates, cancellationToken))
            {
                gzip.Write(line.Bytes);
                events++;
                bytes += line.Bytes.Length;
            }
        }

        if (stored is not null && events == storedEvents)
        {
            // Every event of the runs is in the sealed object already (a retried seal, or late data sent twice).
            return new SealAttempt(true, false, duplicates.Count);
        }

        file.Position = 0;
        var metadata = new Dictionary<string, string>
        {
            [SensorDayKey.EventsMetadata] = events.ToString(CultureInfo.InvariantCulture),
            [SensorDayKey.BytesMetadata] = bytes.ToString(CultureInfo.InvariantCulture),
        };
        var written = await store.PutAsync(key, file, etag is null ? WriteCondition.CreateOnly : WriteCondition.Replace(etag), metadata, cancellationToken);
        return new SealAttempt(written is not null, written is not null, duplicates.Count);
    }

    private readonly record struct SealAttempt(bool Done, bool Written, long Duplicates);

    private static async IAsyncEnumerable<StoredLine> SealedAsync(StoredObject? stored, string sensorId, DateOnly day, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (stored is null)
        {
            yield break;
        }

        await using (stored)
        {
            await foreach (var line in SensorDayReader.ParseAsync(stored.Content, sensorId, day, cancellationToken))
            {
                yield return line;
            }
        }
    }

    /// <summary>
    /// What a retry cannot heal: the stored data itself (a corrupt sealed object or run). The store being unreachable
    /// fails the pass instead, and the next pass retries.
    /// </summary>
    private static bool IsBadData(Exception ex) => ex is InvalidDataException or System.Text.Json.JsonException or FormatException or EndOfStreamException;

    private static long Number(IReadOnlyDictionary<string, string>? metadata, string name) =>
        metadata is not null && metadata.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : -1;

    [LoggerMessage(EventId = 3010, Level = LogLevel.Error, Message = "Sensor-day {SensorId} {Day} could not be sealed and is quarantined; the other sensor-days go on")]
    private static partial void LogQuarantined(ILogger logger, string sensorId, string day, Exception exception);
}
