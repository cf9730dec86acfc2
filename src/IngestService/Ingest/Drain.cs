namespace IngestService.Ingest;

/// <summary>
/// Stops new events the moment shutdown begins, while the server still finishes the requests it holds and
/// the batcher still delivers them.
/// </summary>
internal sealed class DrainOnStop(IHostApplicationLifetime lifetime, Batcher batcher) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(batcher.BeginDrain);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
