namespace IngestService.Tests.Infrastructure;

/// <summary>
/// Another clock's time, but the next timer asked for after <see cref="FailNextTimer"/> throws: a fault injected
/// where the batching loop arms its window, the one call in the loop that reaches outside it.
/// </summary>
public sealed class FaultingTimeProvider(TimeProvider inner) : TimeProvider
{
    private int _failNext;

    public void FailNextTimer() => Volatile.Write(ref _failNext, 1);

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        Interlocked.Exchange(ref _failNext, 0) == 1
            ? throw new InvalidOperationException("injected timer fault")
            : inner.CreateTimer(callback, state, dueTime, period);
}
