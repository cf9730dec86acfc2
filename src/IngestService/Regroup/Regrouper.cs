using System.Diagnostics;
using System.Globalization;
using System.Text;
using IngestService.Storage;
using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>The figures of one regroup pass, as <c>POST /v1/admin/flush</c> answers them.</summary>
public sealed record RegroupReport(
    int BatchesRead,
    long Events,
    int SensorDaysWritten,
    long DuplicatesDropped,
    long BadLines,
    int Conflicts,
    int Pending,
    double DurationSeconds);

/// <summary>
/// One regroup pass: finds raw batches not yet done, reads them in bounded chunks, merges each chunk's events
/// into their sensor-days and only then marks the chunk's raw batches done.
/// </summary>
/// <remarks>
/// Bookkeeping under <c>_ingest/</c>: <c>_ingest/done/{rawKey}</c> marks a raw batch whose events are all in
/// their sensor-days; <c>_ingest/regroup/cursor</c> holds a raw key such that every raw key up to it is done,
/// so a pass lists only what follows it. Every step is safe to repeat or to run on several nodes at once:
/// merging is a set union written with conditional writes, markers are written after the merges they vouch
/// for, and the cursor only moves forward. A pass that dies leaves unmarked batches the next pass redoes.
/// Passes on one node run one at a time.
/// </remarks>
public sealed partial class Regrouper(
    IObjectStore store,
    SensorDayMerger merger,
    IOptions<RegroupOptions> options,
    IOptions<StorageOptions> storage,
    TimeProvider time,
    RegroupMetrics metrics,
    ILogger<Regrouper> logger)
{
    public const string DonePrefix = StorageOptions.BookkeepingPrefix + "done/";
    public const string CursorKey = StorageOptions.BookkeepingPrefix + "regroup/cursor";

    private const int MaxBadLinesLogged = 5;

    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<RegroupReport> RunPassAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var report = await RunAsync(cancellationToken);
            metrics.Pass(report);
            if (report.BatchesRead > 0)
            {
                LogPass(logger, report.BatchesRead, report.Events, report.SensorDaysWritten, report.DuplicatesDropped, report.BadLines, report.DurationSeconds);
            }
            else
            {
                LogIdlePass(logger, report.Pending);
            }
            return report;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<RegroupReport> RunAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var settings = options.Value;
        var rawPrefix = storage.Value.RawPrefix;
        var (cursor, cursorETag) = await ReadCursorAsync(cancellationToken);

        var raw = new List<string>();
        await foreach (var info in store.ListAsync(rawPrefix, cursor, cancellationToken))
        {
            raw.Add(info.Key);
        }

        var done = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var info in store.ListAsync(DonePrefix + rawPrefix, cursor is null ? null : DonePrefix + cursor, cancellationToken))
        {
            done.Add(info.Key[DonePrefix.Length..]);
        }

        var pass = new PassState();
        var chunk = new Chunk();
        foreach (var key in raw)
        {
            if (done.Contains(key))
            {
                continue;
            }

            var badInBatch = 0;
            await using (var batch = await store.GetAsync(key, cancellationToken))
            {
                if (batch is null)
                {
                    // Removed since it was listed (a lifecycle rule): nothing left to regroup.
                    continue;
                }

                pass.BatchesRead++;
                var lineNumber = 0;
                try
                {
                    await foreach (var line in LineReader.ReadAsync(batch.Content, cancellationToken))
                    {
                        lineNumber++;
                        var parsed = line.TooLong ? null : StoredLine.TryParse(line.Bytes.Span);
                        if (parsed is null)
                        {
                            // A few per batch say where to look; a garbage batch must not flood the log.
                            if (++badInBatch <= MaxBadLinesLogged)
                            {
                                LogBadLine(logger, key, lineNumber, line.TooLong ? "longer than the line limit" : "not a complete stored event");
                            }

                            continue;
                        }

                        pass.Events++;
                        chunk.Add(parsed);
                        if (chunk.Events >= settings.MaxEventsPerChunk)
                        {
                            // Mid-batch: the batch stays unmarked until its last chunk is written.
                            await WriteChunkAsync(chunk, pass, cancellationToken);
                        }
                    }
                }
                catch (InvalidDataException)
                {
                    // Corrupt compression never heals: retrying would stall every pass on this batch. What was
                    // read before the damage is kept, the rest is counted as one bad line.
                    badInBatch++;
                    LogBadLine(logger, key, lineNumber + 1, "the gzip data is corrupt; the rest of the batch is unreadable");
                }
            }

            if (badInBatch > 0)
            {
                pass.BadLines += badInBatch;
                LogBadLines(logger, key, badInBatch);
            }

            chunk.Completed.Add(key);
            if (chunk.Completed.Count >= settings.MaxObjectsPerChunk)
            {
                await WriteChunkAsync(chunk, pass, cancellationToken);
            }
        }

        await WriteChunkAsync(chunk, pass, cancellationToken);
        foreach (var key in pass.Marked)
        {
            done.Add(key);
        }

        await AdvanceCursorAsync(raw, done, cursor, cursorETag, cancellationToken);
        var pending = raw.Count(k => !done.Contains(k));
        return new RegroupReport(pass.BatchesRead, pass.Events, pass.SensorDaysWritten, pass.Duplicates, pass.BadLines, pass.Conflicts,
            pending, Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 3));
    }

    private async Task WriteChunkAsync(Chunk chunk, PassState pass, CancellationToken cancellationToken)
    {
        var storage_ = storage.Value;
        await Parallel.ForEachAsync(
            chunk.Groups,
            new ParallelOptions { MaxDegreeOfParallelism = options.Value.MaxParallelWrites, CancellationToken = cancellationToken },
            async (group, ct) =>
            {
                var (sensorId, day) = group.Key;
                var result = await merger.MergeAsync(SensorDayKey.For(storage_.SensorPrefix, sensorId, day), sensorId, group.Value, ct);
                lock (pass)
                {
                    pass.SensorDaysWritten += result.Written ? 1 : 0;
                    pass.Duplicates += result.Duplicates;
                    pass.Conflicts += result.Conflicts;
                }
            });

        // Only now is every event of the completed batches in its sensor-day.
        foreach (var key in chunk.Completed)
        {
            _ = await store.PutAsync(DonePrefix + key, Stream.Null, WriteCondition.None, null, cancellationToken);
            pass.Marked.Add(key);
        }

        metrics.BatchesDone(chunk.Completed.Count);
        chunk.Clear();
    }

    private async Task<(string? Cursor, string? ETag)> ReadCursorAsync(CancellationToken cancellationToken)
    {
        await using var current = await store.GetAsync(CursorKey, cancellationToken);
        if (current is null)
        {
            return (null, null);
        }

        using var reader = new StreamReader(current.Content, Encoding.UTF8);
        var text = (await reader.ReadToEndAsync(cancellationToken)).Trim();
        return (text.Length == 0 ? null : text, current.Info.ETag);
    }

    /// <summary>
    /// Moves the cursor over the leading run of done raw batches whose hour folder can no longer receive
    /// objects, then drops their markers: the cursor now vouches for them.
    /// </summary>
    private async Task AdvanceCursorAsync(List<string> raw, HashSet<string> done, string? cursor, string? cursorETag, CancellationToken cancellationToken)
    {
        var settled = time.GetUtcNow().UtcDateTime - options.Value.CursorLag;
        string? next = null;
        foreach (var key in raw)
        {
            if (!done.Contains(key) || HourOf(key) is not { } hour || hour.AddHours(1) > settled)
            {
                break;
            }

            next = key;
        }

        if (next is null)
        {
            return;
        }

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var written = await store.PutAsync(CursorKey, new MemoryStream(Encoding.UTF8.GetBytes(next)),
                cursorETag is null ? WriteCondition.CreateOnly : WriteCondition.Replace(cursorETag), null, cancellationToken);
            if (written is not null)
            {
                break;
            }

            // Another node moved it: keep whichever is further along.
            (cursor, cursorETag) = await ReadCursorAsync(cancellationToken);
            if (cursor is not null && string.CompareOrdinal(cursor, next) >= 0)
            {
                break;
            }
        }

        var stale = new List<string>();
        await foreach (var marker in store.ListAsync(DonePrefix + storage.Value.RawPrefix, null, cancellationToken))
        {
            if (string.CompareOrdinal(marker.Key, DonePrefix + next) > 0)
            {
                break;
            }

            stale.Add(marker.Key);
        }

        foreach (var marker in stale)
        {
            await store.DeleteAsync(marker, cancellationToken);
        }
    }

    /// <summary>The hour of a Firehose-style key <c>{RawPrefix}YYYY/MM/DD/HH/…</c>, or null for any other name.</summary>
    private DateTime? HourOf(string key)
    {
        var rest = key.AsSpan(storage.Value.RawPrefix.Length);
        return rest.Length > 14 && DateTime.TryParseExact(rest[..13], "yyyy/MM/dd/HH", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var hour) && rest[13] == '/'
            ? hour
            : null;
    }

    private sealed class PassState
    {
        public int BatchesRead;
        public long Events;
        public int SensorDaysWritten;
        public long Duplicates;
        public long BadLines;
        public int Conflicts;
        public readonly List<string> Marked = [];
    }

    private sealed class Chunk
    {
        public Dictionary<(string SensorId, DateOnly Day), List<StoredLine>> Groups { get; } = [];

        public List<string> Completed { get; } = [];

        public int Events { get; private set; }

        public void Add(StoredLine line)
        {
            var key = (line.SensorId, line.Day);
            if (!Groups.TryGetValue(key, out var lines))
            {
                Groups[key] = lines = [];
            }

            lines.Add(line);
            Events++;
        }

        public void Clear()
        {
            Groups.Clear();
            Completed.Clear();
            Events = 0;
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information,
        Message = "Regroup pass: {Batches} raw batches, {Events} events, {SensorDays} sensor-days written, {Duplicates} duplicates dropped, {BadLines} bad lines in {Seconds} s")]
    private static partial void LogPass(ILogger logger, int batches, long events, int sensorDays, long duplicates, long badLines, double seconds);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Debug, Message = "Regroup pass found no new raw batches ({Pending} pending)")]
    private static partial void LogIdlePass(ILogger logger, int pending);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Skipped line {Line} of raw batch {Key}: {Reason}")]
    private static partial void LogBadLine(ILogger logger, string key, int line, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Raw batch {Key} had {Count} bad lines, skipped")]
    private static partial void LogBadLines(ILogger logger, string key, int count);
}
