using System.ComponentModel.DataAnnotations;

namespace IngestService.Storage;

/// <summary>
/// Key layout shared by both backends. The keys live in the <c>Aws</c> section (<c>Aws:RawPrefix</c>,
/// <c>Aws:SensorPrefix</c>) as the contract names them, and the <c>Local</c> backend uses the same layout
/// under <c>Ingest:DataPath</c>.
/// </summary>
public sealed class StorageOptions
{
    public const string Section = "Aws";

    /// <summary>Prefix of raw batches. Default <c>raw/</c>.</summary>
    [Required]
    [RegularExpression("^([A-Za-z0-9_.-]+/)+$", ErrorMessage = "Aws:RawPrefix must be one or more folder names each ending in '/', such as raw/")]
    public string RawPrefix { get; set; } = "raw/";

    /// <summary>Prefix of sensor-day objects. Default <c>sensors/</c>.</summary>
    [Required]
    [RegularExpression("^([A-Za-z0-9_.-]+/)+$", ErrorMessage = "Aws:SensorPrefix must be one or more folder names each ending in '/', such as sensors/")]
    public string SensorPrefix { get; set; } = "sensors/";

    /// <summary>Prefix of the service's own bookkeeping. Fixed by the contract.</summary>
    public const string BookkeepingPrefix = "_ingest/";

    /// <summary>
    /// Prefix of the fleet export (<c>analytics/day=YYYY-MM-DD/part-….parquet</c>), read by engines outside the service
    /// (Athena, DuckDB): on <c>Local</c> its files are written plain, without the store's header.
    /// </summary>
    public const string AnalyticsPrefix = "analytics/";
}
