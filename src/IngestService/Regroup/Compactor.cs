using System.Runtime.CompilerServices;
using IngestService.Events;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>
/// Compacts runs in tiers: once a tier holds <c>Regroup:Fanout</c> live runs, its oldest <c>Fanout</c> are merged
/// k-way into one run a tier up (one buffer per input, duplicates dropped by identity), committed in the manifest
/// in one step, and the inputs deleted after <c>Regroup:DeleteGrace</c>. The top tier waits for sealing. With the
/// default fanout 8 a day is read from at most 7 runs of each lower tier and the top tier's few.
/// </summary>
public sealed partial class Compactor(
    IObjectStore store,
    ManifestStore manifests,
    RunIndexCache indexes,
    IOptions<RegroupOptions> options,
    TimeProvider time,
    ILogger<Compactor> logger)
{
    /// <summary>The tier compaction stops at.</summary>
    public const int TopLevel = 3;

    /// <summary>Compacts each tier that is full, once per pass; answers how many compactions were committed.</summary>
    public async Task<int> CompactAsync(CancellationToken cancellationToken)
    {
        var done = 0;
        var fanout = options.Value.Fanout;
        for (var level = 0; level < TopLevel; level++)
        {
            var manifest = manifests.Latest;
            var inputs = manifest.Runs.Where(r => r.Level == level).OrderBy(r => r.CreatedAt).ThenBy(r => r.Key, StringComparer.Ordinal).Take(fanout).ToList();
            if (inputs.Count < fanout)
            {
                continue;
            }

            if (await CompactAsync(inputs, level + 1, cancellationToken))
            {
                done++;
            }
        }

        return done;
    }

    private async Task<bool> CompactAsync(List<RunEntry> inputs, int level, CancellationToken cancellationToken)
    {
        var key = RunOutput.KeyFor(level, inputs.Select(i => i.Key));
        var lines = new List<IAsyncEnumerable<StoredLine>>();
        foreach (var input in inputs)
        {
            var days = input.Days.Select(Manifest.ParseDay).ToHashSet();
            lines.Add(RunLinesAsync(input.Key, days, cancellationToken));
        }

        var output = await RunOutput.WriteAsync(store, indexes, key, level, LineMerge.MergeAsync(lines, null, cancellationToken), cancellationToken);
        var now = time.GetUtcNow();
        var grace = options.Value.DeleteGrace;
        var inputKeys = inputs.Select(i => i.Key).ToHashSet(StringComparer.Ordinal);
        var applied = false;
        await manifests.CommitAsync(m =>
        {
            applied = false;
            var current = m.Runs.Where(r => inputKeys.Contains(r.Key)).ToList();
            if (current.Count != inputKeys.Count)
            {
                // Another node compacted (some of) them first, or a seal emptied one: this output is not needed.
                if (output is not null && m.Runs.All(r => r.Key != output.Key) && m.Garbage.All(g => g.Key != output.Key))
                {
                    m.Garbage.Add(new GarbageEntry { Key = output.Key, DeleteAfter = now + grace });
                    return true;
                }

                return false;
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

    /// <summary>Every line of a run's live days, in run order: one GET of its data, streamed.</summary>
    private async IAsyncEnumerable<StoredLine> RunLinesAsync(string key, HashSet<DateOnly> days, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var index = await indexes.GetAsync(key, cancellationToken) ?? throw new IOException($"Live run {key} is missing from the store.");
        await using var stored = await store.GetRangeAsync(key, new ObjectRange(0, index.DataLength), cancellationToken)
            ?? throw new IOException($"Live run {key} is missing from the store.");
        await foreach (var line in LineReader.ReadAsync(stored.Content, cancellationToken))
        {
            if (!line.TooLong && StoredLine.TryParse(line.Bytes.Span) is { } parsed && days.Contains(parsed.Day))
            {
                yield return parsed;
            }
        }
    }

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "Compacted {Count} runs into tier {Level}: {Key}")]
    private static partial void LogCompacted(ILogger logger, int count, int level, string key);
}
