using System.Diagnostics.Metrics;
using System.Text.Json;
using IngestService.Storage;
using IngestService.Storage.Runs;
using IngestService.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using static IngestService.Tests.Regroup.RegroupFixture;

namespace IngestService.Tests.Regroup;

/// <summary>
/// A store that kills a pass at each step (after the run PUT, before and after the manifest commit, during
/// compaction, sealing and input deletion), and two nodes compacting at once: every case converges to each event
/// once, in order, with no orphan left.
/// </summary>
public sealed class StoreFaultTests : IDisposable
{
    private const int Sensors = 4;
    private readonly RegroupFixture _f = new();
    private readonly Dictionary<(string Sensor, string Day), List<long>> _expected = [];

    public StoreFaultTests()
    {
        _f.Options.Fanout = 3;
        _f.Options.MaxBatchesPerPass = 1;
        _f.Options.MaxParallelWrites = 2;
    }

    private CancellationToken Token => _f.Token;

    public void Dispose() => _f.Dispose();

    /// <summary>Raw batches over two days for a few sensors, each event in two batches (a Firehose redelivery).</summary>
    private void WriteBatches(int batches)
    {
        for (var b = 0; b < batches; b++)
        {
            var content = "";
            for (var s = 0; s < Sensors; s++)
            {
                foreach (var (day, seq) in new[] { ("2026-11-20", b), ("2026-11-21", 100 + b) })
                {
                    var ts = $"{day}T10:{b:D2}:00.000Z";
                    var line = Line($"s{s}", seq, ts, Event(seq, ts));
                    content += line + line;
                    Expect($"s{s}", day, seq);
                }
            }

            _f.WriteRaw(content);
        }
    }

    private void Expect(string sensor, string day, long seq)
    {
        if (!_expected.TryGetValue((sensor, day), out var seqs))
        {
            _expected[(sensor, day)] = seqs = [];
        }

        if (!seqs.Contains(seq))
        {
            seqs.Add(seq);
        }
    }

    /// <summary>Passes until nothing is left, then the clock runs past every grace period and orphan age.</summary>
    private async Task AssertConvergedAsync()
    {
        var afterTheDays = new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
        if (_f.Now < afterTheDays)
        {
            _f.Time.SetUtcNow(afterTheDays);
        }

        var regrouper = _f.CreateRegrouper();
        await regrouper.RunPassAsync(Token);
        foreach (var run in _f.RunFiles())
        {
            // The file system dates runs by the real clock: age them on the test's clock.
            File.SetLastWriteTimeUtc(run, _f.Now.UtcDateTime);
        }

        _f.Time.Advance(TimeSpan.FromHours(2));
        await regrouper.RunPassAsync(Token);
        _f.Time.Advance(TimeSpan.FromHours(2));
        await regrouper.RunPassAsync(Token);

        foreach (var ((sensor, day), seqs) in _expected)
        {
            var read = (await _f.ReadDayAsync(sensor, day)).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()).ToList();
            Assert.True(seqs.Order().SequenceEqual(read), $"{sensor} {day}: {string.Join(',', read)}; manifest {System.Text.Encoding.UTF8.GetString((await _f.ManifestAsync()).Serialize())}");
            Assert.Equal(read, (await _f.ReadSealedAsync(sensor, day)).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
        }

        var manifest = await _f.ManifestAsync();
        Assert.Empty(manifest.Runs);
        Assert.Empty(manifest.Garbage);
        Assert.Empty(_f.RunFiles());
    }

    public static TheoryData<string, string, int> Kills => new()
    {
        // What fails, on which keys, after how many successful calls of that kind.
        { "put", Manifest.RunPrefix + "L0/", 1 },
        { "put", Manifest.Key, 1 },
        { "put", Manifest.Key, 2 },
        { "put", Manifest.RunPrefix + "L1/", 0 },
        { "put", Manifest.Key, 4 },
        { "put", "sensors/", 3 },
        { "delete", Manifest.RunPrefix, 1 },
    };

    [Theory]
    [MemberData(nameof(Kills))]
    public Task A_pass_killed_at_any_step_is_finished_by_later_passes_with_each_event_once_in_order_and_no_orphan(string operation, string keyPrefix, int allowed) =>
        KillAndConvergeAsync(operation, keyPrefix, allowed);

    [Theory]
    [MemberData(nameof(Kills))]
    public Task A_node_killed_at_any_step_of_published_units_leaves_them_to_the_others_with_each_event_once_in_order_and_no_orphan(string operation, string keyPrefix, int allowed)
    {
        // Every batch and every sensor range is its own unit, so each step runs through claims and completions.
        _f.Options.UnitBytes = 1;
        _f.Options.UnitEvents = 1;
        _f.Options.MaxBatchesPerPass = 3;
        return KillAndConvergeAsync(operation, keyPrefix, allowed);
    }

    private async Task KillAndConvergeAsync(string operation, string keyPrefix, int allowed)
    {
        WriteBatches(7);
        var faulty = new FaultStore(_f.Store, operation, keyPrefix, allowed);
        var dying = _f.CreateRegrouper(faulty);

        // Looks until the fault strikes: 2026-11-20 is sealed at the first, 2026-11-21 stays open in runs.
        var died = false;
        for (var pass = 0; pass < 12 && !died; pass++)
        {
            try
            {
                await dying.LookAsync(Token);
                _f.Time.Advance(TimeSpan.FromMinutes(20));
            }
            catch (IOException)
            {
                died = true;
            }
        }

        Assert.True(died, $"the fault ({operation} {keyPrefix} after {allowed}) should have struck");
        await AssertConvergedAsync();
    }

    [Fact]
    public async Task Two_nodes_compacting_the_same_runs_at_once_commit_one_output_and_the_other_becomes_an_orphan_that_is_collected()
    {
        WriteBatches(3);
        _f.Options.Fanout = 50;
        var first = _f.CreateRegrouper();
        for (var i = 0; i < 3; i++)
        {
            await first.RunPassAsync(Token);
        }

        Assert.Equal(3, (await _f.ManifestAsync()).Runs.Count);
        _f.Options.Fanout = 3;
        var a = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));
        var b = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));
        await Task.WhenAll(Task.Run(() => a.LookAsync(Token), Token), Task.Run(() => b.RunPassAsync(Token), Token));

        var manifest = await _f.ManifestAsync();
        Assert.Equal([1], manifest.Runs.Select(r => r.Level));
        foreach (var ((sensor, day), seqs) in _expected)
        {
            Assert.Equal(seqs.Order(), (await _f.ReadDayAsync(sensor, day)).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
        }

        await AssertConvergedAsync();
    }

    [Fact]
    public async Task A_corrupt_sealed_sensor_day_is_quarantined_with_its_runs_kept_while_every_other_sensor_day_is_sealed()
    {
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = meters.GetRequiredService<IMeterFactory>();
        using var quarantined = new MetricCollector<long>(factory, IngestMetrics.MeterName, "regroup_quarantined_sensor_days");
        // Not gzip at all: what a disk or a hand-made copy can leave behind.
        await _f.Store.PutAsync("sensors/s1/2026-11-20.ndjson.gz", new MemoryStream([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]), WriteCondition.None, null, Token);
        WriteBatches(2);

        var report = await _f.CreateRegrouper(meters: factory).RunPassAsync(Token);
        quarantined.RecordObservableInstruments();

        Assert.Equal(1, report.Quarantined);
        Assert.Equal(1, quarantined.LastMeasurement?.Value);
        var entry = Assert.Single((await _f.ManifestAsync()).Quarantine);
        Assert.Equal(("s1", "2026-11-20"), (entry.SensorId, entry.Day));
        Assert.NotEmpty(entry.Runs);
        Assert.All(entry.Runs, run => Assert.Contains(_f.RunFiles(), f => f.EndsWith(run, StringComparison.Ordinal)));
        foreach (var sensor in new[] { "s0", "s2", "s3" })
        {
            Assert.Equal([0L, 1L], (await _f.ReadSealedAsync(sensor, "2026-11-20")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
        }

        Assert.Equal([100L, 101L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));

        // Once someone removes the bad object, the next seal of the day writes the sensor-day from its pinned runs.
        await _f.Store.DeleteAsync("sensors/s1/2026-11-20.ndjson.gz", Token);
        var healed = await _f.CreateRegrouper(meters: factory).RunPassAsync(Token);
        Assert.Equal(0, healed.Quarantined);
        Assert.Equal([0L, 1L], (await _f.ReadSealedAsync("s1", "2026-11-20")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
    }

    /// <summary>Fails one kind of call on keys under a prefix after it has let <c>allowed</c> of them through, as a node that dies there would.</summary>
    private sealed class FaultStore(IObjectStore inner, string operation, string keyPrefix, int allowed) : PassThroughStore(inner)
    {
        private int _calls;

        private void Strike(string op, string key)
        {
            if (op == operation && key.StartsWith(keyPrefix, StringComparison.Ordinal) && Interlocked.Increment(ref _calls) > allowed)
            {
                throw new IOException($"the node died at {op} {key}");
            }
        }

        public override Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
        {
            Strike("put", key);
            return base.PutAsync(key, content, condition, metadata, cancellationToken);
        }

        public override Task DeleteAsync(string key, CancellationToken cancellationToken)
        {
            Strike("delete", key);
            return base.DeleteAsync(key, cancellationToken);
        }
    }
}
