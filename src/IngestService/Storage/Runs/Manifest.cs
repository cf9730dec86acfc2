using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using IngestService.Aws;

namespace IngestService.Storage.Runs;

/// <summary>
/// <c>_ingest/manifest.json</c>, the store's one commit point, replaced with <c>If-Match</c>: the live runs and the
/// days each still holds for reads, the raw batches consumed, the days sealed, the quarantined sensor-days, the
/// objects waiting to be deleted and the watermark behind <c>Data-Current-As-Of</c>. What it does not name does
/// not exist for readers: a run written by a pass that died before its commit is an orphan.
/// </summary>
public sealed class Manifest
{
    public const string Key = StorageOptions.BookkeepingPrefix + "manifest.json";

    public const string RunPrefix = StorageOptions.BookkeepingPrefix + "runs/";

    /// <summary>Commits so far; a reader can tell two manifests apart by it.</summary>
    public long Generation { get; set; }

    public List<RunEntry> Runs { get; set; } = [];

    /// <summary>Every raw key up to this one is consumed (batches landing behind it later are the late sweep's).</summary>
    public string? RawFloor { get; set; }

    /// <summary>Raw keys after <see cref="RawFloor"/> already in a run.</summary>
    public List<string> Consumed { get; set; } = [];

    /// <summary>When the late sweep last listed the raw folders behind <see cref="RawFloor"/>.</summary>
    public DateTimeOffset? SweptAt { get; set; }

    /// <summary>Every event acknowledged before it is in reads (<c>Data-Current-As-Of</c>); only moves forward.</summary>
    public DateTimeOffset? Watermark { get; set; }

    /// <summary>Day (<c>yyyy-MM-dd</c>) → when it was last sealed.</summary>
    public SortedDictionary<string, DateTimeOffset> Sealed { get; set; } = new(StringComparer.Ordinal);

    public List<QuarantineEntry> Quarantine { get; set; } = [];

    /// <summary>Day → its fleet export: the seal it was made from and its parts (<c>Export/</c>).</summary>
    public SortedDictionary<string, ExportEntry> Exports { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Runs no longer live, deleted once no read that began before their removal can still be using them.</summary>
    public List<GarbageEntry> Garbage { get; set; } = [];

    /// <summary>When the last look for orphans (runs no manifest names) was.</summary>
    public DateTimeOffset? OrphansCollectedAt { get; set; }

    /// <summary>Work any node may claim: a backlog of raw batches, compactions, a large day's seal in sensor ranges.</summary>
    public List<WorkUnit> Work { get; set; } = [];

    public static string DayText(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static DateOnly ParseDay(string text) => DateOnly.ParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>The index bytes a live run's entry records (<see cref="RunEntry.IndexBytes"/>), 0 when unknown.</summary>
    public long IndexBytesOf(string key) => Runs.Find(r => r.Key == key)?.IndexBytes ?? 0;

    /// <summary>The runs a read of one sensor-day must merge with its sealed object: live ones holding the day, and those a quarantine pins.</summary>
    public IEnumerable<string> RunsFor(string sensorId, DateOnly day)
    {
        var text = DayText(day);
        foreach (var run in Runs)
        {
            if (run.Days.Contains(text))
            {
                yield return run.Key;
            }
        }

        foreach (var q in Quarantine)
        {
            if (q.Day == text && string.Equals(q.SensorId, sensorId, StringComparison.Ordinal))
            {
                foreach (var key in q.Runs)
                {
                    yield return key;
                }
            }
        }
    }

    /// <summary>Runs that outstanding work reads: a compaction must not take them away under it.</summary>
    public HashSet<string> RunsInWork() =>
        [.. Work.Where(u => u.Kind != WorkKind.Raw).SelectMany(u => u.Kind == WorkKind.Seal ? u.Runs : u.Keys)];

    /// <summary>Every run key a reader may still touch: live, pinned by a quarantine, or waiting for deletion.</summary>
    public HashSet<string> KnownRuns() =>
        [.. Runs.Select(r => r.Key).Concat(Quarantine.SelectMany(q => q.Runs)).Concat(Garbage.Select(g => g.Key))];

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, ManifestJsonContext.Default.Manifest);

    public static Manifest Deserialize(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, ManifestJsonContext.Default.Manifest) ?? new Manifest();

    /// <summary>The JSON in a pooled buffer, for a commit: a manifest-sized array at every commit would be a large object each time.</summary>
    internal PooledBufferWriter SerializePooled()
    {
        var buffer = new PooledBufferWriter();
        try
        {
            using var writer = new Utf8JsonWriter(buffer);
            JsonSerializer.Serialize(writer, this, ManifestJsonContext.Default.Manifest);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }
}

/// <summary>A live run: its key, tier, the days it still holds for reads (not yet sealed), and its figures.</summary>
public sealed class RunEntry
{
    public required string Key { get; set; }

    public int Level { get; set; }

    public List<string> Days { get; set; } = [];

    public long Events { get; set; }

    public long Size { get; set; }

    /// <summary>
    /// The run's last bytes that hold its index and trailer, so a reader asks for exactly those in one GET; 0 in a
    /// manifest written before it was recorded (a reader then guesses <see cref="RunIndex.TailBytes"/>).
    /// </summary>
    public long IndexBytes { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A sensor-day that could not be sealed, and the runs that hold its events until it can.</summary>
public sealed class QuarantineEntry
{
    public required string SensorId { get; set; }

    public required string Day { get; set; }

    public string Reason { get; set; } = "";

    public DateTimeOffset Since { get; set; }

    public List<string> Runs { get; set; } = [];
}

/// <summary>What a unit of claimable work does.</summary>
public enum WorkKind
{
    /// <summary>Read <see cref="WorkUnit.Keys"/> (raw batches) into one L0 run.</summary>
    Raw,

    /// <summary>Merge the runs <see cref="WorkUnit.Keys"/> of tier <see cref="WorkUnit.Level"/> − 1 into one run of <see cref="WorkUnit.Level"/>.</summary>
    Compact,

    /// <summary>Seal the sensors of <see cref="WorkUnit.Day"/> from <see cref="WorkUnit.From"/> (inclusive) to <see cref="WorkUnit.To"/> (exclusive; null: the last).</summary>
    Seal,
}

/// <summary>
/// A unit of work published in the manifest for any node to claim: <see cref="Owner"/> has it until
/// <see cref="Until"/> (renewed while it works), then anyone may take it over. Doing a unit twice is harmless (runs
/// are keyed by their inputs, seals merge by identity); the manifest commit that removes the unit applies its result
/// once.
/// </summary>
public sealed class WorkUnit
{
    /// <summary>Made from what the unit covers, so two nodes planning the same work publish it once.</summary>
    public required string Id { get; set; }

    [JsonConverter(typeof(JsonStringEnumConverter<WorkKind>))]
    public WorkKind Kind { get; set; }

    /// <summary>Raw batches, or the runs a compaction merges.</summary>
    public List<string> Keys { get; set; } = [];

    /// <summary>A compaction's output tier.</summary>
    public int Level { get; set; }

    public string? Day { get; set; }

    public string? From { get; set; }

    public string? To { get; set; }

    /// <summary>A seal's runs: those holding the day when the seal was planned; the last unit of the day drops the day from them.</summary>
    public List<string> Runs { get; set; } = [];

    /// <summary>A seal that writes sensor-days never sealed (<c>If-None-Match: *</c>, streamed) rather than merging into sealed ones.</summary>
    public bool First { get; set; }

    /// <summary>Raw bytes or events the unit covers (for figures and planning).</summary>
    public long Size { get; set; }

    public string? Owner { get; set; }

    public DateTimeOffset? Until { get; set; }

    /// <summary>Whether a sensor id falls in this seal unit's range.</summary>
    public bool Covers(string sensorId) =>
        (From is null || string.CompareOrdinal(sensorId, From) >= 0) && (To is null || string.CompareOrdinal(sensorId, To) < 0);
}

/// <summary>A day's fleet export: the seal it holds, its Parquet parts and its rows.</summary>
public sealed class ExportEntry
{
    public DateTimeOffset SealedAt { get; set; }

    public List<string> Parts { get; set; } = [];

    public long Events { get; set; }
}

public sealed class GarbageEntry
{
    public required string Key { get; set; }

    public DateTimeOffset DeleteAfter { get; set; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Manifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
