using System.ComponentModel.DataAnnotations;

namespace IngestService.Regroup;

/// <summary>
/// Regroup settings. The defaults here are the <c>Aws</c> ones; <see cref="RegroupApi.AddRegroup"/> lowers
/// <see cref="Interval"/>, <see cref="Freshness"/> and <see cref="DeliveryLag"/> for the <c>Local</c> backend
/// (see <see cref="ForLocal"/>), and configuration overrides either.
/// </summary>
public sealed class RegroupOptions : IValidatableObject
{
    public const string Section = "Regroup";

    /// <summary>Whether this node regroups in the background. Default <c>true</c>; <c>POST /v1/admin/flush</c> works either way.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often a node looks for new raw batches. Default one minute (<c>Local</c>: two seconds).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The longest time from a raw batch landing until its events are in their sensor-days. A look merges
    /// pending batches only once the oldest would otherwise exceed it before the next look, so sensor-day writes
    /// per day follow from this, not from <see cref="Interval"/>. Default twelve hours, the freshness whose S3
    /// requests at the reference fleet cost no more than its Firehose bill (docs/regroup.md); <c>Local</c>: ten seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Freshness { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// How long an acknowledged event may take to land as a raw batch (Firehose's buffering interval, at most
    /// 900 s). The store's watermark (<c>Data-Current-As-Of</c>) is the merged listing time minus this.
    /// Default 15 minutes; <c>Local</c>: zero (the raw file is written before the acknowledgement).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan DeliveryLag { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long after its hour a raw folder may still receive objects: Firehose retries S3 delivery for up to
    /// 24 h and names an object by the hour its oldest record arrived, plus its buffering. Only older folders
    /// move the cursor past them. Default 26 hours; at least one hour.
    /// </summary>
    [Range(typeof(TimeSpan), "01:00:00", "30.00:00:00")]
    public TimeSpan CursorLag { get; set; } = TimeSpan.FromHours(26);

    /// <summary>
    /// How long the regroup lease lasts: one node looks for work while it holds it, and another takes it over
    /// once it expires unrenewed (the holder renews at half time, and gives it up when it stops). Default ten
    /// minutes; <c>Local</c>: ten seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:05", "1.00:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Raw batches one merging pass takes (oldest first); the rest wait for the next pass. Default 10000.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchesPerPass { get; set; } = 10_000;

    /// <summary>
    /// Raw line bytes a pass holds in memory; beyond it the pass spills lines to scratch files partitioned by
    /// sensor and merges one partition at a time. Default 16 MiB: small partitions stay out of the old GC
    /// generation, which measured faster than holding more (docs/benchmarks-regroup.md).
    /// </summary>
    [Range(1, long.MaxValue)]
    public long MemoryBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Raw batches read, sensor-days merged and batches marked done at the same time. Default 8.</summary>
    [Range(1, 256)]
    public int MaxParallelWrites { get; set; } = 8;

    /// <summary>
    /// The <c>Local</c> backend's defaults: fresh within ten seconds, looking every two; a lease of ten seconds, so a
    /// node killed while holding it (a restarted <c>dotnet run</c>) delays merging by no more than that.
    /// </summary>
    public void ForLocal()
    {
        Interval = TimeSpan.FromSeconds(2);
        Freshness = TimeSpan.FromSeconds(10);
        DeliveryLag = TimeSpan.Zero;
        LeaseDuration = TimeSpan.FromSeconds(10);
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Freshness < Interval)
        {
            yield return new ValidationResult(
                $"Regroup:Freshness ({Freshness}) is shorter than Regroup:Interval ({Interval}): a node cannot keep a freshness shorter than how often it looks. Raise Regroup:Freshness or lower Regroup:Interval.",
                [nameof(Freshness)]);
        }
    }
}
