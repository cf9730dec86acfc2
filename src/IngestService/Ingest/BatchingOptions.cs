using System.ComponentModel.DataAnnotations;

namespace IngestService.Ingest;

public sealed class BatchingOptions : IValidatableObject
{
    public const string Section = "Batching";

    /// <summary>
    /// How long the cross-sensor batcher collects before a flush: the longest an event waits for its window
    /// whenever the window's record is worth what it is billed (see <see cref="FillWindow"/>). Default 100 ms.
    /// A window opens with its first event, or at the last window's close when that was less than a window before:
    /// back-to-back windows keep one cadence, so senders that wait for their answers are not also kept waiting for
    /// the previous window's delivery.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a window may keep collecting past <see cref="Window"/> while its record is still smaller than
    /// <see cref="FillRecordBytes"/>, counted from when the window opened (see <see cref="Window"/>). Only a sink that bills each record
    /// whole (Firehose: 5 KB increments) asks for it; a window closes as soon as its record is that large, or once a
    /// <see cref="Window"/> passes with no event arriving (its senders are waiting for their answers). Equal
    /// to <see cref="Window"/> (or shorter) turns filling off. Default 600 ms: a node of the reference fleet fills a 5 KB gzip
    /// record in about 0.4 s (bench/cost.sh), and an acknowledgement stays under a second with Firehose's round trip on top.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan FillWindow { get; set; } = TimeSpan.FromMilliseconds(600);

    /// <summary>
    /// The record size, in bytes as the sink sends them (gzip-compressed for Firehose), that a window collects up
    /// to within <see cref="FillWindow"/>. Default 4700: just under Firehose's 5,120-byte billing increment, so an
    /// estimate a little short of the compressed size still bills one increment (a 5,121-byte record bills two).
    /// 0 turns filling off.
    /// </summary>
    [Range(0, 1_000 * 1024)]
    public int FillRecordBytes { get; set; } = 4700;

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

    /// <summary>Whether a window may collect past <see cref="Window"/> to fill its record.</summary>
    public bool Fills => FillRecordBytes > 0 && FillWindow > Window;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Fills && FillWindow >= AckTimeout)
        {
            yield return new ValidationResult(
                $"Batching:FillWindow ({FillWindow}) must be shorter than Batching:AckTimeout ({AckTimeout}), or the events of a window that fills would time out; set it to Batching:Window to turn filling off.",
                [nameof(FillWindow)]);
        }
    }
}
