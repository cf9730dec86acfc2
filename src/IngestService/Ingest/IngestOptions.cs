using System.ComponentModel.DataAnnotations;

namespace IngestService.Ingest;

public sealed class IngestOptions
{
    public const string Section = "Ingest";

    /// <summary>Largest accepted event, and largest line of an NDJSON backlog. Default 65536.</summary>
    [Range(64, 900 * 1024)]
    public int MaxEventBytes { get; set; } = 65536;

    /// <summary>Largest accepted NDJSON backlog body. Default 4 MiB.</summary>
    [Range(64, 64 * 1024 * 1024)]
    public int MaxBatchBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>How far in the future <c>ts</c> may be. Default one day.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "365.00:00:00")]
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromDays(1);
}
