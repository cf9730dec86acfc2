using System.Globalization;
using System.IO.Compression;
using IngestService.Events;
using IngestService.Storage;

namespace IngestService.Regroup;

/// <summary>What merging one sensor-day did.</summary>
public readonly record struct MergeResult(bool Written, int Added, int Duplicates, int Conflicts);

/// <summary>
/// Merges new events into one sensor-day object: a set union by <see cref="EventIdentity"/> (the copy
/// already stored wins), ordered by <c>ts</c> then <c>seq</c>, written only if the object is still the version
/// that was read (create-only when there was none). When another writer got there first the write fails
/// and the merge starts again from what that writer stored, so racing regroupers converge.
/// </summary>
/// <remarks>
/// When the new events all sort after the stored day (<see cref="DayTail"/>), they are appended as one more gzip
/// member and the stored bytes are copied unread. Otherwise the stored day is streamed, not loaded: its lines go straight into the new object while the (few, sorted)
/// new events are slotted in where they belong; a new event is placed only once the stored lines with the same
/// <c>ts</c> and <c>seq</c> have gone by, since those are where its duplicate would be. Only a duplicate that sorts
/// elsewhere (a sensor that sent the same <c>seq</c> with another <c>ts</c>) can turn up after its new copy was
/// placed; then this merge is redone holding the day in memory. The new object is built compressed in memory.
/// </remarks>
public sealed partial class SensorDayMerger(IObjectStore store, TimeProvider time, ILogger<SensorDayMerger> logger)
{
    private const int MaxAttempts = 30;
    private static readonly byte[] Newline = "\n"u8.ToArray();

    public async Task<MergeResult> MergeAsync(string key, string sensorId, IReadOnlyList<StoredLine> incoming, CancellationToken cancellationToken)
    {
        // Duplicates among the new events themselves are settled once, the same way whatever order the pass read
        // them in: the copy that sorts first wins (same ts and seq, so the earliest receivedAt).
        var sorted = incoming.ToArray();
        Array.Sort(sorted, StoredLine.Compare);
        var fresh = new List<StoredLine>(sorted.Length);
        var freshIndex = new Dictionary<EventIdentity, int>(sorted.Length);
        foreach (var line in sorted)
        {
            if (freshIndex.TryAdd(line.Identity, -1))
            {
                fresh.Add(line);
            }
        }

        for (var i = 0; i < fresh.Count; i++)
        {
            freshIndex[fresh[i].Identity] = i;
        }

        var conflicts = 0;
        for (var attempt = 1; ; attempt++)
        {
            var merged = await StreamMergeAsync(key, sensorId, fresh, freshIndex, cancellationToken)
                ?? await MergeInMemoryAsync(key, sensorId, fresh, cancellationToken);
            using (merged.Body)
            {
                var duplicates = incoming.Count - merged.Added;
                if (merged.Added == 0 && merged.Condition.IfMatch is not null)
                {
                    return new MergeResult(false, 0, duplicates, conflicts);
                }

                var metadata = new Dictionary<string, string>
                {
                    [SensorDayKey.EventsMetadata] = merged.Events.ToString(CultureInfo.InvariantCulture),
                    [SensorDayKey.BytesMetadata] = merged.Bytes.ToString(CultureInfo.InvariantCulture),
                };
                merged.Tail.WriteTo(metadata);
                if (merged.GzipMembers > 1)
                {
                    metadata[SensorDayKey.GzipMembersMetadata] = merged.GzipMembers.ToString(CultureInfo.InvariantCulture);
                }

                merged.Body.Position = 0;
                if (await store.PutAsync(key, merged.Body, merged.Condition, metadata, cancellationToken) is not null)
                {
                    return new MergeResult(true, merged.Added, duplicates, conflicts);
                }
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

    private readonly record struct Merged(MemoryStream Body, WriteCondition Condition, int Added, long Events, long Bytes, DayTail Tail, int GzipMembers = 1);

    /// <summary>The streaming merge; null when a duplicate turned up after its new copy was placed.</summary>
    private async Task<Merged?> StreamMergeAsync(string key, string sensorId, List<StoredLine> fresh, Dictionary<EventIdentity, int> freshIndex, CancellationToken cancellationToken)
    {
        var body = new MemoryStream();
        try
        {
            var output = new Output(body, DayTail.Empty);
            await using var current = await store.GetAsync(key, cancellationToken);
            var condition = current is null ? WriteCondition.CreateOnly : WriteCondition.Replace(current.Info.ETag);
            if (current is not null && DayTail.TryRead(current.Info.Metadata, out var tail, out var storedEvents, out var storedBytes) && tail.AllAfter(fresh))
            {
                // The common case: every new event sorts after the stored day and no seq repeats, so nothing can be a
                // duplicate. gzip members concatenate, so the stored bytes are copied as they are and the new lines
                // follow as one more member: no decompressing or re-sorting of the day, CPU per event flat as it grows.
                await current.Content.CopyToAsync(body, cancellationToken);
                var appended = new Output(body, tail);
                foreach (var line in fresh)
                {
                    appended.Write(line);
                }

                await appended.DisposeAsync();
                var members = current.Info.Metadata?.GetValueOrDefault(SensorDayKey.GzipMembersMetadata) is { } n ? int.Parse(n, CultureInfo.InvariantCulture) : 1;
                return new Merged(body, condition, fresh.Count, storedEvents + appended.Events, storedBytes + appended.Bytes, appended.Tail, members + 1);
            }

            var dropped = new bool[fresh.Count];
            var next = 0;
            if (current is not null)
            {
                await foreach (var line in LineReader.ReadAsync(current.Content, cancellationToken))
                {
                    if (line.TooLong || !StoredLine.TryRead(line.Bytes.Span, sensorId, out _, out var seq, out var ts, out var identity))
                    {
                        // Only this service writes sensor-days; a line it cannot read is reported, not kept.
                        LogUnreadableStoredLine(logger, key);
                        continue;
                    }

                    while (next < fresh.Count && SortsBefore(fresh[next], ts, seq))
                    {
                        if (!dropped[next])
                        {
                            output.Write(fresh[next]);
                        }

                        next++;
                    }

                    if (freshIndex.TryGetValue(identity, out var i))
                    {
                        if (i < next && !dropped[i])
                        {
                            await output.DisposeAsync();
                            body.Dispose();
                            return null;
                        }

                        dropped[i] = true;
                    }

                    output.Write(line.Bytes.Span, ts, seq);
                }
            }

            for (; next < fresh.Count; next++)
            {
                if (!dropped[next])
                {
                    output.Write(fresh[next]);
                }
            }

            await output.DisposeAsync();
            return new Merged(body, condition, dropped.Count(d => !d), output.Events, output.Bytes, output.Tail);
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    private async Task<Merged> MergeInMemoryAsync(string key, string sensorId, List<StoredLine> fresh, CancellationToken cancellationToken)
    {
        var byIdentity = new HashSet<EventIdentity>();
        var lines = new List<StoredLine>();
        WriteCondition condition;
        await using (var current = await store.GetAsync(key, cancellationToken))
        {
            condition = current is null ? WriteCondition.CreateOnly : WriteCondition.Replace(current.Info.ETag);
            if (current is not null)
            {
                await foreach (var line in LineReader.ReadAsync(current.Content, cancellationToken))
                {
                    var parsed = line.TooLong ? null : StoredLine.TryParse(line.Bytes.Span, sensorId);
                    if (parsed is null)
                    {
                        LogUnreadableStoredLine(logger, key);
                    }
                    else if (byIdentity.Add(parsed.Identity))
                    {
                        lines.Add(parsed);
                    }
                }
            }
        }

        var added = 0;
        foreach (var line in fresh)
        {
            if (byIdentity.Add(line.Identity))
            {
                lines.Add(line);
                added++;
            }
        }

        lines.Sort(StoredLine.Compare);
        var body = new MemoryStream();
        var output = new Output(body, DayTail.Empty);
        foreach (var line in lines)
        {
            output.Write(line);
        }

        await output.DisposeAsync();
        return new Merged(body, condition, added, output.Events, output.Bytes, output.Tail);
    }

    /// <summary>Whether a new event's place comes strictly before a stored line with this <c>ts</c> and <c>seq</c>.</summary>
    private static bool SortsBefore(StoredLine line, long ts, long? seq) =>
        line.TsTicks < ts || (line.TsTicks == ts && Nullable.Compare(line.Seq, seq) < 0);

    /// <summary>The gzip NDJSON being built (one gzip member), with its line count, uncompressed size and tail.</summary>
    private sealed class Output : IAsyncDisposable
    {
        private readonly GZipStream _gzip;
        private readonly BufferedStream _buffer;

        public Output(MemoryStream body, DayTail tail)
        {
            Tail = tail;
            _gzip = new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true);
            // Writes go to memory, so the synchronous calls never block on I/O; the buffer hands deflate large
            // blocks instead of one call per line.
            _buffer = new BufferedStream(_gzip, 64 * 1024);
        }

        public long Events { get; private set; }

        public long Bytes { get; private set; }

        public DayTail Tail { get; private set; }

        public void Write(StoredLine line) => Write(line.Bytes, line.TsTicks, line.Seq);

        /// <summary>Writes one line (in stored order); adds the newline when <paramref name="line"/> has none.</summary>
        public void Write(ReadOnlySpan<byte> line, long tsTicks, long? seq)
        {
            Tail = Tail.With(tsTicks, seq);
            _buffer.Write(line);
            Bytes += line.Length;
            if (line.IsEmpty || line[^1] != (byte)'\n')
            {
                _buffer.Write(Newline);
                Bytes++;
            }

            Events++;
        }

        /// <summary>Completes the gzip stream (the underlying body stays open).</summary>
        public ValueTask DisposeAsync() => _buffer.DisposeAsync();
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Skipped an unreadable line in sensor-day {Key}")]
    private static partial void LogUnreadableStoredLine(ILogger logger, string key);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Debug, Message = "Sensor-day {Key} changed while merging (attempt {Attempt}); merging again")]
    private static partial void LogConflict(ILogger logger, string key, int attempt);
}
