using System.Runtime.CompilerServices;
using IngestService.Events;
using Microsoft.Extensions.Options;

namespace IngestService.Storage.Runs;

/// <summary>What a sensor-day is made of now: its sealed object (if there is one) and the run segments that hold it.</summary>
public sealed record SensorDayParts(string SensorId, DateOnly Day, string SealedKey, IReadOnlyList<RunPart> Runs)
{
    /// <summary>Whether a read is the sealed object alone: one GET, passed through as stored.</summary>
    public bool SealedOnly => Runs.Count == 0;

    /// <summary>Stands for the runs in an ETag: runs never change, so their keys name their content.</summary>
    public IEnumerable<string> RunTags => Runs.Select(r => $"{r.Key}@{r.Segment.Offset}");
}

public sealed record RunPart(string Key, RunSegment Segment);

/// <summary>
/// Reads one sensor-day as the store holds it: the sealed object plus one ranged GET per live run whose index
/// lists the sensor-day, merged k-way with duplicates dropped by identity (<see cref="LineMerge"/>). A line is only
/// ever part of its own sensor's day: exact, case-sensitive sensor id, and its <c>ts</c> on that UTC day.
/// </summary>
public sealed class SensorDayReader(IObjectStore store, ManifestStore manifests, RunIndexCache indexes, IOptions<StorageOptions> storage)
{
    private readonly RunSegmentCache _segments = new();

    public async Task<SensorDayParts> PartsAsync(string sensorId, DateOnly day, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var manifest = await manifests.CurrentAsync(cancellationToken);
            var parts = new List<RunPart>();
            var gone = false;
            foreach (var key in manifest.RunsFor(sensorId, day).Distinct())
            {
                var index = await indexes.GetAsync(key, manifest.IndexBytesOf(key), cancellationToken);
                if (index is null)
                {
                    gone = true;
                    break;
                }

                if (index.Find(sensorId, day) is { } segment)
                {
                    parts.Add(new RunPart(key, segment));
                }
            }

            if (!gone || attempt > 0)
            {
                return new SensorDayParts(sensorId, day, SensorDayKey.For(storage.Value.SensorPrefix, sensorId, day), parts);
            }

            // A run went away after a compaction or a seal this node's cached manifest has not seen yet.
            manifests.Invalidate();
        }
    }

    /// <summary>The sealed object of <paramref name="parts"/>, or null when the day has none yet.</summary>
    public Task<StoredObject?> OpenSealedAsync(SensorDayParts parts, CancellationToken cancellationToken) => store.GetAsync(parts.SealedKey, cancellationToken);

    /// <summary>
    /// The merged lines of <paramref name="parts"/>; <paramref name="sealedObject"/> is the sealed object already
    /// opened by the caller (or null to open it here; it is disposed either way).
    /// </summary>
    public IAsyncEnumerable<StoredLine> ReadAsync(SensorDayParts parts, StoredObject? sealedObject, DuplicateCounter? duplicates, CancellationToken cancellationToken)
    {
        var inputs = new List<IAsyncEnumerable<StoredLine>> { SealedLinesAsync(parts, sealedObject, cancellationToken) };
        foreach (var run in parts.Runs)
        {
            inputs.Add(CachedSegmentLinesAsync(run, parts.SensorId, parts.Day, cancellationToken));
        }

        return LineMerge.MergeAsync(inputs, duplicates, cancellationToken);
    }

    /// <summary>Every sensor that has a line in a live run, ordinal order, without duplicates.</summary>
    public async Task<SortedSet<string>> OpenSensorsAsync(string prefix, CancellationToken cancellationToken)
    {
        var manifest = await manifests.CurrentAsync(cancellationToken);
        var sensors = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var run in manifest.Runs)
        {
            if (await indexes.GetAsync(run.Key, run.IndexBytes, cancellationToken) is { } index)
            {
                foreach (var s in index.Segments)
                {
                    if (s.SensorId.StartsWith(prefix, StringComparison.Ordinal) && run.Days.Contains(Manifest.DayText(s.Day)))
                    {
                        sensors.Add(s.SensorId);
                    }
                }
            }
        }

        return sensors;
    }

    /// <summary>The days between <paramref name="first"/> and <paramref name="last"/> that live runs hold for a sensor.</summary>
    public async Task<SortedSet<DateOnly>> OpenDaysAsync(string sensorId, DateOnly first, DateOnly last, CancellationToken cancellationToken)
    {
        var manifest = await manifests.CurrentAsync(cancellationToken);
        var days = new SortedSet<DateOnly>();
        foreach (var run in manifest.Runs)
        {
            if (!run.Days.Any(d => Manifest.ParseDay(d) is var day && day >= first && day <= last) || await indexes.GetAsync(run.Key, run.IndexBytes, cancellationToken) is not { } index)
            {
                continue;
            }

            foreach (var d in run.Days)
            {
                var day = Manifest.ParseDay(d);
                if (day >= first && day <= last && index.Find(sensorId, day) is not null)
                {
                    days.Add(day);
                }
            }
        }

        return days;
    }

    private async IAsyncEnumerable<StoredLine> SealedLinesAsync(SensorDayParts parts, StoredObject? opened, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var stored = opened ?? await store.GetAsync(parts.SealedKey, cancellationToken);
        if (stored is null)
        {
            yield break;
        }

        await foreach (var line in ParseAsync(stored.Content, parts.SensorId, parts.Day, cancellationToken))
        {
            yield return line;
        }
    }

    /// <summary>The lines of one run segment: from this node's cache, else one ranged GET that fills it.</summary>
    private async IAsyncEnumerable<StoredLine> CachedSegmentLinesAsync(RunPart run, string sensorId, DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!_segments.TryGet(run.Key, run.Segment.Offset, out var segment))
        {
            if (run.Segment.Length > RunSegmentCache.MaxSegmentBytes)
            {
                await foreach (var line in SegmentLinesAsync(store, run, sensorId, day, cancellationToken))
                {
                    yield return line;
                }

                yield break;
            }

            await using (var stored = await store.GetRangeAsync(run.Key, new ObjectRange(run.Segment.Offset, run.Segment.Length), cancellationToken)
                ?? throw new IOException($"Run {run.Key} is gone; the read is retried with a newer manifest."))
            {
                using var buffer = new MemoryStream((int)run.Segment.Length);
                await stored.Content.CopyToAsync(buffer, cancellationToken);
                segment = buffer.ToArray();
            }

            _segments.Add(run.Key, run.Segment.Offset, segment);
        }

        await foreach (var line in ParseAsync(new MemoryStream(segment, writable: false), sensorId, day, cancellationToken))
        {
            yield return line;
        }
    }

    /// <summary>The lines of one run segment: one ranged GET.</summary>
    public static async IAsyncEnumerable<StoredLine> SegmentLinesAsync(IObjectStore store, RunPart run, string sensorId, DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var stored = await store.GetRangeAsync(run.Key, new ObjectRange(run.Segment.Offset, run.Segment.Length), cancellationToken)
            ?? throw new IOException($"Run {run.Key} is gone; the read is retried with a newer manifest.");
        await foreach (var line in ParseAsync(stored.Content, sensorId, day, cancellationToken))
        {
            yield return line;
        }
    }

    /// <summary>The stored lines of <paramref name="sensorId"/> on <paramref name="day"/> in a stream of gzip members, in stored order.</summary>
    public static async IAsyncEnumerable<StoredLine> ParseAsync(Stream content, string sensorId, DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var line in LineReader.ReadAsync(content, cancellationToken))
        {
            if (!line.TooLong && StoredLine.TryParse(line.Bytes.Span, sensorId) is { } parsed
                && string.Equals(parsed.SensorId, sensorId, StringComparison.Ordinal) && parsed.Day == day)
            {
                yield return parsed;
            }
        }
    }
}
