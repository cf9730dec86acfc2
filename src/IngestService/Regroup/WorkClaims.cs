using System.Security.Cryptography;
using System.Text;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>
/// Claims the manifest's <see cref="Manifest.Work"/> for this node. A claim is one manifest commit (the manifest's
/// <c>If-Match</c> makes two nodes' claims of one unit exclusive), held for <c>Regroup:LeaseDuration</c> and renewed
/// at a third of it while the node works, so a node that dies loses its units within a lease period and another
/// node takes them over.
/// </summary>
public sealed class WorkClaims(ManifestStore manifests, IOptions<RegroupOptions> options, TimeProvider time)
{
    private readonly string _owner = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";

    private TimeSpan ClaimFor => options.Value.LeaseDuration;

    /// <summary>An id for the unit covering <paramref name="parts"/>: the same work planned twice is published once.</summary>
    public static string IdFor(WorkKind kind, IEnumerable<string> parts) =>
        $"{kind.ToString().ToLowerInvariant()}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', parts))).AsSpan(0, 8))}";

    /// <summary>Whether <paramref name="manifest"/> holds a unit nobody holds now.</summary>
    public bool AnyFree(Manifest manifest) => manifest.Work.Any(u => IsFree(u, time.GetUtcNow()));

    /// <summary>Publishes <paramref name="units"/> (those not published yet) inside a commit's change.</summary>
    public static void Publish(Manifest manifest, IEnumerable<WorkUnit> units)
    {
        foreach (var unit in units)
        {
            if (manifest.Work.All(u => u.Id != unit.Id))
            {
                manifest.Work.Add(unit);
            }
        }
    }

    /// <summary>Claims the oldest free unit of <paramref name="kinds"/>; null when there is none.</summary>
    public async Task<WorkUnit?> ClaimAsync(WorkKind[] kinds, CancellationToken cancellationToken)
    {
        WorkUnit? claimed = null;
        await manifests.CommitAsync(m =>
        {
            var now = time.GetUtcNow();
            var unit = m.Work.FirstOrDefault(u => kinds.Contains(u.Kind) && IsFree(u, now));
            claimed = null;
            if (unit is null)
            {
                return false;
            }

            (unit.Owner, unit.Until) = (_owner, now + ClaimFor);
            claimed = unit;
            return true;
        }, cancellationToken);
        return claimed;
    }

    /// <summary>Keeps the claim on <paramref name="unit"/> alive until <paramref name="cancellationToken"/> ends the work.</summary>
    public async Task KeepAsync(WorkUnit unit, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(ClaimFor / 3, time, cancellationToken);
                await manifests.CommitAsync(m =>
                {
                    var held = m.Work.FirstOrDefault(u => u.Id == unit.Id && u.Owner == _owner);
                    if (held is null)
                    {
                        return false;
                    }

                    held.Until = time.GetUtcNow() + ClaimFor;
                    return true;
                }, cancellationToken);
            }
        }
        catch (Exception)
        {
            // The work is done or abandoned, or the store refused a renewal: the completion or the expiry settles the
            // claim either way, and the work must not fail for a renewal (a unit done twice is harmless).
        }
    }

    /// <summary>
    /// Removes <paramref name="unit"/> and applies its result in one commit; answers false, applying nothing, when the
    /// unit is gone (another node finished it after this node's claim ran out).
    /// </summary>
    public async Task<bool> CompleteAsync(WorkUnit unit, Action<Manifest> apply, CancellationToken cancellationToken)
    {
        var applied = false;
        await manifests.CommitAsync(m =>
        {
            applied = m.Work.RemoveAll(u => u.Id == unit.Id) > 0;
            if (applied)
            {
                apply(m);
            }

            return applied;
        }, cancellationToken);
        return applied;
    }

    /// <summary>Gives a unit back after a failure, so the next node to look takes it at once.</summary>
    public Task ReleaseAsync(WorkUnit unit, CancellationToken cancellationToken) =>
        manifests.CommitAsync(m =>
        {
            var held = m.Work.FirstOrDefault(u => u.Id == unit.Id && u.Owner == _owner);
            if (held is null)
            {
                return false;
            }

            (held.Owner, held.Until) = (null, null);
            return true;
        }, cancellationToken);

    private static bool IsFree(WorkUnit unit, DateTimeOffset now) => unit.Owner is null || unit.Until is null || unit.Until <= now;
}
