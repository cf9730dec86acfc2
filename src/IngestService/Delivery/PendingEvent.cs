using System.Buffers;
using IngestService.Events;

namespace IngestService.Delivery;

/// <summary>Why an event was or was not acknowledged.</summary>
public enum DeliveryOutcome
{
    Stored,

    /// <summary>A sink refused or failed, and retrying within the ack timeout did not help.</summary>
    SinkFailed,

    /// <summary>The sinks did not all accept the event within <c>Batching:AckTimeout</c>.</summary>
    TimedOut,
}

/// <summary>
/// One accepted event between its arrival and its answer: the stored line (a pooled buffer) and the
/// completion that its HTTP request awaits. Completed exactly once by the batcher.
/// </summary>
public sealed class PendingEvent
{
    /// <summary>
    /// Without <c>RunContinuationsAsynchronously</c>, deliberately: the batcher completes a window's events from
    /// work items of their own, a slice of the window each (<c>WindowDelivery</c>), so the request's continuation
    /// runs there, inline, instead of costing a thread-pool hop per event. Nothing completes an event while it holds
    /// a lock or from the batching loop's normal path.
    /// </summary>
    private readonly TaskCompletionSource<DeliveryOutcome> _completion = new();
    private byte[]? _buffer;
    private int _answered;

    public PendingEvent(string sensorId, EventHeader header, byte[] pooledBuffer, int length, long enqueuedAt)
    {
        SensorId = sensorId;
        Header = header;
        _buffer = pooledBuffer;
        Length = length;
        EnqueuedAt = enqueuedAt;
    }

    /// <summary>Writes the stored line into a pooled buffer that <see cref="ReleaseBuffer"/> gives back.</summary>
    public static PendingEvent Create(string sensorId, EventHeader header, DateTimeOffset receivedAt, ReadOnlySpan<byte> body, long enqueuedAt)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Envelope.MaxLength(sensorId, body.Length));
        var length = Envelope.Write(buffer, sensorId, header, receivedAt, body);
        return new PendingEvent(sensorId, header, buffer, length, enqueuedAt);
    }

    public string SensorId { get; }

    public EventHeader Header { get; }

    /// <summary>The envelope as stored: one NDJSON line, ending in <c>\n</c>.</summary>
    public ReadOnlyMemory<byte> Line => _buffer.AsMemory(0, Length);

    public int Length { get; }

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when the event was accepted.</summary>
    public long EnqueuedAt { get; }

    public Task<DeliveryOutcome> Completion => _completion.Task;

    /// <summary>True for the one caller that answers this event; false for every later one.</summary>
    internal bool TryClaimAnswer() => Interlocked.Exchange(ref _answered, 1) == 0;

    /// <summary>Answers the event; only after <see cref="TryClaimAnswer"/> said so.</summary>
    internal void Complete(DeliveryOutcome outcome) => _completion.TrySetResult(outcome);

    /// <summary>Gives the buffer back once no sink can read it any more.</summary>
    internal void ReleaseBuffer()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
