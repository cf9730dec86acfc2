using System.Globalization;

namespace IngestService.Events;

/// <summary>The contract's key of a sensor-day: <c>{SensorPrefix}{sensorId}/{yyyy-MM-dd}.ndjson.gz</c>.</summary>
public static class SensorDayKey
{
    public const string Suffix = ".ndjson.gz";

    public const string DayFormat = "yyyy-MM-dd";

    /// <summary>Metadata key of the number of events in a sensor-day.</summary>
    public const string EventsMetadata = "events";

    /// <summary>Metadata key of the uncompressed NDJSON size of a sensor-day.</summary>
    public const string BytesMetadata = "bytes";

    /// <summary>
    /// Metadata key of the number of gzip members of a sensor-day that merges appended to (absent: one). Browsers
    /// read only a gzip body's first member, so such a day must not be sent as <c>Content-Encoding: gzip</c>.
    /// </summary>
    public const string GzipMembersMetadata = "gzip-members";

    /// <summary>Whether the stored object is a single gzip member, as HTTP clients expect of a gzip body.</summary>
    public static bool IsSingleGzipMember(IReadOnlyDictionary<string, string>? metadata) =>
        metadata is null || !metadata.TryGetValue(GzipMembersMetadata, out var members) || members == "1";

    public static string For(string sensorPrefix, string sensorId, DateOnly day) =>
        $"{sensorPrefix}{sensorId}/{day.ToString(DayFormat, CultureInfo.InvariantCulture)}{Suffix}";

    public static string FolderOf(string sensorPrefix, string sensorId) => $"{sensorPrefix}{sensorId}/";

    public static bool TryParseDay(ReadOnlySpan<char> text, out DateOnly day) =>
        DateOnly.TryParseExact(text, DayFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out day);

    /// <summary>The day a key names, when it is a sensor-day key under <paramref name="folder"/>.</summary>
    public static bool TryParseKey(string folder, string key, out DateOnly day)
    {
        day = default;
        return key.StartsWith(folder, StringComparison.Ordinal) && key.EndsWith(Suffix, StringComparison.Ordinal)
            && TryParseDay(key.AsSpan(folder.Length, key.Length - folder.Length - Suffix.Length), out day);
    }
}
