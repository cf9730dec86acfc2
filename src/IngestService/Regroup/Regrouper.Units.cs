using System.Diagnostics;
using IngestService.Storage;
using IngestService.Storage.Runs;

namespace IngestService.Regroup;

/// <summary>
/// Scale-out: the units of work a pass publishes in the manifest (a raw backlog, a tier's further compactions, a large
/// day's seal in sensor ranges), claimed and done by every node: the lease holder after its pass, the others every
/// other look, a flush until none is left.
/// </summary>
public sealed partial class Regrouper
{
    // Nodes without the lease look for published units every other look: a spike waits at most two intervals for
    // help, and an idle fleet's extra manifest GETs stay at half a look's (requests of 3 nodes stay within 1.2× one's).
    private const int HelpEvery = 2;
    private static readonly TimeSpan WaitStep = TimeSpan.FromMilliseconds(200);
    private static readonly WorkKind[] AllKinds = [WorkKind.Raw, WorkKind.Compact, WorkKind.Seal];
    private int _looks;

    /// <summary>A node that does not hold the lease claims what the holder published, every other look (a GET of the manifest).</summary>
    private async Task<RegroupReport> HelpAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _looks) % HelpEvery != 0)
        {
            return RegroupReport.Idle(0, 0);
        }

        var started = Stopwatch.GetTimestamp();
        var (manifest, _) = await manifests.ReadAsync(cancellationToken);
        if (!claims.AnyFree(manifest))
        {
            return RegroupReport.Idle(0, 0);
        }

        var pass = new PassState();
        await WorkAsync(pass, wait: false, cancellationToken);
        return pass.Report(0, manifests.Latest.Quarantine.Count, 0, Seconds(started), manifests.Latest.Watermark, merged: false);
    }

    /// <summary>
    /// Claims and does published units until none is free, <c>Regroup:MaxParallelUnits</c> at a time; with
    /// <paramref name="wait"/> (a flush) until none is left, looking again every <see cref="WaitStep"/> while other
    /// nodes hold the rest (a dead node's claim lapses and is taken).
    /// </summary>
    private Task WorkAsync(PassState pass, bool wait, CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, options.Value.MaxParallelUnits).Select(_ => WorkOneAtATimeAsync(pass, wait, cancellationToken)));

    private async Task WorkOneAtATimeAsync(PassState pass, bool wait, CancellationToken cancellationToken)
    {
        while (true)
        {
            // The manifest this node last read or committed names no unit: no request (a steady pass asks nothing more).
            if (wait ? manifests.Latest.Work.Count == 0 : !claims.AnyFree(manifests.Latest))
            {
                return;
            }

            var unit = await claims.ClaimAsync(AllKinds, cancellationToken);
            if (unit is null)
            {
                if (!wait || (await manifests.ReadAsync(cancellationToken)).Manifest.Work.Count == 0)
                {
                    return;
                }

                await Task.Delay(WaitStep, TimeProvider.System, cancellationToken);
                continue;
            }

            using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var keeping = claims.KeepAsync(unit, done.Token);
            try
            {
                await DoAsync(unit, pass, cancellationToken);
                Interlocked.Increment(ref pass.Units);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                await done.CancelAsync();
                await keeping;
                await claims.ReleaseAsync(unit, cancellationToken);
                throw;
            }
            finally
            {
                await done.CancelAsync();
                await keeping;
            }
        }
    }

    private async Task DoAsync(WorkUnit unit, PassState pass, CancellationToken cancellationToken)
    {
        switch (unit.Kind)
        {
            case WorkKind.Raw:
                var run = await WriteRunAsync(unit.Keys, pass, cancellationToken);
                var read = unit.Keys.Where(k => !pass.Cut.ContainsKey(k)).ToList();
                var now = time.GetUtcNow();
                var applied = await claims.CompleteAsync(unit, m =>
                {
                    if (run is not null && m.Runs.All(r => r.Key != run.Key))
                    {
                        m.Runs.Add(run.ToEntry(run.Index.Segments.Select(s => s.Day), now));
                    }

                    RawIntake.Consume(m, read);
                }, cancellationToken);
                Interlocked.Add(ref pass.RunsWritten, applied && run is not null ? 1 : 0);
                break;
            case WorkKind.Compact:
                Interlocked.Add(ref pass.Compactions, await compactor.CompactUnitAsync(unit, cancellationToken) ? 1 : 0);
                break;
            case WorkKind.Seal:
                pass.AddSeal(await sealer.SealUnitAsync(unit, cancellationToken));
                break;
        }
    }

    /// <summary>Consecutive batches (key order, so each unit's run covers a stretch of time) of about <paramref name="bytes"/> each.</summary>
    private static List<WorkUnit> RawUnits(List<ObjectInfo> batches, long bytes)
    {
        var units = new List<WorkUnit>();
        var keys = new List<string>();
        long size = 0;
        foreach (var batch in batches.OrderBy(b => b.Key, StringComparer.Ordinal))
        {
            keys.Add(batch.Key);
            size += batch.Size;
            if (size >= bytes)
            {
                units.Add(Unit());
                (keys, size) = ([], 0);
            }
        }

        if (keys.Count > 0)
        {
            units.Add(Unit());
        }

        return units;

        WorkUnit Unit() => new() { Id = WorkClaims.IdFor(WorkKind.Raw, keys), Kind = WorkKind.Raw, Keys = keys, Size = size };
    }
}
