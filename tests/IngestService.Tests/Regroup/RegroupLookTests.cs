using System.Diagnostics.Metrics;
using IngestService.Regroup;
using IngestService.Storage;
using IngestService.Storage.Runs;
using IngestService.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using static IngestService.Tests.Regroup.RegroupFixture;

namespace IngestService.Tests.Regroup;

/// <summary>The background look: a pass on the node that holds the lease, and what reads may promise after it.</summary>
public sealed class RegroupLookTests : IDisposable
{
    private readonly RegroupFixture _f = new();

    public RegroupLookTests()
    {
        _f.Options.Interval = TimeSpan.FromMinutes(1);
        _f.Options.DeliveryLag = TimeSpan.Zero;
    }

    private CancellationToken Token => _f.Token;

    private static long SeqOf(string line) => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("seq").GetInt64();

    public void Dispose() => _f.Dispose();

    private string Minute(int minute) => Line("s1", minute, $"2026-11-21T10:{minute:D2}:00.000Z", Event(minute, $"2026-11-21T10:{minute:D2}:00Z"));

    [Fact]
    public async Task Every_look_makes_new_batches_readable_with_one_run_and_one_manifest_commit_whatever_the_number_of_sensors()
    {
        var counting = new CountingStore(_f.Store);
        var regrouper = _f.CreateRegrouper(counting);
        for (var minute = 0; minute < 10; minute++)
        {
            _f.WriteRaw(string.Concat(Enumerable.Range(0, 50).Select(s => Line($"s{s}", minute, $"2026-11-21T10:{minute:D2}:00.000Z", Event(minute, $"2026-11-21T10:{minute:D2}:00Z")))));
            var look = await regrouper.LookAsync(Token);
            Assert.True(look.Merged);
            Assert.Equal(Enumerable.Range(0, minute + 1).Select(m => (long)m), (await _f.ReadDayAsync("s49", "2026-11-21")).Select(SeqOf));
            _f.Time.Advance(TimeSpan.FromMinutes(1));
        }

        // Ten tier-0 runs, eight of them compacted into one tier-1 run; no sensor-day object while the day is open.
        Assert.Equal(11, counting.Writes.Keys.Count(k => k.StartsWith(Manifest.RunPrefix, StringComparison.Ordinal)));
        Assert.DoesNotContain(counting.Writes.Keys, k => k.StartsWith("sensors/", StringComparison.Ordinal));
        var manifest = await _f.ManifestAsync();
        Assert.Equal([0, 0, 1], manifest.Runs.Select(r => r.Level).Order());
        Assert.Equal(Enumerable.Range(0, 10).Select(m => (long)m), (await _f.ReadDayAsync("s0", "2026-11-21")).Select(SeqOf));
    }

    [Fact]
    public async Task Past_the_live_run_cap_a_look_merges_the_lowest_tier_early_so_a_cold_read_opens_at_most_that_many_runs()
    {
        _f.Options.MaxLiveRuns = 4;
        var regrouper = _f.CreateRegrouper();
        for (var minute = 0; minute < 40; minute++)
        {
            _f.WriteRaw(string.Concat(Enumerable.Range(0, 5).Select(s => Line($"s{s}", minute, $"2026-11-21T10:{minute:D2}:00.000Z", Event(minute, $"2026-11-21T10:{minute:D2}:00Z")))));
            await regrouper.LookAsync(Token);
            _f.Time.Advance(TimeSpan.FromMinutes(1));

            Assert.InRange((await _f.ManifestAsync()).Runs.Count, 1, 4);
        }

        var reads = new CountingStore(_f.Store);
        Assert.Equal(Enumerable.Range(0, 40).Select(m => (long)m), (await _f.ReadDayAsync("s3", "2026-11-21", reads)).Select(SeqOf));
        // The manifest, the sealed key (none yet), and an index and a segment of each run.
        Assert.InRange(reads.Gets, 4, 2 + (2 * 4));
    }

    [Fact]
    public async Task Tiers_climb_as_far_as_the_passes_of_a_day_need_instead_of_piling_up_in_a_top_tier()
    {
        _f.Options.Fanout = 2;
        var regrouper = _f.CreateRegrouper();
        for (var minute = 0; minute < 32; minute++)
        {
            _f.WriteRaw(Minute(minute));
            await regrouper.LookAsync(Token);
            _f.Time.Advance(TimeSpan.FromMinutes(1));
        }

        // 32 passes at fanout 2: one run of tier 5, where a top tier of 3 would hold four.
        var manifest = await _f.ManifestAsync();
        Assert.Equal([5], manifest.Runs.Select(r => r.Level));
        Assert.Equal(Enumerable.Range(0, 32).Select(m => (long)m), (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
    }

    [Fact]
    public async Task A_node_that_never_saw_a_run_reads_its_index_in_one_GET_however_large_it_is()
    {
        var regrouper = _f.CreateRegrouper();
        _f.WriteRaw(string.Concat(Enumerable.Range(0, 4000).Select(s => Line($"sensor-{s:D6}-{Guid.NewGuid():N}", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")))));
        _f.WriteRaw(Minute(1));
        await regrouper.LookAsync(Token);

        var run = Assert.Single((await _f.ManifestAsync()).Runs);
        Assert.True(run.IndexBytes > RunIndex.TailBytes, $"the index ({run.IndexBytes} bytes) should be longer than a reader's first guess");
        var reads = new CountingStore(_f.Store);
        Assert.Equal([1L], (await _f.ReadDayAsync("s1", "2026-11-21", reads)).Select(SeqOf));
        // The manifest, the sealed key (none yet), the index, the segment.
        Assert.Equal(4, reads.Gets);
    }

    [Fact]
    public async Task A_batch_landing_behind_the_newest_key_a_look_has_seen_is_read_by_the_next_look()
    {
        var regrouper = _f.CreateRegrouper();
        _f.WriteRaw(Minute(30), hour: "2026/11/21/11");
        await regrouper.LookAsync(Token);
        _f.Time.Advance(TimeSpan.FromMinutes(1));
        // A Firehose retry lands in an earlier hour folder, behind the key the look has already seen.
        _f.WriteRaw(Minute(5), hour: "2026/11/21/10");

        var looks = new List<RegroupReport>();
        for (var minute = 0; minute < 3; minute++)
        {
            _f.Time.Advance(TimeSpan.FromMinutes(1));
            looks.Add(await regrouper.LookAsync(Token));
        }

        Assert.Equal([5L, 30L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
        Assert.Equal(1, looks.Sum(l => l.BatchesRead));
    }

    [Fact]
    public async Task Of_two_nodes_only_the_lease_holder_merges_and_the_other_takes_over_once_the_lease_runs_out()
    {
        var first = _f.CreateRegrouper();
        var second = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));
        _f.WriteRaw(Minute(0));

        var holder = await first.LookAsync(Token);
        var other = await second.LookAsync(Token);

        // The first node dies; its lease runs out.
        _f.Time.Advance(_f.Options.LeaseDuration + TimeSpan.FromSeconds(1));
        _f.WriteRaw(Minute(1));
        var takeover = await second.LookAsync(Token);
        var back = await first.LookAsync(Token);

        Assert.True(holder.Merged);
        Assert.False(other.Merged);
        Assert.True(takeover.Merged);
        Assert.Equal(1, takeover.BatchesRead);
        Assert.False(back.Merged);
        Assert.Equal([0L, 1L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
    }

    [Fact]
    public async Task A_pass_that_outlasts_the_lease_renews_it_so_no_other_node_takes_it_mid_pass()
    {
        var held = new HeldRawRead(new FileSystemObjectStore(_f.Root));
        var first = _f.CreateRegrouper(held);
        var second = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));
        _f.WriteRaw(Minute(0));
        var lease = _f.Options.LeaseDuration;

        var pass = first.LookAsync(Token);
        await held.Reading.Task.WaitAsync(Token);
        await held.LeaseWrites.WaitAsync(Token);
        // The pass is stuck reading while the clock runs past the lease it took; the keeper renews it twice (the
        // real-time bound only ends the test early when no renewal comes).
        _f.Time.Advance(lease * 2 / 3);
        Assert.True(await held.LeaseWrites.WaitAsync(TimeSpan.FromSeconds(10), Token), "no renewal two-thirds into the lease");
        _f.Time.Advance(lease * 2 / 3);
        Assert.True(await held.LeaseWrites.WaitAsync(TimeSpan.FromSeconds(10), Token), "no renewal past the lease's first expiry");
        var other = await second.LookAsync(Token);
        held.Release.SetResult();
        var done = await pass;

        Assert.False(other.Merged);
        Assert.True(done.Merged);
        Assert.Equal([0L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
    }

    /// <summary>Holds the first raw read until released, and counts the writes of the regroup lease.</summary>
    private sealed class HeldRawRead(IObjectStore inner) : PassThroughStore(inner)
    {
        private int _held;

        public TaskCompletionSource Reading { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SemaphoreSlim LeaseWrites { get; } = new(0);

        public override async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
        {
            if (key.StartsWith("raw/", StringComparison.Ordinal) && Interlocked.Exchange(ref _held, 1) == 0)
            {
                Reading.SetResult();
                await Release.Task.WaitAsync(cancellationToken);
            }

            return await base.GetAsync(key, cancellationToken);
        }

        public override async Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
        {
            var written = await base.PutAsync(key, content, condition, metadata, cancellationToken);
            if (key == RegroupLease.Key)
            {
                LeaseWrites.Release();
            }

            return written;
        }
    }

    [Fact]
    public async Task A_lease_holder_whose_merge_fails_counts_it_and_gives_the_lease_up_so_another_node_merges_at_its_next_look()
    {
        using var failingMeters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var failures = new MetricCollector<long>(failingMeters.GetRequiredService<IMeterFactory>(), IngestMetrics.MeterName, "regroup_pass_failures");
        var failing = _f.CreateRegrouper(new OnFirstRawRead(new FileSystemObjectStore(_f.Root), () => throw new IOException("this node's scratch disk is full")),
            meters: failingMeters.GetRequiredService<IMeterFactory>());
        var healthy = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));
        _f.WriteRaw(Minute(0));

        await Assert.ThrowsAsync<IOException>(() => failing.LookAsync(Token));
        var next = await healthy.LookAsync(Token);

        Assert.Equal(1, failures.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.True(next.Merged);
        Assert.Equal([0L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
    }

    [Fact]
    public async Task The_lease_holder_reports_the_age_of_the_oldest_batch_it_left_and_the_other_node_none()
    {
        using var holderMeters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var otherMeters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _f.Options.MaxBatchesPerPass = 1;
        var holder = _f.CreateRegrouper(meters: holderMeters.GetRequiredService<IMeterFactory>());
        var other = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root), meters: otherMeters.GetRequiredService<IMeterFactory>());
        using var holderAge = new MetricCollector<double>(holderMeters.GetRequiredService<IMeterFactory>(), IngestMetrics.MeterName, "regroup_oldest_pending_age");
        using var otherAge = new MetricCollector<double>(otherMeters.GetRequiredService<IMeterFactory>(), IngestMetrics.MeterName, "regroup_oldest_pending_age");
        using var freshness = new MetricCollector<double>(holderMeters.GetRequiredService<IMeterFactory>(), IngestMetrics.MeterName, "regroup_freshness");
        _f.WriteRaw(Minute(0));
        _f.WriteRaw(Minute(1));

        _f.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.True((await holder.LookAsync(Token)).Merged);
        Assert.False((await other.LookAsync(Token)).Merged);
        // The age grows with the clock between looks: a stuck pass shows up before the next look.
        _f.Time.Advance(TimeSpan.FromMinutes(2));
        holderAge.RecordObservableInstruments();
        otherAge.RecordObservableInstruments();
        freshness.RecordObservableInstruments();

        Assert.Equal(420, holderAge.LastMeasurement?.Value);
        Assert.Null(otherAge.LastMeasurement);
        Assert.Equal(120, freshness.LastMeasurement?.Value);

        Assert.True((await holder.LookAsync(Token)).Merged);
        holderAge.RecordObservableInstruments();
        Assert.Equal(0, holderAge.LastMeasurement?.Value);
    }

    [Fact]
    public async Task A_node_that_stops_gives_up_its_lease_so_another_merges_without_waiting_for_it_to_expire()
    {
        var first = _f.CreateRegrouper();
        var second = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));
        _f.WriteRaw(Minute(0));
        await first.LookAsync(Token);

        await first.ReleaseLeaseAsync(Token);
        _f.WriteRaw(Minute(1));
        var next = await second.LookAsync(Token);

        Assert.True(next.Merged);
        Assert.Equal(1, next.BatchesRead);
    }

    [Fact]
    public async Task Reads_are_current_as_of_the_listing_of_the_last_pass_that_left_nothing_behind()
    {
        var freshness = new ManifestFreshness(new ManifestStore(_f.Store, _f.Time));
        var before = await freshness.CurrentAsOfAsync(Token);
        _f.WriteRaw(Minute(0));
        var listedAt = _f.Now;

        await _f.CreateRegrouper().RunPassAsync(Token);
        _f.Time.Advance(ManifestStore.CacheFor);
        var after = await freshness.CurrentAsOfAsync(Token);

        Assert.Null(before);
        Assert.Equal(listedAt, after);
    }

    [Fact]
    public async Task A_pass_that_leaves_batches_pending_is_current_only_as_of_the_oldest_of_them_minus_the_delivery_lag()
    {
        _f.Options.MaxBatchesPerPass = 1;
        _f.Options.DeliveryLag = TimeSpan.FromMinutes(15);
        _f.WriteRaw(Minute(0));
        _f.Time.Advance(TimeSpan.FromMinutes(1));
        _f.WriteRaw(Minute(1));
        var secondLanded = _f.Now;
        _f.Time.Advance(TimeSpan.FromMinutes(1));

        var report = await _f.CreateRegrouper().LookAsync(Token);

        Assert.Equal(1, report.Pending);
        Assert.Equal(secondLanded - TimeSpan.FromMinutes(15), (await _f.ManifestAsync()).Watermark);
        Assert.Equal(report.CurrentAsOf, (await _f.ManifestAsync()).Watermark);
    }
}
