using System.Threading.Channels;
using IngestService.Delivery;
using IngestService.Telemetry;
using Microsoft.Extensions.Options;

namespace IngestService.Ingest;

/// <summary>
/// The cross-sensor batcher: one loop over one queue for every sensor. A window closes after
/// <see cref="BatchingOptions.Window"/> or at its size caps and is handed to <see cref="WindowDelivery"/>, which
/// delivers it to every sink in parallel while the loop already fills the next one. Each event is completed
/// exactly once (<see cref="PendingLimits.Settle"/>): stored when every sink accepted it, failed otherwise.
/// </summary>
public sealed partial class Batcher : IHostedService, IAsyncDisposable
{
    private readonly Channel<PendingEvent> _queue = Channel.CreateUnbounded<PendingEvent>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private readonly BatchingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<Batcher> _logger;
    private readonly PendingLimits _limits;
    private readonly WindowDelivery _delivery;
    private readonly SemaphoreSlim _flushSlots;
    private readonly Lock _inFlightLock = new();
    private readonly HashSet<Task> _inFlight = [];
    private volatile bool _draining;
    private volatile bool _faulted;
    private Task? _loop;

    public Batcher(IEnumerable<IEventSink> sinks, IOptions<BatchingOptions> options, TimeProvider time, IngestMetrics metrics, ILogger<Batcher> logger)
    {
        IEventSink[] all = [.. sinks];
        if (all.Length == 0)
        {
            // With no sink every event would count as accepted by all of them: acknowledged, never stored.
            throw new InvalidOperationException("No event sink is configured; check Ingest:Backend.");
        }

        _options = options.Value;
        _time = time;
        _logger = logger;
        _limits = new PendingLimits(_options);
        _delivery = new WindowDelivery(all, _options, _limits, time, metrics, logger);
        _flushSlots = new SemaphoreSlim(_options.MaxConcurrentFlushes);
        metrics.ObserveBatcher(() => PendingEvents, () => PendingBytes, () => IsFaulted);
    }

    public long PendingEvents => _limits.Events;

    public long PendingBytes => _limits.Bytes;

    public bool IsDraining => _draining;

    /// <summary>The loop faulted: the node takes no events and is not ready, rather than queueing where nothing reads.</summary>
    public bool IsFaulted => _faulted;

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

        if (!_limits.TryTake(events))
        {
            return Admission.OverCapacity;
        }

        foreach (var e in events)
        {
            if (!_queue.Writer.TryWrite(e))
            {
                // The writer completes only when draining began after the check above; the loop has
                // stopped reading, so this event (and the rest) are failed here, exactly once.
                _limits.Settle(e, DeliveryOutcome.SinkFailed);
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
            await _loop.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
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
                if (!await waitForMore)
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
                    if (await Task.WhenAny(waitForMore, windowClosed) == windowClosed
                        || !waitForMore.IsCompletedSuccessfully || !waitForMore.Result)
                    {
                        // Events queued before the window closed arrived within it, even when the wake-up that
                        // would have read them had not run yet.
                        Fill(reader, window, ref windowBytes);
                        break;
                    }

                    waitForMore = null;
                }

                await _flushSlots.WaitAsync();
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
                _limits.Settle(e, DeliveryOutcome.SinkFailed);
            }

            while (reader.TryRead(out var e))
            {
                _limits.Settle(e, DeliveryOutcome.SinkFailed);
            }
        }

        Task[] remaining;
        lock (_inFlightLock)
        {
            remaining = [.. _inFlight];
        }

        await Task.WhenAll(remaining);
    }

    private async Task FlushAsync(List<PendingEvent> window, long windowBytes)
    {
        try
        {
            await _delivery.FlushAsync(window, windowBytes);
        }
        finally
        {
            _flushSlots.Release();
        }
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

    [LoggerMessage(1001, LogLevel.Critical, "The batching loop faulted; held events were failed")]
    private partial void LogLoopFaulted(Exception exception);
}
