namespace IngestService.LoadGen;

/// <summary>Counters every sensor updates concurrently; read by the progress display and the final report.</summary>
internal sealed class RunStats
{
    private readonly long[] _statuses = new long[600];
    private long _sent;
    private long _acked;
    private long _requests;
    private long _transportErrors;
    private long _inFlight;

    // Until warm-up ends (JIT, connection set-up) answers are counted but their latency is not recorded.
    private long _measureFrom;
    private long _ackedAtMeasureStart;

    public LatencyHistogram Latency { get; } = new();

    public long Sent => Volatile.Read(ref _sent);

    public long Acked => Volatile.Read(ref _acked);

    public long Requests => Volatile.Read(ref _requests);

    /// <summary>Requests that got no HTTP answer at all (refused, reset, timed out).</summary>
    public long TransportErrors => Volatile.Read(ref _transportErrors);

    public long InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Answers that were not 2xx plus requests that got no answer.</summary>
    public long Errors
    {
        get
        {
            long errors = TransportErrors;
            for (var status = 0; status < _statuses.Length; status++)
            {
                if (status is < 200 or >= 300)
                {
                    errors += Volatile.Read(ref _statuses[status]);
                }
            }

            return errors;
        }
    }

    public void Starting(int events)
    {
        Interlocked.Add(ref _sent, events);
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _inFlight);
    }

    /// <summary>Stopwatch timestamp from which latencies count, and the acknowledgements before it.</summary>
    public (long From, long AckedBefore) Measurement => (Volatile.Read(ref _measureFrom), Volatile.Read(ref _ackedAtMeasureStart));

    /// <summary>Records latencies only of requests sent from now on.</summary>
    public void WarmUpUntilMeasuring() => Volatile.Write(ref _measureFrom, long.MaxValue);

    public void BeginMeasuring(long timestamp)
    {
        Volatile.Write(ref _ackedAtMeasureStart, Acked);
        Volatile.Write(ref _measureFrom, timestamp);
    }

    public void Answered(int status, long sentAt, long microseconds)
    {
        Interlocked.Decrement(ref _inFlight);
        Interlocked.Increment(ref _statuses[Math.Clamp(status, 0, _statuses.Length - 1)]);
        if (sentAt >= Volatile.Read(ref _measureFrom))
        {
            Latency.RecordMicroseconds(microseconds);
        }
    }

    public void Failed()
    {
        Interlocked.Decrement(ref _inFlight);
        Interlocked.Increment(ref _transportErrors);
    }

    public void Abandoned() => Interlocked.Decrement(ref _inFlight);

    public void Acknowledged(int events) => Interlocked.Add(ref _acked, events);

    public IReadOnlyList<KeyValuePair<int, long>> Statuses()
    {
        var result = new List<KeyValuePair<int, long>>();
        for (var status = 0; status < _statuses.Length; status++)
        {
            var count = Volatile.Read(ref _statuses[status]);
            if (count > 0)
            {
                result.Add(new(status, count));
            }
        }

        return result;
    }
}
