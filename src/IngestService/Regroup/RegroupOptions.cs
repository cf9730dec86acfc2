using System.ComponentModel.DataAnnotations;

namespace IngestService.Regroup;

public sealed class RegroupOptions
{
    public const string Section = "Regroup";

    /// <summary>Whether this node regroups in the background. Default <c>true</c>; <c>POST /v1/admin/flush</c> works either way.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Time between background passes. Default one minute.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long after its hour a raw folder may still receive objects (Firehose retries S3 delivery for up
    /// to a day). Only older folders move the cursor past them. Default one day.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan CursorLag { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Raw objects read before their sensor-days are written. Default 256.</summary>
    [Range(1, 100_000)]
    public int MaxObjectsPerChunk { get; set; } = 256;

    /// <summary>Events held before their sensor-days are written, even mid-object. Default 200000.</summary>
    [Range(1, 10_000_000)]
    public int MaxEventsPerChunk { get; set; } = 200_000;

    /// <summary>Sensor-days merged at the same time. Default 8.</summary>
    [Range(1, 256)]
    public int MaxParallelWrites { get; set; } = 8;
}
