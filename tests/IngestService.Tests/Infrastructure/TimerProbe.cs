namespace IngestService.Tests.Infrastructure;

/// <summary>
/// Hands a clock (a <c>FakeTimeProvider</c> in unit tests) to the code under test and watches the timers it
/// asks for, which <c>FakeTimeProvider</c> does not show: tests wait until a window's timer is armed before they
/// move the clock, instead of sleeping, and can make the next timer fail, the one call in the batching loop that
/// reaches outside it.
/// </summary>
public sealed class TimerProbe(TimeProvider clock) : TimeProvider
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _armed;
    private int _failNext;

    public override DateTimeOffset GetUtcNow() => clock.GetUtcNow();

    public override long GetTimestamp() => clock.GetTimestamp();

    public override long TimestampFrequency => clock.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => clock.LocalTimeZone;

    /// <summary>The next timer asked for throws instead.</summary>
    public void FailNextTimer() => Volatile.Write(ref _failNext, 1);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (Interlocked.Exchange(ref _failNext, 0) == 1)
        {
            throw new InvalidOperationException("injected timer fault");
        }

        // Created unarmed, then armed through Change: the clock holds the timer before a test can see it armed and
        // move the clock, which would otherwise pass a timer that did not exist yet and never fire it.
        var timer = new ProbedTimer(this, callback, state);
        timer.Inner = clock.CreateTimer(timer.Fire, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Timers armed now: one the clock fired is no longer counted once its <c>Advance</c> returns.</summary>
    public int ArmedCount
    {
        get
        {
            lock (_lock)
            {
                return _armed;
            }
        }
    }

    /// <summary>Completes once at least <paramref name="count"/> timers are armed.</summary>
    public Task WaitForArmedTimersAsync(int count = 1) => WaitUntilAsync(armed => armed >= count);

    /// <summary>Completes once no timer is armed: every one fired or was disposed.</summary>
    public Task WaitUntilNoTimerIsArmedAsync() => WaitUntilAsync(armed => armed == 0);

    private async Task WaitUntilAsync(Func<int, bool> condition)
    {
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (condition(_armed))
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(giveUp.Token);
        }
    }

    private void Set(ProbedTimer timer, bool armed, bool periodic)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _armed += (armed ? 1 : 0) - (timer.Armed ? 1 : 0);
            timer.Armed = armed;
            timer.Periodic = periodic;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    private sealed class ProbedTimer(TimerProbe probe, TimerCallback callback, object? state) : ITimer
    {
        public ITimer? Inner { get; set; }

        /// <summary>Guarded by the probe's lock.</summary>
        public bool Armed { get; set; }

        public bool Periodic { get; set; }

        private int _fired;

        public void Fire(object? _)
        {
            Interlocked.Increment(ref _fired);
            if (!Periodic)
            {
                probe.Set(this, armed: false, periodic: false);
            }

            callback(state);
        }

        public void Track(TimeSpan dueTime, TimeSpan period) =>
            probe.Set(this, armed: dueTime != Timeout.InfiniteTimeSpan, periodic: period > TimeSpan.Zero && period != Timeout.InfiniteTimeSpan);

        /// <summary>
        /// The clock first, then the count: a timer due at once fires inside the clock's Change and is not counted
        /// as armed afterwards.
        /// </summary>
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var fired = Volatile.Read(ref _fired);
            var changed = Inner!.Change(dueTime, period);
            var periodic = period > TimeSpan.Zero && period != Timeout.InfiniteTimeSpan;
            if (periodic || Volatile.Read(ref _fired) == fired)
            {
                Track(dueTime, period);
            }

            return changed;
        }

        public void Dispose()
        {
            probe.Set(this, armed: false, periodic: false);
            Inner?.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
