using System.Diagnostics.Metrics;
using IngestService.Regroup;
using IngestService.Storage;
using IngestService.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using static IngestService.Tests.Regroup.RegroupFixture;

namespace IngestService.Tests.Regroup;

/// <summary>The background look: merges only what the freshness makes due, on the node that holds the lease.</summary>
public sealed class RegroupLookTests : IDisposable
{
    private readonly RegroupFixture _f = new();

    public RegroupLookTests()
    {
        _f.Options.Interval = TimeSpan.FromMinutes(1);
        _f.Options.Freshness = TimeSpan.FromMinutes(10);
        _f.Options.DeliveryLag = TimeSpan.Zero;
    }

    private CancellationToken Token => _f.Token;

    private static long SeqOf(string line) => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("seq").GetInt64();

    public void Dispose() => _f.Dispose();

    private string Minute(int minute) => Line("s1", minute, $"2026-11-21T10:{minute:D2}:00.000Z", Event(minute, $"2026-11-21T10:{minute:D2}:00Z"));

    [Fact]
    public async Task A_look_leaves_a_batch_until_it_would_exceed_the_freshness_before_the_next_look_then_merges_it()
    {
        var regrouper = _f.CreateRegrouper();
        _f.WriteRaw(Minute(0));

        _f.Time.Advance(TimeSpan.FromMinutes(8));
        var early = await regrouper.LookAsync(Token);
        _f.Time.Advance(TimeSpan.FromMinutes(1));
        var due = await regrouper.LookAsync(Token);

        Assert.False(early.Merged);
        Assert.Equal(1, early.Pending);
        Assert.True(due.Merged);
        Assert.Equal(1, due.BatchesRead);
        Assert.Single(await _f.ReadDayAsync("s1", "2026-11-21"));
    }

    [Fact]
    public async Task Sensor_day_writes_follow_the_freshness_not_the_number_of_looks()
    {
        var counting = new CountingStore(_f.Store);
        var regrouper = _f.CreateRegrouper(counting);
        for (var minute = 0; minute < 60; minute++)
        {
            _f.WriteRaw(Minute(minute));
            await regrouper.LookAsync(Token);
            _f.Time.Advance(TimeSpan.FromMinutes(1));
        }

        await regrouper.RunPassAsync(Token);

        // One merge per Freshness − Interval (9 minutes) of the hour, and the flush.
        Assert.InRange(counting.Writes["sensors/s1/2026-11-21.ndjson.gz"], 6, 60 / 9 + 1);
        Assert.Equal(Enumerable.Range(0, 60).Select(m => (long)m), (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
    }

    [Fact]
    public async Task A_batch_landing_behind_the_newest_key_a_look_has_seen_is_merged_after_the_next_full_listing()
    {
        var regrouper = _f.CreateRegrouper();
        _f.WriteRaw(Minute(30), hour: "2026/11/21/11");
        await regrouper.LookAsync(Token);
        _f.Time.Advance(TimeSpan.FromMinutes(1));
        // A Firehose retry lands in an earlier hour folder, behind the key the look has already seen.
        _f.WriteRaw(Minute(5), hour: "2026/11/21/10");

        var looks = new List<RegroupReport>();
        for (var minute = 0; minute < 20; minute++)
        {
            _f.Time.Advance(TimeSpan.FromMinutes(1));
            looks.Add(await regrouper.LookAsync(Token));
        }

        Assert.Equal([5L, 30L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
        Assert.Equal(2, looks.Sum(l => l.BatchesRead));
    }

    [Fact]
    public async Task Of_two_nodes_only_the_lease_holder_merges_and_the_other_takes_over_once_the_lease_runs_out()
    {
        _f.Options.Freshness = _f.Options.Interval;
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
    public async Task A_lease_holder_whose_merge_fails_counts_it_and_gives_the_lease_up_so_another_node_merges_at_its_next_look()
    {
        _f.Options.Freshness = _f.Options.Interval;
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
    public async Task The_lease_holder_reports_the_age_of_the_oldest_pending_batch_and_the_other_node_none()
    {
        using var holderMeters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var otherMeters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var holder = _f.CreateRegrouper(meters: holderMeters.GetRequiredService<IMeterFactory>());
        var other = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root), meters: otherMeters.GetRequiredService<IMeterFactory>());
        using var holderAge = new MetricCollector<double>(holderMeters.GetRequiredService<IMeterFactory>(), IngestMetrics.MeterName, "regroup_oldest_pending_age");
        using var otherAge = new MetricCollector<double>(otherMeters.GetRequiredService<IMeterFactory>(), IngestMetrics.MeterName, "regroup_oldest_pending_age");
        using var freshness = new MetricCollector<double>(holderMeters.GetRequiredService<IMeterFactory>(), IngestMetrics.MeterName, "regroup_freshness");
        _f.WriteRaw(Minute(0));

        _f.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.False((await holder.LookAsync(Token)).Merged);
        Assert.False((await other.LookAsync(Token)).Merged);
        // The age grows with the clock between looks: a stuck merge shows up before the next look.
        _f.Time.Advance(TimeSpan.FromMinutes(2));
        holderAge.RecordObservableInstruments();
        otherAge.RecordObservableInstruments();
        freshness.RecordObservableInstruments();

        Assert.Equal(420, holderAge.LastMeasurement?.Value);
        Assert.Null(otherAge.LastMeasurement);
        Assert.Equal(600, freshness.LastMeasurement?.Value);

        _f.Time.Advance(TimeSpan.FromMinutes(2));
        Assert.True((await holder.LookAsync(Token)).Merged);
        holderAge.RecordObservableInstruments();
        Assert.Equal(0, holderAge.LastMeasurement?.Value);
    }

    [Fact]
    public async Task A_node_that_stops_gives_up_its_lease_so_another_merges_without_waiting_for_it_to_expire()
    {
        _f.Options.Freshness = _f.Options.Interval;
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
    public async Task Reads_are_current_as_of_the_listing_of_the_last_merge_that_left_nothing_behind()
    {
        var freshness = new StoreFreshness(_f.Store, _f.Time);
        var before = await freshness.CurrentAsOfAsync(Token);
        _f.WriteRaw(Minute(0));
        var listedAt = _f.Time.GetUtcNow();

        await _f.CreateRegrouper().RunPassAsync(Token);
        _f.Time.Advance(StoreFreshness.CacheFor);
        var after = await freshness.CurrentAsOfAsync(Token);

        Assert.Null(before);
        Assert.Equal(listedAt, after);
    }

    [Fact]
    public async Task A_merge_that_leaves_batches_pending_is_current_only_as_of_the_oldest_of_them()
    {
        _f.Options.MaxBatchesPerPass = 1;
        _f.Options.Freshness = _f.Options.Interval;
        _f.WriteRaw(Minute(0));
        _f.Time.Advance(TimeSpan.FromMinutes(1));
        _f.WriteRaw(Minute(1));
        var secondLanded = _f.Time.GetUtcNow();
        _f.Time.Advance(TimeSpan.FromMinutes(1));

        var report = await _f.CreateRegrouper().LookAsync(Token);
        var (watermark, _) = await StoreWatermark.ReadAsync(_f.Store, Token);

        Assert.Equal(1, report.Pending);
        Assert.Equal(secondLanded, watermark);
    }
}
