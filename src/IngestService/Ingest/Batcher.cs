using System.Threading.Channels;
using IngestService.Delivery;
using IngestService.Telemetry;
using Microsoft.Extensions.Options;

namespace IngestService.Ingest;

/// <summary>
/// The cross-sensor batcher: one loop over one queue for every sensor. A window closes after
/// <see cref="BatchingOptions.Window"/> or at its size caps and is handed to <see cref="WindowDelivery"/>, which
/// delivers it to every sink in parallel while the loop already fills the next one. A window whose record would be
/// billed for more than it holds keeps collecting up to <see cref="BatchingOptions.FillWindow"/> while events keep
/// arriving. Each event is completed exactly once (<see cref="PendingLimits.Settle"/>): stored when every sink
/// accepted it, failed otherwise.
/// </summary>
/// <remarks>
/// The loop wakes once per window, not once per event: producers count what they queue and wake it only when the
/// queue holds enough to fill the open window; the window's one timer wakes it otherwise. At tens of thousands of
/// events a second, a wake-up per arrival cost a thread-pool hop and a <c>WhenAny</c> each.
/// </remarks>
public sealed partial class Batcher : IHostedService, IAsyncDisposable
{
    private readonly Channel<PendingEvent> _queue = Channel.CreateUnbounded<PendingEvent>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private readonly BatchingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<Batcher> _logger;
    private readonly PendingLimits _limits;
    private readonly WindowDelivery _delivery;
    private readonly IEventSink[] _sinks;
    private readonly SemaphoreSlim _flushSlots;
    private readonly Lock _inFlightLock = new();
    private readonly HashSet<Task> _inFlight = [];
    private volatile bool _draining;
    private volatile bool _faulted;
    private Task? _loop;

    // Events and envelope bytes ever queued (producers add), and the totals at which the loop wants waking: see
    // WaitForMoreAsync for the handshake. The loop's own totals of what it read are _readEvents and _readBytes.
    private long _queuedEvents;
    private long _queuedBytes;
    private long _wakeAtEvents = long.MaxValue;
    private long _wakeAtBytes = long.MaxValue;
    private long _lastArrival;
    private TaskCompletionSource? _wake;
    private long _readEvents;
    private long _readBytes;
    private long _lastClosed;

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
        _sinks = all;
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

        long bytes = 0;
        foreach (var e in events)
        {
            if (!_queue.Writer.TryWrite(e))
            {
                // The writer completes only when draining began after the check above; the loop has
                // stopped reading, so this event (and the rest) are failed here, exactly once.
                _limits.Settle(e, DeliveryOutcome.SinkFailed);
            }

            bytes += e.Length;
        }

        Volatile.Write(ref _lastArrival, _time.GetTimestamp());
        // Counted after the writes: when a total reaches the loop's mark, the events that reached it are readable.
        var queuedEvents = Interlocked.Add(ref _queuedEvents, events.Count);
        var queuedBytes = Interlocked.Add(ref _queuedBytes, bytes);
        if (queuedEvents >= Volatile.Read(ref _wakeAtEvents) || queuedBytes >= Volatile.Read(ref _wakeAtBytes))
        {
            Wake();
        }

        return Admission.Accepted;
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        List<PendingEvent>? window = null;
        try
        {
            // Idle, the loop waits for the channel's first event; a window opens only with an event in it, so no
            // timer runs for an empty one.
            while (await reader.WaitToReadAsync())
            {
                if (!reader.TryRead(out var first))
                {
                    continue;
                }

                window = [first];
                _readEvents++;
                _readBytes += first.Length;
                var windowBytes = await CollectAsync(reader, window, first.Length);
                _lastClosed = _time.GetTimestamp();
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

    /// <summary>
    /// Fills the open window until it is full, the node drains, or its time is up: <see cref="BatchingOptions.Window"/>,
    /// or up to <see cref="BatchingOptions.FillWindow"/> while its record is still short of
    /// <see cref="BatchingOptions.FillRecordBytes"/> and events keep arriving. Answers the window's envelope bytes.
    /// </summary>
    private async Task<long> CollectAsync(ChannelReader<PendingEvent> reader, List<PendingEvent> window, long bytes)
    {
        var now = _time.GetTimestamp();
        var opened = Opened(now);
        var closeAfter = _options.Window;
        var goalBytes = (long)_options.MaxWindowBytes;
        var filling = false;

        // One timer per window, moved rather than replaced when the window keeps filling. Whether it fired is kept
        // apart from the wake-up, which it may complete before the loop has armed one: the loop reads the flag after
        // arming, so a firing is never lost, and a timer a tick early by the clock still counts.
        var due = new WindowDue(this);
        using var timer = _time.CreateTimer(static s => ((WindowDue)s!).Fire(), due, closeAfter - _time.GetElapsedTime(opened, now), Timeout.InfiniteTimeSpan);
        try
        {
            while (true)
            {
                var woken = Arm(window.Count, bytes, goalBytes);
                if (!Fill(reader, window, ref bytes) || _draining || (filling && bytes >= goalBytes))
                {
                    return bytes;
                }

                if (due.Fired || _time.GetElapsedTime(opened) >= closeAfter)
                {
                    if (!filling && (!_options.Fills || bytes >= (goalBytes = FillGoal())))
                    {
                        return bytes;
                    }

                    // Too little for a record worth its billing increment: keep collecting until it is, or until the
                    // longer limit, but only while events keep arriving. A Window with none means the senders are
                    // waiting for this one (a sensor sends its next event after its answer): waiting longer would
                    // fill nothing. Armed again at once with the lower goal, so events already queued count.
                    var open = _time.GetElapsedTime(opened);
                    var quiet = _time.GetElapsedTime(Volatile.Read(ref _lastArrival));
                    if (open >= _options.FillWindow || quiet >= _options.Window)
                    {
                        return bytes;
                    }

                    filling = true;
                    var next = Min(_options.FillWindow - open, _options.Window - quiet);
                    closeAfter = open + next;
                    due.Reset();
                    timer.Change(next, Timeout.InfiniteTimeSpan);
                    continue;
                }

                await woken;
            }
        }
        finally
        {
            Disarm();
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>
    /// When the window that opens now began: at the last one's close if that was less than a <see cref="BatchingOptions.Window"/>
    /// ago, so back-to-back windows keep one cadence; now after a quiet spell. Senders that wait for their answer (a
    /// sensor draining its queue) are answered together and come back together: timed from the first of them, each
    /// window would add its predecessor's delivery and answers to their wait, a window's worth timed from the close.
    /// No event waits longer than the window either way, since each arrived after the last close. Read against the same
    /// <paramref name="now"/> as the window's timer, so what is left of the window is never negative.
    /// </summary>
    private long Opened(long now) =>
        _lastClosed != 0 && _time.GetElapsedTime(_lastClosed, now) < _options.Window ? _lastClosed : now;

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
            _readEvents++;
            _readBytes += e.Length;
        }

        return false;
    }

    [LoggerMessage(1001, LogLevel.Critical, "The batching loop faulted; held events were failed")]
    private partial void LogLoopFaulted(Exception exception);
}
