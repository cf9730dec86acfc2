using System.Threading.Channels;
using IngestService.Delivery;
using IngestService.Telemetry;
using Microsoft.Extensions.Options;

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
/// The cross-sensor batcher: one loop over one queue for every sensor. A window closes after
/// <see cref="BatchingOptions.Window"/> or at its size caps and is delivered to every sink in parallel while
/// the loop already fills the next one. Each event is completed exactly once: stored when every sink
/// accepted it, failed otherwise.
/// </summary>
public sealed partial class Batcher : IHostedService, IAsyncDisposable
{
    private readonly Channel<PendingEvent> _queue = Channel.CreateUnbounded<PendingEvent>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private readonly IEventSink[] _sinks;
    private readonly BatchingOptions _options;
    private readonly TimeProvider _time;
    private readonly IngestMetrics _metrics;
    private readonly ILogger<Batcher> _logger;
    private readonly SemaphoreSlim _flushSlots;
    private readonly Lock _inFlightLock = new();
    private readonly HashSet<Task> _inFlight = [];
    private long _pendingEvents;
    private long _pendingBytes;
    private volatile bool _draining;
    private volatile bool _faulted;
    private Task? _loop;

    public Batcher(IEnumerable<IEventSink> sinks, IOptions<BatchingOptions> options, TimeProvider time, IngestMetrics metrics, ILogger<Batcher> logger)
    {
        _sinks = [.. sinks];
        if (_sinks.Length == 0)
        {
            // With no sink every event would count as accepted by all of them: acknowledged, never stored.
            throw new InvalidOperationException("No event sink is configured; check Ingest:Backend.");
        }

        _options = options.Value;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _flushSlots = new SemaphoreSlim(_options.MaxConcurrentFlushes);
        metrics.ObserveBatcher(() => PendingEvents, () => PendingBytes, () => IsFaulted);
    }

    public long PendingEvents => Interlocked.Read(ref _pendingEvents);

    public long PendingBytes => Interlocked.Read(ref _pendingBytes);

    public bool IsDraining => _draining;

    /// <summary>The loop faulted: the node takes no events and is not ready, rather than queueing where nothing reads.</summary>
    public bool IsFaulted => _faulted;

    /// <summary>
    /// How long past the ack deadline a flush waits for a sink that ignores cancellation before it answers the
    /// window as timed out anyway, so every sensor's wait is bounded by the ack timeout plus this.
    /// </summary>
    public static readonly TimeSpan StuckSinkGrace = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Takes all of <paramref name="events"/> or none of them: a backlog batch is never split by the
    /// pending caps.
    /// </summary>
    public Admission TryEnqueue(List<PendingEvent> events)
    {
        if (_faulted)
        {
            return Admission.Faulted;
        }

        if (_draining)
        {
            return Admission.Draining;
        }

        long bytes = 0;
        foreach (var e in events)
        {
            bytes += e.Length;
        }

        var pendingEvents = Interlocked.Add(ref _pendingEvents, events.Count);
        var pendingBytes = Interlocked.Add(ref _pendingBytes, bytes);
        if (pendingEvents > _options.MaxPendingEvents || pendingBytes > _options.MaxPendingBytes)
        {
            Interlocked.Add(ref _pendingEvents, -events.Count);
            Interlocked.Add(ref _pendingBytes, -bytes);
            return Admission.OverCapacity;
        }

        foreach (var e in events)
        {
            if (!_queue.Writer.TryWrite(e))
            {
                // The writer completes only when draining began after the check above; the loop has
                // stopped reading, so this event (and the rest) are failed here, exactly once.
                Settle(e, DeliveryOutcome.SinkFailed);
            }
        }

        return Admission.Accepted;
    }

    /// <summary>
    /// Stops taking events and closes the open window at once, so the requests the server is still finishing
    /// are answered now rather than when the window's timer runs out. Called when shutdown begins.
    /// </summary>
    public void BeginDrain()
    {
        _draining = true;
        _queue.Writer.TryComplete();
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Idempotent: stops intake, flushes every held event, and waits until all are answered.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        BeginDrain();
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _flushSlots.Dispose();
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        Task<bool>? waitForMore = null;
        List<PendingEvent>? window = null;
        try
        {
            while (true)
            {
                waitForMore ??= reader.WaitToReadAsync().AsTask();
                if (!await waitForMore.ConfigureAwait(false))
                {
                    break;
                }

                waitForMore = null;

                // A wake-up can be stale: the previous window's final Fill may have taken the events that ended
                // this wait. A window opens only with an event in it, so no timer runs for an empty one.
                if (!reader.TryRead(out var first))
                {
                    continue;
                }

                window = [first];
                long windowBytes = first.Length;
                using var windowTimer = new CancellationTokenSource(_options.Window, _time);
                var windowClosed = Task.Delay(Timeout.InfiniteTimeSpan, windowTimer.Token);
                while (Fill(reader, window, ref windowBytes))
                {
                    // The pending wait is kept across windows: a single-reader channel allows one waiter.
                    waitForMore ??= reader.WaitToReadAsync().AsTask();
                    if (await Task.WhenAny(waitForMore, windowClosed).ConfigureAwait(false) == windowClosed
                        || !waitForMore.IsCompletedSuccessfully || !waitForMore.Result)
                    {
                        // Events queued before the window closed arrived within it, even when the wake-up that
                        // would have read them had not run yet.
                        Fill(reader, window, ref windowBytes);
                        break;
                    }

                    waitForMore = null;
                }

                await _flushSlots.WaitAsync().ConfigureAwait(false);
                Track(FlushAsync(window, windowBytes));
                window = null;
            }
        }
        catch (Exception ex)
        {
            // Unreachable by design. If it happens, every held sensor gets an answer now and every later one a
            // fast 503 (TryEnqueue refuses, the closed writer refuses a racing write, /readyz reports it) rather
            // than an event queued where nothing reads it.
            _faulted = true;
            _queue.Writer.TryComplete();
            LogLoopFaulted(ex);
            foreach (var e in window ?? [])
            {
                Settle(e, DeliveryOutcome.SinkFailed);
            }

            while (reader.TryRead(out var e))
            {
                Settle(e, DeliveryOutcome.SinkFailed);
            }
        }

        Task[] remaining;
        lock (_inFlightLock)
        {
            remaining = [.. _inFlight];
        }

        await Task.WhenAll(remaining).ConfigureAwait(false);
    }

    /// <summary>Moves queued events into the window; answers whether it still has room.</summary>
    private bool Fill(ChannelReader<PendingEvent> reader, List<PendingEvent> window, ref long bytes)
    {
        while (window.Count < _options.MaxWindowEvents && bytes < _options.MaxWindowBytes)
        {
            if (!reader.TryRead(out var e))
            {
                return true;
            }

            window.Add(e);
            bytes += e.Length;
        }

        return false;
    }

    private void Track(Task flush)
    {
        lock (_inFlightLock)
        {
            _inFlight.Add(flush);
        }

        flush.ContinueWith(
            (t, state) =>
            {
                var self = (Batcher)state!;
                lock (self._inFlightLock)
                {
                    self._inFlight.Remove(t);
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Delivers one window to every sink and settles each of its events. Never throws.</summary>
    private async Task FlushAsync(List<PendingEvent> window, long windowBytes)
    {
        try
        {
            // The window's deadline is its oldest event's: no sensor waits longer than the ack timeout.
            var remaining = _options.AckTimeout - _time.GetElapsedTime(window[0].EnqueuedAt);
            if (remaining < TimeSpan.Zero)
            {
                remaining = TimeSpan.Zero;
            }

            using var deadline = new CancellationTokenSource(remaining, _time);
            using var giveUp = new CancellationTokenSource(remaining + StuckSinkGrace, _time);
            var accepted = new bool[_sinks.Length][];
            var deliveries = new Task[_sinks.Length];
            for (var s = 0; s < _sinks.Length; s++)
            {
                accepted[s] = new bool[window.Count];
                deliveries[s] = DeliverAsync(_sinks[s], window, accepted[s], deadline.Token);
            }

            try
            {
                await Task.WhenAll(deliveries).WaitAsync(giveUp.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
            {
                // A sink ignored the deadline. What it marked so far is not trusted (it may still be writing), and
                // it may still read the events' lines, so their buffers are left to the GC instead of the pool.
                LogSinkStuck(window.Count);
                foreach (var e in window)
                {
                    Settle(e, DeliveryOutcome.TimedOut, releaseBuffer: false);
                }

                return;
            }

            var timedOut = deadline.IsCancellationRequested;
            for (var i = 0; i < window.Count; i++)
            {
                var all = true;
                for (var s = 0; s < _sinks.Length && all; s++)
                {
                    all = accepted[s][i];
                }

                Settle(window[i], all ? DeliveryOutcome.Stored : timedOut ? DeliveryOutcome.TimedOut : DeliveryOutcome.SinkFailed);
            }
        }
        catch (Exception ex)
        {
            LogFlushFaulted(ex);
            foreach (var e in window)
            {
                Settle(e, DeliveryOutcome.SinkFailed);
            }
        }
        finally
        {
            _flushSlots.Release();
            _metrics.Window(window.Count, windowBytes);
        }
    }

    private async Task DeliverAsync(IEventSink sink, List<PendingEvent> window, bool[] accepted, CancellationToken deadline)
    {
        // Each sink starts on its own work item: what a sink does before its first wait (packing, writing and
        // signing a request body of megabytes) delays neither the other sinks nor the loop's next window.
        await Task.Yield();
        var started = _time.GetTimestamp();
        try
        {
            await sink.DeliverAsync(window, accepted, deadline).ConfigureAwait(false);
            _metrics.Flushed(sink.Name, _time.GetElapsedTime(started));
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            _metrics.SinkError(sink.Name, "AckTimeout");
            LogSinkTimedOut(sink.Name, window.Count);
        }
        catch (Exception ex)
        {
            _metrics.SinkError(sink.Name, ex.GetType().Name);
            LogSinkFailed(ex, sink.Name, window.Count);
        }
    }

    /// <summary>Answers an event once; later calls for the same event change nothing.</summary>
    private void Settle(PendingEvent e, DeliveryOutcome outcome, bool releaseBuffer = true)
    {
        if (!e.Complete(outcome))
        {
            return;
        }

        Interlocked.Add(ref _pendingEvents, -1);
        Interlocked.Add(ref _pendingBytes, -e.Length);
        if (releaseBuffer)
        {
            e.ReleaseBuffer();
        }
    }

    [LoggerMessage(1001, LogLevel.Critical, "The batching loop faulted; held events were failed")]
    private partial void LogLoopFaulted(Exception exception);

    [LoggerMessage(1002, LogLevel.Error, "Delivering a window faulted")]
    private partial void LogFlushFaulted(Exception exception);

    [LoggerMessage(1003, LogLevel.Warning, "Sink {Sink} failed a window of {Count} events")]
    private partial void LogSinkFailed(Exception exception, string sink, int count);

    [LoggerMessage(1004, LogLevel.Warning, "Sink {Sink} did not accept a window of {Count} events before the ack deadline")]
    private partial void LogSinkTimedOut(string sink, int count);

    [LoggerMessage(1005, LogLevel.Error, "A sink ignored the ack deadline; a window of {Count} events was answered as timed out")]
    private partial void LogSinkStuck(int count);
}
