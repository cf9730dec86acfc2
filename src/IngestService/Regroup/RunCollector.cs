using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>
/// Deletes runs no reader can still use: those the manifest lists as garbage once their <c>Regroup:DeleteGrace</c>
/// is over (longer than the manifest cache plus the longest read), and, once per <c>Regroup:OrphanAge</c> and at
/// every flush, orphans (runs of passes and compactions that died before their commit, or lost it) that no manifest
/// names and that are older than <c>Regroup:OrphanAge</c>.
/// </summary>
public sealed partial class RunCollector(
    IObjectStore store, ManifestStore manifests, RunIndexCache indexes, IOptions<RegroupOptions> options, TimeProvider time, ILogger<RunCollector> logger)
{
    /// <summary>Answers how many runs were deleted.</summary>
    public async Task<int> CollectAsync(bool force, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var orphanAge = options.Value.OrphanAge;
        var manifest = manifests.Latest;
        var due = manifest.Garbage.Where(g => g.DeleteAfter <= now).Select(g => g.Key).ToList();
        foreach (var key in due)
        {
            await store.DeleteAsync(key, cancellationToken);
        }

        indexes.Forget(due);

        var orphans = new List<string>();
        var orphansDue = manifest.OrphansCollectedAt is null || now - manifest.OrphansCollectedAt >= orphanAge;
        var lookForOrphans = orphansDue || force;
        if (lookForOrphans)
        {
            var known = manifest.KnownRuns();
            await foreach (var info in store.ListAsync(Manifest.RunPrefix, null, cancellationToken))
            {
                if (!known.Contains(info.Key) && now - info.LastModified >= orphanAge)
                {
                    orphans.Add(info.Key);
                }
            }
        }

        if (due.Count > 0 || orphansDue)
        {
            await manifests.CommitAsync(m =>
            {
                m.Garbage.RemoveAll(g => due.Contains(g.Key));
                if (orphansDue)
                {
                    m.OrphansCollectedAt = now;
                }

                return true;
            }, cancellationToken);
        }

        if (orphans.Count == 0)
        {
            return due.Count;
        }


        // Checked again against the manifest just committed: a run its pass committed after the listing is not an orphan.
        var committed = (await manifests.ReadAsync(cancellationToken)).Manifest.KnownRuns();
        var deleted = orphans.Where(k => !committed.Contains(k)).ToList();
        foreach (var key in deleted)
        {
            await store.DeleteAsync(key, cancellationToken);
        }

        indexes.Forget(deleted);

        if (due.Count + orphans.Count > 0)
        {
            LogCollected(logger, due.Count, orphans.Count);
        }

        return due.Count + orphans.Count;
    }

    [LoggerMessage(EventId = 3009, Level = LogLevel.Information, Message = "Deleted {Garbage} runs past their grace period and {Orphans} orphan runs")]
    private static partial void LogCollected(ILogger logger, int garbage, int orphans);
}
