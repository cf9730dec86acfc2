using System.Diagnostics.Metrics;
using IngestService.Delivery;
using IngestService.Operations;
using IngestService.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace IngestService.Tests.Operations;

public sealed class ReadinessProbeTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly CountingSink _sink = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task A_healthy_answer_is_reused_for_a_second_then_checked_again()
    {
        var probe = Probe();

        await probe.CheckAsync();
        await probe.CheckAsync();
        Assert.Equal(1, _sink.Checks);

        _time.Advance(TimeSpan.FromSeconds(1));
        await probe.CheckAsync();
        Assert.Equal(2, _sink.Checks);
    }

    [Fact]
    public async Task A_failing_answer_is_never_reused_so_recovery_shows_at_once()
    {
        var probe = Probe();
        _sink.Problem = "stream not found";

        Assert.Equal("stream not found", (await probe.CheckAsync())[0].Problem);
        _sink.Problem = null;

        Assert.Null((await probe.CheckAsync())[0].Problem);
        Assert.Equal(2, _sink.Checks);
    }

    private ReadinessProbe Probe() =>
        new([_sink], _time, new IngestMetrics(_services.GetRequiredService<IMeterFactory>()), NullLogger<ReadinessProbe>.Instance);

    private sealed class CountingSink : IEventSink
    {
        public int Checks;

        public string? Problem { get; set; }

        public string Name => "counting";

        public Task DeliverAsync(IReadOnlyList<PendingEvent> events, bool[] accepted, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<string?> CheckReadyAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Checks);
            return Task.FromResult(Problem);
        }
    }
}
