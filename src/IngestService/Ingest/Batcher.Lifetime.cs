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

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _flushSlots.Dispose();
    }
}
