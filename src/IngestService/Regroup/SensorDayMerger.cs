using System.Globalization;
using System.IO.Compression;
using IngestService.Storage;

namespace IngestService.Regroup;

/// <summary>What merging one sensor-day did.</summary>
public readonly record struct MergeResult(bool Written, int Added, int Duplicates, int Conflicts);

/// <summary>
/// Merges new events into one sensor-day object: a set union by <see cref="EventIdentity"/> (the copy
/// already stored wins), sorted by <c>ts</c> then <c>seq</c>, written only if the object is still the version
/// that was read (create-only when there was none). When another writer got there first the write fails
/// and the merge starts again from what that writer stored, so racing regroupers converge.
/// </summary>
/// <remarks>The sensor-day being merged is held in memory once: it is one sensor's day, not the input.</remarks>
public sealed partial class SensorDayMerger(IObjectStore store, TimeProvider time, ILogger<SensorDayMerger> logger)
{
    private const int MaxAttempts = 30;

    public async Task<MergeResult> MergeAsync(string key, string sensorId, IReadOnlyList<StoredLine> incoming, CancellationToken cancellationToken)
    {
        var conflicts = 0;
        for (var attempt = 1; ; attempt++)
        {
            var byIdentity = new Dictionary<EventIdentity, StoredLine>();
            var lines = new List<StoredLine>();
            WriteCondition condition;
            await using (var current = await store.GetAsync(key, cancellationToken))
            {
                if (current is null)
                {
                    condition = WriteCondition.CreateOnly;
                }
                else
                {
                    condition = WriteCondition.Replace(current.Info.ETag);
                    await foreach (var line in LineReader.ReadAsync(current.Content, cancellationToken))
                    {
                        var parsed = line.TooLong ? null : StoredLine.TryParse(line.Bytes.Span, sensorId);
                        if (parsed is null)
                        {
                            // Only this service writes sensor-days; a line it cannot read is reported, not kept.
                            LogUnreadableStoredLine(logger, key);
                            continue;
                        }

                        if (byIdentity.TryAdd(parsed.Identity, parsed))
                        {
                            lines.Add(parsed);
                        }
                    }
                }
            }

            var added = 0;
            foreach (var line in incoming)
            {
                if (byIdentity.TryAdd(line.Identity, line))
                {
                    lines.Add(line);
                    added++;
                }
            }

            var duplicates = incoming.Count - added;
            if (added == 0 && condition.IfMatch is not null)
            {
                return new MergeResult(false, 0, duplicates, conflicts);
            }

            lines.Sort(StoredLine.Compare);
            using var body = new MemoryStream();
            long bytes = 0;
            await using (var gzip = new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true))
            {
                foreach (var line in lines)
                {
                    await gzip.WriteAsync(line.Bytes, cancellationToken);
                    bytes += line.Bytes.Length;
                }
            }

            body.Position = 0;
            var metadata = new Dictionary<string, string>
            {
                [SensorDayKey.EventsMetadata] = lines.Count.ToString(CultureInfo.InvariantCulture),
                [SensorDayKey.BytesMetadata] = bytes.ToString(CultureInfo.InvariantCulture),
            };
            if (await store.PutAsync(key, body, condition, metadata, cancellationToken) is not null)
            {
                return new MergeResult(true, added, duplicates, conflicts);
            }

            conflicts++;
            if (attempt == MaxAttempts)
            {
                throw new InvalidOperationException($"Sensor-day '{key}' kept changing under {MaxAttempts} merges; the next pass retries it.");
            }

            LogConflict(logger, key, attempt);
            // Racing writers would collide again in lockstep; a growing, jittered pause spreads them out.
            var pause = TimeSpan.FromMilliseconds(Random.Shared.Next(1, 10 * Math.Min(attempt, 10)));
            await Task.Delay(pause, time, cancellationToken);
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Skipped an unreadable line in sensor-day {Key}")]
    private static partial void LogUnreadableStoredLine(ILogger logger, string key);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Debug, Message = "Sensor-day {Key} changed while merging (attempt {Attempt}); merging again")]
    private static partial void LogConflict(ILogger logger, string key, int attempt);
}
