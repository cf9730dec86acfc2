using System.Collections.Concurrent;
using IngestService.Storage.Runs;

namespace IngestService.Regroup;

/// <summary>What a seal covers (a day or one sensor range of it) and how its result enters the manifest.</summary>
public sealed partial class Sealer
{
    /// <summary>The sensors of a day (of one unit's range, when given) with the run segments that hold each.</summary>
    private async Task<DayPlan> PlanAsync(Manifest manifest, DateOnly day, WorkUnit? unit, List<string>? runs, CancellationToken cancellationToken)
    {
        var dayText = Manifest.DayText(day);
        runs ??= manifest.Runs.Where(r => r.Days.Contains(dayText)).Select(r => r.Key).ToList();
        var plan = new DayPlan(day, runs, unit?.First ?? (!manifest.Sealed.ContainsKey(dayText) && !manifest.Quarantine.Any(q => q.Day == dayText)), unit);
        foreach (var key in runs)
        {
            var index = await indexes.GetAsync(key, cancellationToken) ?? throw new IOException($"Live run {key} is missing from the store.");
            foreach (var segment in index.Segments.Where(s => s.Day == day && plan.Covers(s.SensorId)))
            {
                plan.Parts(segment.SensorId).Add(new RunPart(key, segment));
            }
        }

        foreach (var q in manifest.Quarantine.Where(q => q.Day == dayText && plan.Covers(q.SensorId)))
        {
            var parts = plan.Parts(q.SensorId);
            foreach (var key in q.Runs.Where(k => parts.All(p => p.Key != k)))
            {
                if (await indexes.GetAsync(key, cancellationToken) is { } index && index.Find(q.SensorId, day) is { } segment)
                {
                    parts.Add(new RunPart(key, segment));
                }
            }
        }

        return plan;
    }

    /// <summary>
    /// The seal's commit: quarantine what failed and release what healed; once the whole day is written, drop it from
    /// the runs that held it when the seal began (runs left without days become garbage) and note it sealed.
    /// </summary>
    private void Apply(Manifest m, DayPlan plan, ConcurrentDictionary<string, string> failed, DateTimeOffset now, bool dayDone)
    {
        var dayText = Manifest.DayText(plan.Day);
        var pinnedBefore = m.Quarantine.SelectMany(q => q.Runs).ToHashSet(StringComparer.Ordinal);
        m.Quarantine.RemoveAll(q => q.Day == dayText && plan.Sensors.ContainsKey(q.SensorId) && !failed.ContainsKey(q.SensorId));
        foreach (var (sensorId, reason) in failed)
        {
            var entry = m.Quarantine.FirstOrDefault(q => q.Day == dayText && q.SensorId == sensorId);
            if (entry is null)
            {
                m.Quarantine.Add(entry = new QuarantineEntry { SensorId = sensorId, Day = dayText, Since = now });
            }

            entry.Reason = reason;
            entry.Runs = [.. entry.Runs.Union(plan.Sensors[sensorId].Select(p => p.Key)).Distinct()];
        }

        if (!dayDone)
        {
            return;
        }

        foreach (var run in m.Runs.Where(r => plan.Runs.Contains(r.Key)))
        {
            run.Days.Remove(dayText);
        }

        var pinned = m.Quarantine.SelectMany(q => q.Runs).ToHashSet(StringComparer.Ordinal);
        var emptied = m.Runs.Where(r => r.Days.Count == 0).Select(r => r.Key).ToList();
        m.Runs.RemoveAll(r => r.Days.Count == 0);
        var live = m.Runs.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var key in emptied.Concat(pinnedBefore).Distinct().Where(k => !pinned.Contains(k) && !live.Contains(k)))
        {
            if (m.Garbage.All(g => g.Key != key))
            {
                m.Garbage.Add(new GarbageEntry { Key = key, DeleteAfter = now + options.Value.DeleteGrace });
            }
        }

        m.Sealed[dayText] = now;
        // Days sealed long ago need no reseal clock: late data for them starts a new one.
        foreach (var old in m.Sealed.Keys.Where(d => string.CompareOrdinal(d, Manifest.DayText(DateOnly.FromDateTime(now.UtcDateTime).AddDays(-60))) < 0).ToList())
        {
            m.Sealed.Remove(old);
        }
    }
}
