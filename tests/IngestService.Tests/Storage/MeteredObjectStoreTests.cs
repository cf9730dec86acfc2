using System.Diagnostics.Metrics;
using IngestService.Storage;
using IngestService.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace IngestService.Tests.Storage;

public sealed class MeteredObjectStoreTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "metered-store", Guid.NewGuid().ToString("N"));
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MetricCollector<long> _requests;
    private readonly MeteredObjectStore _store;

    public MeteredObjectStoreTests()
    {
        var meters = _services.GetRequiredService<IMeterFactory>();
        _requests = new MetricCollector<long>(meters, IngestMetrics.MeterName, "ingest_store_requests");
        _store = new MeteredObjectStore(new FileSystemObjectStore(_folder), meters);
    }

    public void Dispose()
    {
        _requests.Dispose();
        _services.Dispose();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public async Task Requests_are_counted_by_operation_and_caller_with_a_listing_billed_per_thousand_keys()
    {
        using (MeteredObjectStore.Attribute("regroup"))
        {
            for (var i = 0; i < 1001; i++)
            {
                await _store.PutAsync($"raw/{i:D5}", new MemoryStream([1]), WriteCondition.None, null, default);
            }

            await foreach (var _ in _store.ListAsync("raw/", null, default))
            {
            }
        }

        await _store.GetAsync("raw/00001", default);
        await _store.GetAsync("raw/00002", default);

        Assert.Equal(1001, Requests("regroup", "put"));
        Assert.Equal(2, Requests("regroup", "list"));
        Assert.Equal(2, Requests("read", "get"));
    }

    private long Requests(string caller, string op) =>
        _requests.GetMeasurementSnapshot().Where(m => Equals(m.Tags["caller"], caller) && Equals(m.Tags["op"], op)).Sum(m => m.Value);
}
