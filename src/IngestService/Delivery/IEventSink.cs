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

    /// <summary>Null when the sink's service is reachable, else why not (for <c>/readyz</c>).</summary>
    Task<string?> CheckReadyAsync(CancellationToken cancellationToken);
}
