using System.ComponentModel.DataAnnotations;

namespace IngestService.Regroup;

/// <summary>
/// Regroup settings. The defaults here are the <c>Aws</c> ones; <see cref="RegroupApi.AddRegroup"/> lowers
/// <see cref="Interval"/>, <see cref="DeliveryLag"/> and <see cref="LateWindow"/> for the <c>Local</c> backend
/// (see <see cref="ForLocal"/>), and configuration overrides either.
/// </summary>
public sealed class RegroupOptions
{
    public const string Section = "Regroup";

    /// <summary>Whether this node regroups in the background. Default <c>true</c>; <c>POST /v1/admin/flush</c> works either way.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How often a node runs a pass: its new raw batches become one run, readable once the pass commits. An event is
    /// in reads within about 2 × this after its raw batch lands. Default one minute (<c>Local</c>: two seconds).
    /// This replaced <c>Regroup:Freshness</c>: freshness no longer costs a rewrite of every sensor-day.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long an acknowledged event may take to land as a raw batch (Firehose's buffering interval, at most
    /// 900 s). <c>Data-Current-As-Of</c> is the listing of the last pass minus this, and a day is sealed this long
    /// after it ends. Default 15 minutes; <c>Local</c>: zero (the raw file is written before the acknowledgement).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan DeliveryLag { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How far behind the newest raw batches each pass also looks for batches landing late in old hour folders:
    /// Firehose retries S3 delivery for up to 24 h and names an object by the hour its oldest record arrived. Such a
    /// batch is read by the next pass and its day sealed again. Default 26 hours; <c>Local</c>: zero (its raw files
    /// land before the acknowledgement, in the folder of that moment).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan LateWindow { get; set; } = TimeSpan.FromHours(26);

    /// <summary>
    /// How often a pass also lists <see cref="LateWindow"/> (a flush always does): that listing is a day of keys, two
    /// LIST requests at the reference fleet, a quarter of the store's S3 bill when made every minute. A batch
    /// Firehose lands late waits at most this long more before a pass reads it; its day is sealed again by the later
    /// of this and <see cref="ResealAfter"/>, so at most half an hour keeps late data sealed within the hour. Zero
    /// lists it every pass. Default five minutes.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:30:00")]
    public TimeSpan LateSweepInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How many runs of one tier are compacted into one run of the next (at one-minute passes, tier 1 spans about 8
    /// minutes, tier 2 about an hour, tier 3 about 8.5 hours). Default 8.
    /// </summary>
    [Range(2, 100)]
    public int Fanout { get; set; } = 8;

    /// <summary>
    /// The most live runs a pass leaves: past it, the lowest tier's runs are merged a tier up before the tier is full.
    /// A cold read of an open day opens each run holding it (an index GET and a ranged GET), so this bounds it at
    /// 2 + 2 × this GETs: 38 by default, where tiers alone reach 22 runs at one-minute passes and more at shorter ones.
    /// Default 18.
    /// </summary>
    [Range(2, 1000)]
    public int MaxLiveRuns { get; set; } = 18;

    /// <summary>
    /// How long a run that left the manifest (compacted or sealed) stays for reads that began before: longer than the
    /// manifest cache (1 s) plus the longest read. Default 15 minutes; <c>Local</c>: one minute.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:02", "1.00:00:00")]
    public TimeSpan DeleteGrace { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How old a run no manifest names must be before it is deleted as an orphan (of a pass or compaction that died
    /// before its commit, or lost it): longer than the longest pass, whose run is not committed yet. Orphans are
    /// looked for once per this period and at every flush. Default one hour.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan OrphanAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long after a day's last seal late data for it waits in runs before the day is sealed again (a flush seals
    /// at once). Default 50 minutes, so late data is sealed within the hour; <c>Local</c>: ten seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ResealAfter { get; set; } = TimeSpan.FromMinutes(50);

    /// <summary>
    /// How long the regroup lease lasts: one node looks for work while it holds it, and another takes it over
    /// once it expires unrenewed (the holder renews at half time, and gives it up when it stops). Default ten
    /// minutes; <c>Local</c>: ten seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:05", "1.00:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Raw batches one pass takes into its run (oldest first); the rest wait for the next pass. Default 10000.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchesPerPass { get; set; } = 10_000;

    /// <summary>
    /// Raw line bytes a pass sorts in memory; beyond it each sorted buffer goes to a scratch file and the files are
    /// merged k-way into the run. Default 16 MiB.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long MemoryBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// Raw bytes above which a pass does not read its batches itself but publishes them in the manifest as units of
    /// about this size, which every node claims and reads in parallel (a backlog, a spike); at or below it the pass
    /// reads them alone, as one run, with no claim requests. Default 64 MiB.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long UnitBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Events above which a day's seal is split into sensor ranges of about this many events, published in the
    /// manifest for every node to claim; at or below it one node seals the day alone. Default 2,000,000.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long UnitEvents { get; set; } = 2_000_000;

    /// <summary>Raw batches read and sensor-days sealed at the same time (each an S3 request). Default 8.</summary>
    [Range(1, 256)]
    public int MaxParallelWrites { get; set; } = 8;

    /// <summary>
    /// Published units (a backlog's raw units, compactions, seal ranges) one node works at the same time. A unit's
    /// merge and deflate run on one thread, so two keep two cores busy where one keeps about one and a half. Default 2.
    /// </summary>
    [Range(1, 64)]
    public int MaxParallelUnits { get; set; } = 2;

    /// <summary>
    /// The <c>Local</c> backend's defaults: a pass every two seconds, no delivery lag, no late window; a lease of ten
    /// seconds, so a node killed while holding it (a restarted <c>dotnet run</c>) delays passes by no more than that.
    /// </summary>
    public void ForLocal()
    {
        Interval = TimeSpan.FromSeconds(2);
        DeliveryLag = TimeSpan.Zero;
        LateWindow = TimeSpan.Zero;
        DeleteGrace = TimeSpan.FromMinutes(1);
        ResealAfter = TimeSpan.FromSeconds(10);
        LeaseDuration = TimeSpan.FromSeconds(10);
    }
}
