using System.Diagnostics;
using IngestService.Events;
using IngestService.Storage;
using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>
/// Turns raw batches into sensor-days. <see cref="RunPassAsync"/> merges everything pending now (the flush);
/// <see cref="LookAsync"/> is the background worker's look: it merges only while this node holds the lease and
/// only once the oldest pending batch would otherwise exceed <c>Regroup:Freshness</c> before the next look, so
/// the writes per sensor-day follow from the freshness, not from how often nodes look.
/// </summary>
/// <remarks>
/// A merging pass reads its batches into a <see cref="PassSpill"/>, merges each touched sensor-day once, then
/// marks the batches done (<see cref="RegroupCursor"/>), moves the cursor and the watermark. Every step is safe
/// to repeat or to run on several nodes at once: merging is a set union written with conditional writes, markers
/// are written after the merges they vouch for, the cursor and the watermark only move forward. A pass that dies
/// leaves unmarked batches the next pass redoes. Passes on one node run one at a time.
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
    private const int MaxBadLinesLogged = 5;
    private const int ChunkLines = 512;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly RegroupLease _lease = new(store, time, options.Value.LeaseDuration);

    // Batches this node saw done, so an idle look needs no listing of markers; only a hint: a merge lists them.
    private HashSet<string> _knownDone = new(StringComparer.Ordinal);
    private DateTimeOffset? _watermark;

    // The last look's scan: the next look lists only keys after its newest one, until a full listing is due.
    private RawScan? _lastScan;

    /// <summary>Merges every pending raw batch now, whatever the freshness and the lease.</summary>
    public Task<RegroupReport> RunPassAsync(CancellationToken cancellationToken) => RunAsync(scheduled: false, cancellationToken);

    /// <summary>One look of the background worker: merges only what is due, and only on the lease holder.</summary>
    public Task<RegroupReport> LookAsync(CancellationToken cancellationToken) => RunAsync(scheduled: true, cancellationToken);

    /// <summary>Gives up the regroup lease, when this node holds it, so another node need not wait for it to expire.</summary>
    public Task ReleaseLeaseAsync(CancellationToken cancellationToken) => _lease.ReleaseAsync(cancellationToken);

    private async Task<RegroupReport> RunAsync(bool scheduled, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        using var attribution = MeteredObjectStore.Attribute("regroup");
        try
        {
            var last = await PassAsync(scheduled, cancellationToken);
            var report = last;
            // A flush makes everything pending readable: passes capped by Regroup:MaxBatchesPerPass follow each other.
            while (!scheduled && last.Pending > 0 && last.BatchesRead >= options.Value.MaxBatchesPerPass)
            {
                last = await PassAsync(scheduled, cancellationToken);
                report = report.Then(last);
            }

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
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            metrics.PassFailed();
            if (scheduled)
            {
                // The fault may be this node's own (its scratch disk, its memory): let another node merge at its
                // next look rather than wait Regroup:LeaseDuration for a lease this node keeps renewing.
                await GiveUpLeaseAsync(cancellationToken);
            }

            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task GiveUpLeaseAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _lease.ReleaseAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The store itself fails: the lease then expires by itself.
        }
    }

    private async Task<RegroupReport> PassAsync(bool scheduled, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var settings = options.Value;
        var rawPrefix = storage.Value.RawPrefix;
        if (scheduled && !await _lease.TryHoldAsync(cancellationToken))
        {
            metrics.OldestPending(null);
            return RegroupReport.Idle(0, Seconds(started));
        }

        // A full listing from the cursor at least once per Freshness − Interval catches batches landing behind
        // the newest key; between them a look lists only what is newer (one page, not the whole day behind).
        var scan = scheduled && _lastScan is not null && time.GetUtcNow() - _lastScan.FullAt < settings.Freshness - settings.Interval
            ? await _lastScan.ExtendAsync(store, rawPrefix, time, cancellationToken)
            : await RawScan.TakeAsync(store, rawPrefix, time, cancellationToken);
        scan.Done.UnionWith(_knownDone);
        if (scheduled && !IsDue(scan, settings))
        {
            _lastScan = scan;
            if (scan.Full && !scan.Pending.Any() && (_watermark is null || scan.ListedAt - _watermark >= settings.Freshness))
            {
                _watermark = await StoreWatermark.AdvanceAsync(store, scan.ListedAt - settings.DeliveryLag, cancellationToken);
            }

            metrics.OldestPending(scan.Pending.Select(r => r.LastModified));
            return RegroupReport.Idle(scan.Pending.Count(), Seconds(started));
        }

        if (!scan.Full)
        {
            scan = await RawScan.TakeAsync(store, rawPrefix, time, cancellationToken);
            scan.Done.UnionWith(_knownDone);
        }

        _knownDone.IntersectWith(scan.Raw.Select(r => r.Key));
        await scan.LoadDoneAsync(store, rawPrefix, cancellationToken);
        var batches = scan.Pending.Take(settings.MaxBatchesPerPass).ToList();
        var pass = new PassState();
        await MergeAsync(batches, pass, cancellationToken);
        scan.Done.UnionWith(pass.Marked);
        _knownDone = [.. scan.Done];

        await RegroupCursor.AdvanceAsync(store, scan, rawPrefix, settings.CursorLag, cancellationToken);
        _lastScan = null;
        var left = scan.Pending.ToList();
        metrics.OldestPending(left.Select(r => r.LastModified));
        // Every batch that landed before the listing is merged, except those left: the oldest of them bounds it.
        var currentAsOf = left.Count == 0 ? scan.ListedAt : Min(scan.ListedAt, left.Min(r => r.LastModified));
        _watermark = await StoreWatermark.AdvanceAsync(store, currentAsOf - settings.DeliveryLag, cancellationToken);
        return new RegroupReport(pass.BatchesRead, pass.Events, pass.SensorDaysWritten, pass.Duplicates, pass.BadLines, pass.Conflicts,
            left.Count, Seconds(started));
    }

    /// <summary>Whether the oldest pending batch would exceed the freshness before the next look.</summary>
    private bool IsDue(RawScan scan, RegroupOptions settings)
    {
        var deadline = scan.ListedAt - (settings.Freshness - settings.Interval);
        return scan.Pending.Any(r => r.LastModified <= deadline);
    }

    private async Task MergeAsync(List<ObjectInfo> batches, PassState pass, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        // Enough partitions that one (gzip raw expands several times once parsed) fits the memory budget.
        var listedBytes = batches.Sum(b => b.Size);
        var partitions = (int)Math.Clamp(8 * listedBytes / settings.MemoryBytes, 2, 1024);
        await using var spill = new PassSpill(settings.MemoryBytes, partitions);
        // Raw batches are read, sensor-days merged and batches marked several at a time: on S3 each is a request
        // whose round trip would otherwise add up (a pass of 1,000 batches read one by one waits 1,000 GETs), and
        // parsing uses every core. The order lines reach the spill in then varies, which is harmless: the merge
        // keeps the same copy of a duplicate whatever the order.
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.MaxParallelWrites, CancellationToken = cancellationToken };
        var cut = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(batches, parallel, async (batch, ct) =>
        {
            if (!await ReadBatchAsync(batch.Key, spill, pass, ct))
            {
                cut[batch.Key] = true;
            }
        });

        // A batch cut short stays pending: its lines read so far are merged, the rest is read at a later pass.
        batches = [.. batches.Where(b => !cut.ContainsKey(b.Key))];

        var sensorPrefix = storage.Value.SensorPrefix;
        foreach (var groups in spill.Partitions(cancellationToken))
        {
            await Parallel.ForEachAsync(
                groups,
                parallel,
                async (group, ct) =>
                {
                    var (sensorId, day) = group.Key;
                    var result = await merger.MergeAsync(SensorDayKey.For(sensorPrefix, sensorId, day), sensorId, group.Value, ct);
                    lock (pass)
                    {
                        pass.SensorDaysWritten += result.Written ? 1 : 0;
                        pass.Duplicates += result.Duplicates;
                        pass.Conflicts += result.Conflicts;
                    }
                });
        }

        // Only now is every event of these batches in its sensor-day.
        await Parallel.ForEachAsync(batches, parallel, async (batch, ct) =>
            await store.PutAsync(RegroupCursor.DonePrefix + batch.Key, Stream.Null, WriteCondition.None, null, ct));
        pass.Marked.AddRange(batches.Select(b => b.Key));

        metrics.BatchesDone(batches.Count);
    }

    /// <summary>Reads one raw batch into the spill; false when it ended inside a gzip member, so it stays pending.</summary>
    private async Task<bool> ReadBatchAsync(string key, PassSpill spill, PassState pass, CancellationToken cancellationToken)
    {
        var badInBatch = 0;
        var events = 0;
        // Lines go to the shared spill a chunk at a time: one lock per chunk, not per line.
        var chunk = new List<StoredLine>(ChunkLines);
        await using (var batch = await store.GetAsync(key, cancellationToken))
        {
            if (batch is null)
            {
                // Removed since it was listed (a lifecycle rule): nothing left to regroup.
                return true;
            }

            Interlocked.Increment(ref pass.BatchesRead);
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

                    events++;
                    chunk.Add(parsed);
                    if (chunk.Count == ChunkLines)
                    {
                        spill.Add(chunk);
                        chunk.Clear();
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
            catch (TruncatedGzipException ex)
            {
                // The object (or this read of it) ends inside a gzip member: the rest is not lost but not here.
                // The batch is not marked done, so a later pass reads it again; regroup lag shows one that stays cut.
                spill.Add(chunk);
                Interlocked.Add(ref pass.Events, events);
                LogBatchCut(logger, key, lineNumber, ex.Message);
                return false;
            }
        }

        spill.Add(chunk);
        Interlocked.Add(ref pass.Events, events);
        if (badInBatch > 0)
        {
            Interlocked.Add(ref pass.BadLines, badInBatch);
            LogBadLines(logger, key, badInBatch);
        }

        return true;
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static double Seconds(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 3);

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

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information,
        Message = "Regroup pass: {Batches} raw batches, {Events} events, {SensorDays} sensor-days written, {Duplicates} duplicates dropped, {BadLines} bad lines in {Seconds} s")]
    private static partial void LogPass(ILogger logger, int batches, long events, int sensorDays, long duplicates, long badLines, double seconds);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Debug, Message = "Regroup look merged nothing ({Pending} pending)")]
    private static partial void LogIdlePass(ILogger logger, int pending);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Skipped line {Line} of raw batch {Key}: {Reason}")]
    private static partial void LogBadLine(ILogger logger, string key, int line, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Raw batch {Key} had {Count} bad lines, skipped")]
    private static partial void LogBadLines(ILogger logger, string key, int count);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Raw batch {Key} is cut short after line {Line} ({Reason}); it stays pending and is read again")]
    private static partial void LogBatchCut(ILogger logger, string key, int line, string reason);
}
