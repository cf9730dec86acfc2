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

            try
            {
                await Task.WhenAll(deliveries).WaitAsync(giveUp.Token);
            }
            catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
            {
                // A sink ignored the deadline. What it marked so far is not trusted (it may still be writing), and
                // it may still read the events' lines, so their buffers are left to the GC instead of the pool.
                LogSinkStuck(window.Count);
                foreach (var e in window)
                {
                    limits.Settle(e, DeliveryOutcome.TimedOut, releaseBuffer: false);
                }

                return;
            }

            var timedOut = deadline.IsCancellationRequested;
            for (var i = 0; i < window.Count; i++)
            {
                var all = true;
                for (var s = 0; s < sinks.Length && all; s++)
                {
                    all = accepted[s][i];
                }

                limits.Settle(window[i], all ? DeliveryOutcome.Stored : timedOut ? DeliveryOutcome.TimedOut : DeliveryOutcome.SinkFailed);
            }
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
