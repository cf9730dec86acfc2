using IngestService.Regroup;
using Microsoft.Extensions.Logging.Abstractions;
using static IngestService.Tests.Regroup.RegroupFixture;

namespace IngestService.Tests.Regroup;

public sealed class RegroupWorkerTests : IDisposable
{
    private readonly RegroupFixture _f = new();

    private CancellationToken Token => _f.Token;

    public void Dispose() => _f.Dispose();

    private RegroupWorker CreateWorker() =>
        new(_f.CreateRegrouper(), Microsoft.Extensions.Options.Options.Create(_f.Options), TimeProvider.System, NullLogger<RegroupWorker>.Instance);

    [Fact]
    public async Task An_enabled_worker_runs_a_pass_as_soon_as_the_node_starts()
    {
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")));
        using var worker = CreateWorker();

        await worker.StartAsync(Token);
        // The first pass is not driven by the interval; wait for its result, bounded.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await _f.ReadDayAsync("s1", "2026-11-21")).Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, Token);
        }

        await worker.StopAsync(Token);
        Assert.Single(await _f.ReadDayAsync("s1", "2026-11-21"));
    }

    [Fact]
    public async Task A_disabled_worker_leaves_raw_batches_alone()
    {
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")));
        _f.Options.Enabled = false;
        using var worker = CreateWorker();

        await worker.StartAsync(Token);
        await (worker.ExecuteTask ?? Task.CompletedTask);
        await worker.StopAsync(Token);

        Assert.Empty(await _f.ReadDayAsync("s1", "2026-11-21"));
    }
}
