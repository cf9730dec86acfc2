using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>
/// Runs a regroup pass at start and then every <c>Regroup:Interval</c>, on every node (the lease lets one of
/// them do it). A look that hit <c>Regroup:MaxBatchesPerPass</c> is followed at once by another.
/// </summary>
public sealed partial class RegroupWorker(Regrouper regrouper, IOptions<RegroupOptions> options, TimeProvider time, ILogger<RegroupWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }

        await Task.Yield();
        using var timer = new PeriodicTimer(settings.Interval, time);
        do
        {
            try
            {
                RegroupReport report;
                do
                {
                    report = await regrouper.LookAsync(stoppingToken);
                }
                while (report.Pending > report.CutShort && report.BatchesRead >= settings.MaxBatchesPerPass);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // A failed pass leaves its uncommitted batches for the next one; the loop must outlive it.
                LogPassFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await base.StopAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping mid-pass is safe: what was not committed is redone by the next pass anywhere.
        }

        try
        {
            await regrouper.ReleaseLeaseAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The lease then simply expires: another node waits Regroup:LeaseDuration at most.
            LogLeaseNotReleased(logger, ex);
        }
    }

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Could not give up the regroup lease on stopping; it expires by itself")]
    private static partial void LogLeaseNotReleased(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Regroup pass failed; the next pass retries")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
