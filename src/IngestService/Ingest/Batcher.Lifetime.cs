namespace IngestService.Ingest;

/// <summary>
/// The loop's life as a hosted service: started with the host, drained when shutdown begins (intake stops and the open
/// window closes at once), stopped when every held event has been answered.
/// </summary>
public sealed partial class Batcher
{
    /// <summary>
    /// Stops taking events and closes the open window at once, so the requests the server is still finishing
    /// are answered now rather than when the window's timer runs out. Called when shutdown begins.
    /// </summary>
    public void BeginDrain()
    {
        _draining = true;
        _queue.Writer.TryComplete();
        Interlocked.MemoryBarrier();
        Wake();
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

    /// <summary>Keeps a window's delivery among those in flight until it ends: the loop waits for them all when it stops.</summary>
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

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _flushSlots.Dispose();
    }
}
