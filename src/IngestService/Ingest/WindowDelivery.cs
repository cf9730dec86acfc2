using IngestService.Delivery;
using IngestService.Telemetry;

namespace IngestService.Ingest;

/// <summary>
/// One closed window's way to every sink: delivered to all sinks in parallel within the ack deadline of its
/// oldest event, then each event settled: stored when every sink accepted it, failed otherwise.
/// </summary>
internal sealed partial class WindowDelivery(IEventSink[] sinks, BatchingOptions options, PendingLimits limits, TimeProvider time, IngestMetrics metrics, ILogger logger)
{
    /// <summary>
    /// How long past the ack deadline a flush waits for a sink that ignores cancellation before it answers the
    /// window as timed out anyway, so every sensor's wait is bounded by the ack timeout plus this.
    /// </summary>
    public static readonly TimeSpan StuckSinkGrace = TimeSpan.FromSeconds(5);

    /// <summary>Delivers one window to every sink and settles each of its events. Never throws.</summary>
    public async Task FlushAsync(List<PendingEvent> window, long windowBytes)
    {
        try
        {
            // The deadline timers are gone before any sensor is answered: answers run requests' code inline.
            var (outcomes, sinkStuck) = await DeliverAllAsync(window);
            await AnswerAsync(window, outcomes, releaseBuffers: !sinkStuck);
        }
        catch (Exception ex)
        {
            LogFlushFaulted(ex);
            foreach (var e in window)
            {
                limits.Settle(e, DeliveryOutcome.SinkFailed);
            }
        }
        finally
        {
            metrics.Window(window.Count, windowBytes);
        }
    }

    /// <summary>Every sink's delivery of the window within its deadline, and what each event's outcome is.</summary>
    private async Task<(DeliveryOutcome[] Outcomes, bool SinkStuck)> DeliverAllAsync(List<PendingEvent> window)
    {
        // The window's deadline is its oldest event's: no sensor waits longer than the ack timeout.
        var remaining = options.AckTimeout - time.GetElapsedTime(window[0].EnqueuedAt);
        if (remaining < TimeSpan.Zero)
        {
            remaining = TimeSpan.Zero;
        }

        using var deadline = new CancellationTokenSource(remaining, time);
        using var giveUp = new CancellationTokenSource(remaining + StuckSinkGrace, time);
        var accepted = new bool[sinks.Length][];
        var deliveries = new Task[sinks.Length];
        for (var s = 0; s < sinks.Length; s++)
        {
            accepted[s] = new bool[window.Count];
            deliveries[s] = DeliverAsync(sinks[s], window, accepted[s], deadline.Token);
        }

        var outcomes = new DeliveryOutcome[window.Count];
        try
        {
            await Task.WhenAll(deliveries).WaitAsync(giveUp.Token);
        }
        catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
        {
            // A sink ignored the deadline. What it marked so far is not trusted (it may still be writing), and
            // it may still read the events' lines, so their buffers are left to the GC instead of the pool.
            LogSinkStuck(window.Count);
            Array.Fill(outcomes, DeliveryOutcome.TimedOut);
            return (outcomes, true);
        }

        var timedOut = deadline.IsCancellationRequested;
        for (var i = 0; i < window.Count; i++)
        {
            var all = true;
            for (var s = 0; s < sinks.Length && all; s++)
            {
                all = accepted[s][i];
            }

            outcomes[i] = all ? DeliveryOutcome.Stored : timedOut ? DeliveryOutcome.TimedOut : DeliveryOutcome.SinkFailed;
        }

        return (outcomes, false);
    }

    /// <summary>
    /// Settles a window's events in slices of <see cref="AnswerSlice.Size"/>, one thread-pool work item each, and
    /// completes once every one is settled. A pending event's completion runs its request's continuation inline, so
    /// each request is answered on its slice's work item: one thread-pool hop (and at most one thread woken) per
    /// slice instead of one per event, and never on the batching loop or a sink's thread.
    /// </summary>
    private Task AnswerAsync(List<PendingEvent> window, DeliveryOutcome[] outcomes, bool releaseBuffers)
    {
        var slices = (window.Count + AnswerSlice.Size - 1) / AnswerSlice.Size;
        var done = new AnswerProgress(slices);
        for (var start = 0; start < window.Count; start += AnswerSlice.Size)
        {
            ThreadPool.UnsafeQueueUserWorkItem(new AnswerSlice(limits, metrics, time, window, outcomes, start, releaseBuffers, done), preferLocal: false);
        }

        return done.Task;
    }

    /// <summary>Counts a window's slices down; completes when the last one has settled its events.</summary>
    private sealed class AnswerProgress(int slices) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        private int _left = slices;

        public void SliceDone()
        {
            if (Interlocked.Decrement(ref _left) == 0)
            {
                TrySetResult();
            }
        }
    }

    private sealed class AnswerSlice(PendingLimits limits, IngestMetrics metrics, TimeProvider time, List<PendingEvent> window, DeliveryOutcome[] outcomes, int start, bool releaseBuffers, AnswerProgress done)
        : IThreadPoolWorkItem
    {
        /// <summary>Events per work item: a 20 ms window at 50,000 events a second makes about 30 slices for 2 cores.</summary>
        public const int Size = 32;

        public void Execute()
        {
            var end = Math.Min(start + Size, window.Count);
            var stored = 0;
            var now = time.GetTimestamp();
            try
            {
                for (var i = start; i < end; i++)
                {
                    if (outcomes[i] == DeliveryOutcome.Stored)
                    {
                        // Measured here rather than per request: from a few work items a window, not from every request.
                        metrics.AckLatency(time.GetElapsedTime(window[i].EnqueuedAt, now));
                        stored++;
                    }

                    // Runs the request's continuation inline (PendingEvent): its answer is written here.
                    limits.Settle(window[i], outcomes[i], releaseBuffers);
                }
            }
            finally
            {
                metrics.Accepted(stored);
                done.SliceDone();
            }
        }
    }

    private async Task DeliverAsync(IEventSink sink, List<PendingEvent> window, bool[] accepted, CancellationToken deadline)
    {
        // Each sink starts on its own work item: what a sink does before its first wait (packing, writing and
        // signing a request body of megabytes) delays neither the other sinks nor the loop's next window.
        await Task.Yield();
        var started = time.GetTimestamp();
        try
        {
            await sink.DeliverAsync(window, accepted, deadline);
            metrics.Flushed(sink.Name, time.GetElapsedTime(started));
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            metrics.SinkError(sink.Name, "AckTimeout");
            LogSinkTimedOut(sink.Name, window.Count);
        }
        catch (Exception ex)
        {
            metrics.SinkError(sink.Name, ex.GetType().Name);
            LogSinkFailed(ex, sink.Name, window.Count);
        }
    }

    [LoggerMessage(1002, LogLevel.Error, "Delivering a window faulted")]
    private partial void LogFlushFaulted(Exception exception);

    [LoggerMessage(1003, LogLevel.Warning, "Sink {Sink} failed a window of {Count} events")]
    private partial void LogSinkFailed(Exception exception, string sink, int count);

    [LoggerMessage(1004, LogLevel.Warning, "Sink {Sink} did not accept a window of {Count} events before the ack deadline")]
    private partial void LogSinkTimedOut(string sink, int count);

    [LoggerMessage(1005, LogLevel.Error, "A sink ignored the ack deadline; a window of {Count} events was answered as timed out")]
    private partial void LogSinkStuck(int count);
}
