using IngestService.Storage.Runs;

namespace IngestService.Regroup;

/// <summary>
/// What one seal covers: a day, or one claimed sensor range of it (<see cref="Unit"/>), its sensors with the run
/// segments that hold each, and the runs that held the day when the seal was planned.
/// </summary>
public sealed class DayPlan(DateOnly day, List<string> runs, bool first, WorkUnit? unit)
{
    public DateOnly Day { get; } = day;

    public List<string> Runs { get; } = runs;

    /// <summary>No sensor-day of the day was sealed before: written streaming, with <c>If-None-Match: *</c>.</summary>
    public bool First { get; } = first;

    public WorkUnit? Unit { get; } = unit;

    public SortedDictionary<string, List<RunPart>> Sensors { get; } = new(StringComparer.Ordinal);

    public long Events => Sensors.Values.Sum(parts => parts.Sum(p => p.Segment.Events));

    public bool Covers(string sensorId) => Unit?.Covers(sensorId) ?? true;

    public List<RunPart> Parts(string sensorId)
    {
        if (!Sensors.TryGetValue(sensorId, out var parts))
        {
            Sensors[sensorId] = parts = [];
        }

        return parts;
    }

    /// <summary>The day as seal units of about <paramref name="events"/> events each, by contiguous sensor ranges.</summary>
    public List<WorkUnit> Split(long events)
    {
        var dayText = Manifest.DayText(Day);
        var units = new List<WorkUnit>();
        string? from = null;
        long size = 0;
        foreach (var (sensorId, parts) in Sensors)
        {
            if (size >= events)
            {
                units.Add(Range(from, sensorId, size));
                (from, size) = (sensorId, 0);
            }

            size += parts.Sum(p => p.Segment.Events);
        }

        units.Add(Range(from, null, size));
        return units;

        WorkUnit Range(string? start, string? end, long count) => new()
        {
            Id = WorkClaims.IdFor(WorkKind.Seal, [dayText, start ?? "", end ?? "", .. Runs]),
            Kind = WorkKind.Seal,
            Day = dayText,
            From = start,
            To = end,
            Runs = Runs,
            First = First,
            Size = count,
        };
    }
}
