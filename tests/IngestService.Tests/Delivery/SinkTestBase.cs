using System.Diagnostics.Metrics;
using IngestService.Resilience;
using IngestService.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace IngestService.Tests.Delivery;

/// <summary>What every sink test needs: the service's metrics on a meter of their own, and a backoff that does not wait.</summary>
public abstract class SinkTestBase : IDisposable
{
    protected static readonly RetryDelays NoWait = RetryDelays.None;
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    protected SinkTestBase() => Metrics = new IngestMetrics(_services.GetRequiredService<IMeterFactory>());

    protected IngestMetrics Metrics { get; }

    public void Dispose()
    {
        Metrics.Dispose();
        _services.Dispose();
        GC.SuppressFinalize(this);
    }
}
