using System.ComponentModel.DataAnnotations;

namespace IngestService.Ingest;

public sealed class BatchingOptions
{
    public const string Section = "Batching";

    /// <summary>How long the cross-sensor batcher collects before a flush. Default 100 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A window closes early at this many events. Default 5000.</summary>
    [Range(1, 1_000_000)]
    public int MaxWindowEvents { get; set; } = 5000;

    /// <summary>
    /// A window closes early at this many envelope bytes. Default 3 MiB: one Firehose
    /// PutRecordBatch call stays comfortably under its 4 MiB limit.
    /// </summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxWindowBytes { get; set; } = 3 * 1024 * 1024;

    /// <summary>
    /// Windows being delivered at once, so one slow flush does not stall the next. Default 16: with a 20 ms window
    /// and AWS answering in 100 ms, six windows are in flight at once, and a window waiting for a slot adds its
    /// wait to every sensor's ack latency. What they hold is bounded by the pending caps, not by this.
    /// </summary>
    [Range(1, 64)]
    public int MaxConcurrentFlushes { get; set; } = 16;

    /// <summary>Events accepted but not yet acknowledged; beyond this new events get 429. Default 200000.</summary>
    [Range(1, 100_000_000)]
    public int MaxPendingEvents { get; set; } = 200_000;

    /// <summary>Envelope bytes accepted but not yet acknowledged; beyond this new events get 429. Default 256 MiB.</summary>
    [Range(1024, long.MaxValue)]
    public long MaxPendingBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>How long an event may wait for its sinks before the sensor gets 503. Default 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
