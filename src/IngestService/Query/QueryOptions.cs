using System.ComponentModel.DataAnnotations;

namespace IngestService.Query;

public sealed class QueryOptions
{
    public const string Section = "Query";

    /// <summary>Longest range one read may span, in days. Default 366.</summary>
    [Range(1, 100_000)]
    public int MaxRangeDays { get; set; } = 366;

    /// <summary>Sensor-days fetched ahead of the one being written, per request. Default 8.</summary>
    [Range(1, 64)]
    public int MaxParallelDays { get; set; } = 8;
}
