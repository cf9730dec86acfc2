using System.Diagnostics;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>
/// Writes the store. A pass turns the raw batches no run holds yet into one L0 run and commits it in the
/// manifest; then it seals the days that are due (<see cref="Sealer"/>), compacts runs a tier up
/// (<see cref="Compactor"/>) and deletes what no reader can still use (<see cref="RunCollector"/>).
/// <see cref="RunPassAsync"/> is the flush: everything pending, every due day sealed at once, whatever the lease;
/// <see cref="LookAsync"/> is the background worker's, on the lease holder only.
/// </summary>
/// <remarks>
/// Every step is safe to repeat and to run on several nodes at once: runs are immutable objects under keys made
/// from their inputs and written with <c>If-None-Match: *</c>; the manifest is the one commit point, replaced with
/// <c>If-Match</c>; reads and seals merge by event identity, so a batch read twice is stored once. A pass that
/// dies before its commit leaves an orphan run that a retry adopts or <see cref="RunCollector"/> deletes.
/// </remarks>
public sealed partial class Regrouper(
    IObjectStore store,
    ManifestStore manifests,
    RunIndexCache indexes,
    Sealer sealer,
    Compactor compactor,
    RunCollector collector,
    WorkClaims claims,
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

    /// <summary>Consumes every pending raw batch and seals every due day now, whatever the lease.</summary>
    public Task<RegroupReport> RunPassAsync(CancellationToken cancellationToken) => RunAsync(scheduled: false, cancellationToken);

    /// <summary>One look of the background worker: a pass, on the lease holder only.</summary>
    public Task<RegroupReport> LookAsync(CancellationToken cancellationToken) => RunAsync(scheduled: true, cancellationToken);

    /// <summary>Gives up the regroup lease, when this node holds it, so another node need not wait for it to expire.</summary>
    public Task ReleaseLeaseAsync(CancellationToken cancellationToken) => _lease.ReleaseAsync(cancellationToken);

    private async Task<RegroupReport> RunAsync(bool scheduled, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        using var attribution = MeteredObjectStore.Attribute("regroup");
        try
        {
            RegroupReport report;
            if (scheduled && !await _lease.TryHoldAsync(cancellationToken))
            {
                metrics.OldestPending(null);
                report = await HelpAsync(cancellationToken);
                if (!report.Merged)
                {
                    return report;
                }
            }
            else
            {
                await using var keeper = scheduled ? _lease.Keep(cancellationToken) : null;
                var last = report = await PassAsync(force: !scheduled, cancellationToken);
                // A flush makes everything pending readable: passes capped by Regroup:MaxBatchesPerPass follow each other.
                while (!scheduled && last.Pending > last.CutShort && last.BatchesRead > 0)
                {
                    last = await PassAsync(force: true, cancellationToken);
                    report = report.Then(last);
                }
            }

            metrics.Pass(report);
            if (report.Merged)
            {
                LogPass(logger, report.BatchesRead, report.Events, report.RunsWritten, report.SensorDaysWritten, report.Compactions, report.DuplicatesDropped, report.BadLines, report.DurationSeconds);
            }

            return report;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            metrics.PassFailed();
            if (scheduled)
            {
                // The fault may be this node's own (its scratch disk, its memory): let another node work at its
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

    private async Task<RegroupReport> PassAsync(bool force, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var settings = options.Value;
        var rawPrefix = storage.Value.RawPrefix;
        var (manifest, manifestETag) = await manifests.ReadAsync(cancellationToken);
        var legacy = manifestETag is null ? await LegacyStart.ReadAsync(store, rawPrefix, cancellationToken) : null;
        if (legacy is { } start)
        {
            manifest.RawFloor = start.Floor;
            manifest.Consumed = start.Consumed;
        }

        var intake = await RawIntake.ListAsync(store, manifest, rawPrefix, settings, time.GetUtcNow(), forceSweep: force, cancellationToken);
        // Batches another pass published as units are read by whoever claims them, not taken again.
        var published = manifest.Work.Where(u => u.Kind == WorkKind.Raw).SelectMany(u => u.Keys).ToHashSet(StringComparer.Ordinal);
        var candidates = intake.Pending.Where(p => !published.Contains(p.Key)).Take(settings.MaxBatchesPerPass).ToList();
        var units = candidates.Sum(c => c.Size) > settings.UnitBytes ? RawUnits(candidates, settings.UnitBytes) : [];
        var taken = (units.Count > 0 ? [] : candidates).Concat(intake.Late).ToList();
        var pass = new PassState();

        WrittenRun? run = null;
        if (taken.Count > 0)
        {
            run = await WriteRunAsync([.. taken.Select(t => t.Key)], pass, cancellationToken);
        }

        // A batch cut short inside a gzip member stays pending: what was read of it is in the run, the rest is read at
        // a later pass (reads and seals merge by identity).
        var takenKeys = taken.Select(t => t.Key).Where(k => !pass.Cut.ContainsKey(k)).ToList();
        var lateCut = intake.Late.Any(l => pass.Cut.ContainsKey(l.Key));
        var now = time.GetUtcNow();
        var before = manifest.Watermark;
        var committed = await manifests.CommitAsync(m =>
        {
            if (legacy is { } start && m.Generation == 0 && m.RawFloor is null)
            {
                // The first commit over an issue-12 store: its cursor and done markers become the floor and consumed.
                (m.RawFloor, m.Consumed) = (start.Floor, [.. start.Consumed]);
            }

            var previous = (m.RawFloor, Consumed: m.Consumed.Count, m.Watermark, Work: m.Work.Count);
            if (run is not null && m.Runs.All(r => r.Key != run.Key))
            {
                m.Runs.Add(run.ToEntry(run.Index.Segments.Select(s => s.Day), now));
            }

            if (!lateCut && (intake.Swept || m.SweptAt is null))
            {
                m.SweptAt = intake.ListedAt;
            }

            // A new store has no orphans yet: the hourly look for them starts from its first pass.
            m.OrphansCollectedAt ??= intake.ListedAt;
            var consumed = m.Consumed.ToHashSet(StringComparer.Ordinal);
            var inWork = m.Work.SelectMany(u => u.Keys).ToHashSet(StringComparer.Ordinal);
            WorkClaims.Publish(m, units.Where(u => !u.Keys.Any(k => consumed.Contains(k) || inWork.Contains(k))));
            intake.Commit(m, takenKeys, rawPrefix, settings);
            // An idle pass commits the watermark at most once per interval: it is all that changed.
            return run is not null || taken.Count > 0 || previous.RawFloor != m.RawFloor || previous.Consumed != m.Consumed.Count
                || previous.Watermark is null || m.Watermark - previous.Watermark >= settings.Interval || previous.Work != m.Work.Count;
        }, cancellationToken);
        pass.RunsWritten += run is null ? 0 : 1;

        // Raw units first (a flush seals only what every node has read), then the seals and compactions they lead to.
        await WorkAsync(pass, wait: force, cancellationToken);
        var left = intake.Pending.Count - intake.Pending.Count(p => published.Contains(p.Key)) - candidates.Count + pass.Cut.Count;
        // Still pending: what this pass leaves for the next, and units published earlier that nobody has finished.
        var beyond = intake.Pending.Where(p => !published.Contains(p.Key)).Skip(settings.MaxBatchesPerPass);
        metrics.OldestPending(intake.Pending.Where(p => published.Contains(p.Key)).Concat(beyond).Select(p => p.LastModified));

        pass.AddSeal(await sealer.SealDueAsync(manifests.Latest, force, cancellationToken));
        pass.Compactions += await compactor.CompactAsync(cancellationToken);
        await WorkAsync(pass, wait: force, cancellationToken);
        var deleted = await collector.CollectAsync(force, cancellationToken);
        var quarantined = manifests.Latest.Quarantine.Count;
        metrics.Quarantined(quarantined);
        return pass.Report(left, quarantined, deleted, Seconds(started), committed.Watermark ?? before, taken.Count > 0);
    }

    private static double Seconds(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 3);

    /// <summary>What a pass did; the units a node works at the same time add to it from several threads.</summary>
    private sealed class PassState
    {
        public int BatchesRead;
        public long Events;
        public long BadLines;
        public int RunsWritten;
        public int Compactions;
        public int Units;
        public SealReport Seal = SealReport.None;
        private readonly Lock _gate = new();
        public readonly DuplicateCounter Duplicates = new();
        public readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Cut = new(StringComparer.Ordinal);

        public void AddSeal(SealReport seal)
        {
            lock (_gate)
            {
                Seal = Seal.Add(seal);
            }
        }

        public RegroupReport Report(int pending, int quarantined, int deleted, double seconds, DateTimeOffset? currentAsOf, bool merged) => new(
            BatchesRead, Events, RunsWritten, Seal.SensorDaysWritten, Duplicates.Count + Seal.Duplicates, BadLines, Seal.Conflicts, pending,
            Compactions, quarantined, deleted, seconds, Merged: merged || RunsWritten > 0 || Seal.SensorDaysWritten > 0 || Compactions > 0 || Units > 0,
            CurrentAsOf: currentAsOf, CutShort: Cut.Count, Units: Units);
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information,
        Message = "Regroup pass: {Batches} raw batches, {Events} events, {Runs} runs written, {SensorDays} sensor-days sealed, {Compactions} compactions, {Duplicates} duplicates dropped, {BadLines} bad lines in {Seconds} s")]
    private static partial void LogPass(ILogger logger, int batches, long events, int runs, int sensorDays, int compactions, long duplicates, long badLines, double seconds);
}
