using IngestService.Storage;
using IngestService.Storage.Runs;

namespace IngestService.Tests.Storage;

public sealed class RunIndexCacheTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static RunIndex IndexOf(long segments) =>
        new([.. Enumerable.Range(0, (int)segments).Select(i => new RunSegment($"s{i}", new DateOnly(2026, 11, 21), i, 1, 1, 1, 0, 0, -1, -1))], segments);

    [Fact]
    public async Task Indexes_a_writer_adds_are_kept_until_their_segments_pass_the_bound_then_the_cache_starts_again()
    {
        // The store holds none of these runs: a cached index is answered from memory, a dropped one reads as gone.
        var cache = new RunIndexCache(new FileSystemObjectStore(_folder.Path));
        var half = (RunIndexCache.CapacitySegments / 2) + 1;
        cache.Add("_ingest/runs/L0/a.run", IndexOf(half));
        var keptWithinTheBound = await cache.GetAsync("_ingest/runs/L0/a.run", CancellationToken.None);
        cache.Add("_ingest/runs/L0/b.run", IndexOf(half));
        cache.Add("_ingest/runs/L0/c.run", IndexOf(1));

        Assert.NotNull(keptWithinTheBound);
        Assert.Null(await cache.GetAsync("_ingest/runs/L0/a.run", CancellationToken.None));
        Assert.NotNull(await cache.GetAsync("_ingest/runs/L0/c.run", CancellationToken.None));
        Assert.Equal(1, cache.Segments);
    }

    [Fact]
    public async Task Indexes_of_deleted_runs_are_forgotten_and_their_segments_no_longer_count()
    {
        var cache = new RunIndexCache(new FileSystemObjectStore(_folder.Path));
        cache.Add("_ingest/runs/L0/a.run", IndexOf(5));
        cache.Add("_ingest/runs/L0/b.run", IndexOf(7));

        cache.Forget(["_ingest/runs/L0/a.run", "_ingest/runs/L0/never-cached.run"]);

        Assert.Equal(7, cache.Segments);
        Assert.Null(await cache.GetAsync("_ingest/runs/L0/a.run", CancellationToken.None));
        Assert.NotNull(await cache.GetAsync("_ingest/runs/L0/b.run", CancellationToken.None));
    }
}
