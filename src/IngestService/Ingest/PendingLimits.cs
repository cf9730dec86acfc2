using IngestService.Delivery;

namespace IngestService.Ingest;

/// <summary>Whether the batcher took an event.</summary>
public enum Admission
{
    Accepted,

    /// <summary>Over <see cref="BatchingOptions.MaxPendingEvents"/> or <see cref="BatchingOptions.MaxPendingBytes"/>.</summary>
    OverCapacity,

    /// <summary>The node is shutting down.</summary>
    Draining,

    /// <summary>The batching loop stopped after a fault; nothing would deliver the event.</summary>
    Faulted,
}

/// <summary>
/// The pending caps: how many events and bytes are accepted but not yet answered, against
/// <see cref="BatchingOptions.MaxPendingEvents"/> and <see cref="BatchingOptions.MaxPendingBytes"/>. Every event
/// that takes a place gives it back exactly once, in <see cref="Settle"/>.
/// </summary>
internal sealed class PendingLimits(BatchingOptions options)
{
    private long _events;
    private long _bytes;

    public long Events => Interlocked.Read(ref _events);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Takes places for all of <paramref name="events"/> or for none: a backlog is never split by the caps.</summary>
    public bool TryTake(List<PendingEvent> events)
    {
        long bytes = 0;
        foreach (var e in events)
        {
            bytes += e.Length;
        }

        var pendingEvents = Interlocked.Add(ref _events, events.Count);
        var pendingBytes = Interlocked.Add(ref _bytes, bytes);
        if (pendingEvents <= options.MaxPendingEvents && pendingBytes <= options.MaxPendingBytes)
        {
            return true;
        }

        Interlocked.Add(ref _events, -events.Count);
        Interlocked.Add(ref _bytes, -bytes);
        return false;
    }

    /// <summary>Answers an event once and frees its place; later calls for the same event change nothing.</summary>
    public void Settle(PendingEvent e, DeliveryOutcome outcome, bool releaseBuffer = true)
    {
        if (!e.TryClaimAnswer())
        {
            return;
        }

        // The place is freed and the buffer returned before the completion: completing runs the request's
        // continuation inline, and whatever it does next (a test reading the counts, the sensor's next event)
        // finds the place free.
        Interlocked.Add(ref _events, -1);
        Interlocked.Add(ref _bytes, -e.Length);
        if (releaseBuffer)
        {
            e.ReleaseBuffer();
        }

        e.Complete(outcome);
    }
}
