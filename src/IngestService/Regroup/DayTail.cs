using System.Globalization;
using IngestService.Events;

namespace IngestService.Regroup;

/// <summary>
/// Where a stored sensor-day ends, kept in its object metadata: the <c>ts</c> and <c>seq</c> of its last line in
/// stored order and the largest <c>seq</c> in it. New events that all sort after the last line and whose seqs are
/// all larger cannot duplicate a stored one, so they can be appended without reading the day.
/// </summary>
public readonly record struct DayTail(long LastTsTicks, long? LastSeq, long? MaxSeq, bool Any)
{
    public const string LastTsMetadata = "last-ts";
    public const string LastSeqMetadata = "last-seq";
    public const string MaxSeqMetadata = "max-seq";

    public static DayTail Empty => default;

    /// <summary>The tail after one more line, written in stored order.</summary>
    public DayTail With(long tsTicks, long? seq) =>
        new(tsTicks, seq, seq is null ? MaxSeq : MaxSeq is null ? seq : Math.Max(MaxSeq.Value, seq.Value), true);

    /// <summary>Whether every one of <paramref name="sorted"/> (in stored order) sorts strictly after the day and repeats no seq.</summary>
    public bool AllAfter(IReadOnlyList<StoredLine> sorted)
    {
        if (sorted.Count == 0 || !Any)
        {
            return false;
        }

        var first = sorted[0];
        var after = first.TsTicks > LastTsTicks || (first.TsTicks == LastTsTicks && Nullable.Compare(first.Seq, LastSeq) > 0);
        var maxSeq = MaxSeq;
        return after && (maxSeq is null || sorted.All(l => l.Seq is null || l.Seq > maxSeq));
    }

    public void WriteTo(Dictionary<string, string> metadata)
    {
        if (!Any)
        {
            return;
        }

        metadata[LastTsMetadata] = LastTsTicks.ToString(CultureInfo.InvariantCulture);
        metadata[LastSeqMetadata] = LastSeq?.ToString(CultureInfo.InvariantCulture) ?? "";
        metadata[MaxSeqMetadata] = MaxSeq?.ToString(CultureInfo.InvariantCulture) ?? "";
    }

    /// <summary>The tail and sizes a stored day's metadata records; false for a day written before tails were kept.</summary>
    public static bool TryRead(IReadOnlyDictionary<string, string>? metadata, out DayTail tail, out long events, out long bytes)
    {
        tail = default;
        events = bytes = 0;
        if (metadata is null
            || !metadata.TryGetValue(LastTsMetadata, out var lastTs) || !long.TryParse(lastTs, NumberStyles.None, CultureInfo.InvariantCulture, out var ts)
            || !metadata.TryGetValue(LastSeqMetadata, out var lastSeq) || !TryParseOptional(lastSeq, out var last)
            || !metadata.TryGetValue(MaxSeqMetadata, out var maxSeq) || !TryParseOptional(maxSeq, out var max)
            || !metadata.TryGetValue(SensorDayKey.EventsMetadata, out var e) || !long.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out events)
            || !metadata.TryGetValue(SensorDayKey.BytesMetadata, out var b) || !long.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out bytes))
        {
            return false;
        }

        tail = new DayTail(ts, last, max, true);
        return true;
    }

    private static bool TryParseOptional(string text, out long? value)
    {
        value = null;
        if (text.Length == 0)
        {
            return true;
        }

        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            return false;
        }

        value = parsed;
        return true;
    }
}
