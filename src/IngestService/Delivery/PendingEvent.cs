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
    private readonly TaskCompletionSource<DeliveryOutcome> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[]? _buffer;

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

    /// <summary>False when the event was already answered.</summary>
    internal bool Complete(DeliveryOutcome outcome) => _completion.TrySetResult(outcome);

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
