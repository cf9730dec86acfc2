namespace IngestService.Ingest;

/// <summary>
/// How the loop is woken: the window's timer (<see cref="WindowDue"/>), or producers once the queue holds what the
/// open window has room for or still needs (<see cref="Arm"/>), with the fill goal of sinks that bill records whole.
/// </summary>
public sealed partial class Batcher
{
    /// <summary>Whether the open window's timer has fired since it was last set; firing wakes the loop.</summary>
    private sealed class WindowDue(Batcher batcher)
    {
        private int _fired;

        public bool Fired => Volatile.Read(ref _fired) == 1;

        public void Reset() => Interlocked.Exchange(ref _fired, 0);

        public void Fire()
        {
            // A full fence before reading the wake-up, as producers do (see Arm).
            Interlocked.Exchange(ref _fired, 1);
            batcher.Wake();
        }
    }

    /// <summary>
    /// Envelope bytes at which the window's record reaches <see cref="BatchingOptions.FillRecordBytes"/> for every sink
    /// that bills records whole; <see cref="BatchingOptions.MaxWindowBytes"/> caps it, and 0 means no sink asks.
    /// </summary>
    private long FillGoal()
    {
        long goal = 0;
        foreach (var sink in _sinks)
        {
            goal = Math.Max(goal, sink.EnvelopeBytesToFill(_options.FillRecordBytes));
        }

        return Math.Min(goal, _options.MaxWindowBytes);
    }

    /// <summary>
    /// Asks producers to wake the loop once the queue holds what the window still has room for (events) or what it
    /// still needs (bytes). The marks and the completion are published with a full fence before the loop reads the
    /// queue again, and producers add to their totals with one before they read the marks: so either the loop reads
    /// a producer's events, or that producer sees the marks and wakes it.
    /// </summary>
    private Task Arm(int windowEvents, long windowBytes, long goalBytes)
    {
        Volatile.Write(ref _wakeAtEvents, _readEvents + (_options.MaxWindowEvents - windowEvents));
        Volatile.Write(ref _wakeAtBytes, _readBytes + Math.Max(1, goalBytes - windowBytes));
        var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _wake, wake);
        return wake.Task;
    }

    private void Disarm()
    {
        Volatile.Write(ref _wakeAtEvents, long.MaxValue);
        Volatile.Write(ref _wakeAtBytes, long.MaxValue);
        Interlocked.Exchange(ref _wake, null);
    }

    private void Wake() => Volatile.Read(ref _wake)?.TrySetResult();
}
