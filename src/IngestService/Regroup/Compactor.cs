using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>
/// Compacts runs in tiers: once a tier holds <c>Regroup:Fanout</c> live runs, its oldest <c>Fanout</c> are merged
/// into one run a tier up, a sensor-day at a time (<see cref="SegmentMerge"/>: copied as gzip members where the inputs
/// cannot interleave, merged k-way with duplicates dropped by identity where they can), committed in the manifest
/// in one step, and the inputs deleted after <c>Regroup:DeleteGrace</c>. Past <c>Regroup:MaxLiveRuns</c> live runs
/// the lowest tier is merged early, so a read of a day opens at most that many runs however often passes run.
/// </summary>
public sealed partial class Compactor(
    IObjectStore store,
    ManifestStore manifests,
    RunIndexCache indexes,
    IOptions<RegroupOptions> options,
    TimeProvider time,
    ILogger<Compactor> logger)
{
    /// <summary>
    /// Compacts the oldest full group of each tier, once per pass, and publishes the tier's further full groups (a
    /// backlog) as units any node claims (<see cref="CompactUnitAsync"/>); then, past <c>Regroup:MaxLiveRuns</c>, merges
    /// the lowest tier early. Answers how many compactions were committed.
    /// </summary>
    public async Task<int> CompactAsync(CancellationToken cancellationToken)
    {
        var done = 0;
        var fanout = options.Value.Fanout;
        var now = time.GetUtcNow();
        for (var level = 0; level <= manifests.Latest.Runs.Select(r => r.Level).DefaultIfEmpty().Max(); level++)
        {
            var manifest = manifests.Latest;
            var busy = manifest.RunsInWork();
            var groups = Idle(manifest, busy, level, now).Chunk(fanout).Where(g => g.Length == fanout).ToList();
            if (groups.Count == 0)
            {
                continue;
            }

            if (groups.Count > 1)
            {
                var units = groups.Skip(1).Select(g => new WorkUnit
                {
                    Id = WorkClaims.IdFor(WorkKind.Compact, g.Select(r => r.Key)),
                    Kind = WorkKind.Compact,
                    Keys = [.. g.Select(r => r.Key)],
                    Level = level + 1,
                    Size = g.Sum(r => r.Size),
                }).ToList();
                await manifests.CommitAsync(m =>
                {
                    var live = m.Runs.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
                    var inWork = m.RunsInWork();
                    var fresh = units.Where(u => u.Keys.All(live.Contains) && !u.Keys.Any(inWork.Contains)).ToList();
                    WorkClaims.Publish(m, fresh);
                    return fresh.Count > 0;
                }, cancellationToken);
            }

            if (await CompactAsync([.. groups[0]], level + 1, null, cancellationToken))
            {
                done++;
            }
        }

        // Runs holding a day are what a cold read of it opens (an index GET and a ranged GET each). Tiers alone keep
        // up to Fanout − 1 runs in each, more tiers the more passes a day has: past the cap, the lowest tier with two
        // idle runs is merged a tier up now instead of when full. At one-minute passes that is a few compactions a day.
        var latest = manifests.Latest;
        if (latest.Runs.Count > options.Value.MaxLiveRuns)
        {
            var busy = latest.RunsInWork();
            var lowest = latest.Runs.Select(r => r.Level).Distinct().Order()
                .Select(level => Idle(latest, busy, level, now)).FirstOrDefault(runs => runs.Count >= 2);
            if (lowest is not null && await CompactAsync(lowest, lowest[0].Level + 1, null, cancellationToken))
            {
                done++;
            }
        }

        return done;
    }

    /// <summary>
    /// The live runs of a tier no unit is working and no first seal is about to take (a backlog of past days, while
    /// its last raw units are read), oldest first.
    /// </summary>
    private List<RunEntry> Idle(Manifest manifest, HashSet<string> busy, int level, DateTimeOffset now) =>
    [
        .. manifest.Runs.Where(r => r.Level == level && !busy.Contains(r.Key) && !Sealer.AwaitsFirstSeal(manifest, r, now, options.Value))
            .OrderBy(r => r.CreatedAt).ThenBy(r => r.Key, StringComparer.Ordinal),
    ];

    /// <summary>Does one claimed compaction; answers whether it committed.</summary>
    public async Task<bool> CompactUnitAsync(WorkUnit unit, CancellationToken cancellationToken)
    {
        var inputs = manifests.Latest.Runs.Where(r => unit.Keys.Contains(r.Key)).ToList();
        return await CompactAsync(inputs, unit.Level, unit, cancellationToken);
    }

    private async Task<bool> CompactAsync(List<RunEntry> inputs, int level, WorkUnit? unit, CancellationToken cancellationToken)
    {
        var key = RunOutput.KeyFor(level, inputs.Select(i => i.Key));

        // A unit whose inputs are no longer all live (another node compacted them after its claim ran out) is dropped.
        var stale = unit is not null && inputs.Count != unit.Keys.Count;
        var output = stale
            ? null
            : await RunOutput.WriteAsync(store, indexes, key, level, writer => MergeAsync(inputs, writer, cancellationToken), cancellationToken);
        var now = time.GetUtcNow();
        var grace = options.Value.DeleteGrace;
        var inputKeys = inputs.Select(i => i.Key).ToHashSet(StringComparer.Ordinal);
        var applied = false;
        await manifests.CommitAsync(m =>
        {
            applied = false;
            var claimed = unit is null || m.Work.RemoveAll(u => u.Id == unit.Id) > 0;
            var current = m.Runs.Where(r => inputKeys.Contains(r.Key)).ToList();
            if (stale)
            {
                return claimed;
            }

            if (!claimed || current.Count != inputKeys.Count || m.RunsInWork().Overlaps(inputKeys))
            {
                // Another node compacted (some of) them first, a seal emptied one or is reading them: this output is not needed.
                if (output is not null && m.Runs.All(r => r.Key != output.Key) && m.Garbage.All(g => g.Key != output.Key))
                {
                    m.Garbage.Add(new GarbageEntry { Key = output.Key, DeleteAfter = now + grace });
                    return true;
                }

                return claimed && unit is not null;
            }

            // Days sealed while this compaction ran are no longer live in its output either.
            var liveDays = current.SelectMany(r => r.Days).Select(Manifest.ParseDay).ToHashSet();
            m.Runs.RemoveAll(r => inputKeys.Contains(r.Key));
            if (output is not null && output.ToEntry(liveDays, now) is { Days.Count: > 0 } entry)
            {
                m.Runs.Add(entry);
            }

            var pinned = m.Quarantine.SelectMany(q => q.Runs).ToHashSet(StringComparer.Ordinal);
            foreach (var input in inputKeys.Where(k => !pinned.Contains(k)))
            {
                m.Garbage.Add(new GarbageEntry { Key = input, DeleteAfter = now + grace });
            }

            applied = true;
            return true;
        }, cancellationToken);

        if (applied)
        {
            LogCompacted(logger, inputs.Count, level, output?.Key ?? "(empty)");
        }

        return applied;
    }

    /// <summary>The inputs' live days merged into <paramref name="writer"/>: one GET of each input's data, streamed.</summary>
    private async Task MergeAsync(List<RunEntry> inputs, RunWriter writer, CancellationToken cancellationToken)
    {
        var data = new List<StoredObject>(inputs.Count);
        try
        {
            var merging = new List<SegmentMerge.Input>(inputs.Count);
            foreach (var input in inputs)
            {
                var index = await indexes.GetAsync(input.Key, input.IndexBytes, cancellationToken) ?? throw new IOException($"Live run {input.Key} is missing from the store.");
                var stored = await store.GetRangeAsync(input.Key, new ObjectRange(0, index.DataLength), cancellationToken)
                    ?? throw new IOException($"Live run {input.Key} is missing from the store.");
                data.Add(stored);
                merging.Add(new SegmentMerge.Input(index, stored.Content, input.Days.Select(Manifest.ParseDay).ToHashSet()));
            }

            await SegmentMerge.WriteAsync(merging, writer, null, cancellationToken);
        }
        finally
        {
            foreach (var stored in data)
            {
                await stored.DisposeAsync();
            }
        }
    }

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "Compacted {Count} runs into tier {Level}: {Key}")]
    private static partial void LogCompacted(ILogger logger, int count, int level, string key);
}
