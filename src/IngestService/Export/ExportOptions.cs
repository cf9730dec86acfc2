using System.ComponentModel.DataAnnotations;

namespace IngestService.Export;

/// <summary>The daily fleet export (<c>analytics/day=YYYY-MM-DD/part-….parquet</c>), written after each seal of a day.</summary>
public sealed class ExportOptions
{
    public const string Section = "Export";

    /// <summary>Whether sealing a day also writes its fleet export. Default <c>true</c>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Rows per Parquet row group, the unit engines skip by the min/max statistics of <c>sensorId</c> and <c>ts</c>,
    /// and what the writer holds in memory. Default 262,144 (about 80 MiB uncompressed at 300-byte events).
    /// </summary>
    [Range(1_000, 10_000_000)]
    public int RowGroupEvents { get; set; } = 262_144;

    /// <summary>
    /// A part is closed after the row group that takes it past this size, so a fleet-day is several files when
    /// large. Each part is one PUT; S3 takes up to 5 GiB in one. Default 512 MiB.
    /// </summary>
    [Range(65_536, 4_294_967_296)]
    public long PartBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>
    /// <c>Zstd</c> (default: smaller than Snappy on sensor events, docs/benchmarks.md, so Athena scans and bills fewer bytes)
    /// or <c>Snappy</c>. Athena (engine v3), DuckDB, Spark and pandas (pyarrow) read both.
    /// </summary>
    public ExportCompression Compression { get; set; } = ExportCompression.Zstd;
}

public enum ExportCompression
{
    Zstd,
    Snappy,
}
