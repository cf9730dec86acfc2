namespace IngestService.LoadGen;

/// <summary>
/// What one simulated sensor had acknowledged: seq n is the n-th entry, its value the event's ts in Unix
/// milliseconds. Only acknowledged events are kept, because only those does the service promise to store.
/// </summary>
internal sealed class SensorLog(string id)
{
    public string Id { get; } = id;

    public List<long> AckedTs { get; } = [];

    /// <summary>The acknowledged events of each UTC day, seq → ts.</summary>
    public IEnumerable<(DateOnly Day, Dictionary<long, long> Events)> Days()
    {
        var days = new SortedDictionary<DateOnly, Dictionary<long, long>>();
        for (var seq = 0; seq < AckedTs.Count; seq++)
        {
            var day = DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(AckedTs[seq]).UtcDateTime);
            if (!days.TryGetValue(day, out var events))
            {
                days[day] = events = [];
            }

            events[seq] = AckedTs[seq];
        }

        return days.Select(d => (d.Key, d.Value));
    }
}
