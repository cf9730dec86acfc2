namespace IngestService.Delivery;

/// <summary>
/// A destination every event must reach before it is acknowledged (Firehose, Kinesis, or the local raw
/// files). The batcher hands each sink the same window and acknowledges an event only when every sink
/// marked it accepted.
/// </summary>
public interface IEventSink
{
    /// <summary>Short name for metrics and logs: <c>local</c>, <c>firehose</c>, <c>kinesis</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Delivers <paramref name="events"/>, setting <c>accepted[i]</c> as soon as <c>events[i]</c> is durably
    /// accepted. Retries only what is not yet accepted until it succeeds, fails for good, or
    /// <paramref name="cancellationToken"/> fires at the ack deadline. May throw; what it marked before
    /// throwing still counts.
    /// </summary>
    Task DeliverAsync(IReadOnlyList<PendingEvent> events, bool[] accepted, CancellationToken cancellationToken);

    /// <summary>
    /// Envelope bytes a window needs for this sink's record to reach <paramref name="recordBytes"/> as sent (after
    /// compression), so the batcher can keep a slow window open until its record is worth what it is billed; 0 when
    /// the sink does not bill each record whole and a longer window would only add latency.
    /// </summary>
    long EnvelopeBytesToFill(int recordBytes) => 0;

    /// <summary>Null when the sink's service is reachable, else why not (for <c>/readyz</c>).</summary>
    Task<string?> CheckReadyAsync(CancellationToken cancellationToken);
}
