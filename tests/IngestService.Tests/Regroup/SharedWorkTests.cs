using System.Text.Json;
using IngestService.Storage;
using IngestService.Storage.Runs;
using static IngestService.Tests.Regroup.RegroupFixture;

namespace IngestService.Tests.Regroup;

/// <summary>
/// Scale-out: a backlog of raw batches, a tier's further compactions and a large day's seal are published in the
/// manifest as units that every node claims, so several nodes share the work, each event still stored once.
/// </summary>
public sealed class SharedWorkTests : IDisposable
{
    private readonly RegroupFixture _f = new();
    private readonly Dictionary<(string Sensor, string Day), List<long>> _expected = [];

    public SharedWorkTests()
    {
        // Which node does which unit is what these tests check: each node works one unit at a time, except in the
        // test of a node's own parallel units.
        _f.Options.MaxParallelUnits = 1;
    }

    private CancellationToken Token => _f.Token;

    public void Dispose() => _f.Dispose();

    /// <summary>One raw batch per call: each sensor one event of each day.</summary>
    private void WriteBatch(int batch, int sensors, params string[] days)
    {
        var content = "";
        foreach (var day in days)
        {
            for (var s = 0; s < sensors; s++)
            {
                var ts = $"{day}T10:{batch:D2}:00.000Z";
                content += Line($"s{s}", batch, ts, Event(batch, ts));
                if (!_expected.TryGetValue(($"s{s}", day), out var seqs))
                {
                    _expected[($"s{s}", day)] = seqs = [];
                }

                seqs.Add(batch);
            }
        }

        _f.WriteRaw(content);
    }

    /// <summary>Four raw batches of three sensors' events of one day: with <c>Regroup:UnitBytes</c> 1, four units.</summary>
    private void WriteBacklog(string day)
    {
        for (var b = 0; b < 4; b++)
        {
            WriteBatch(b, 3, day);
        }
    }

    private async Task AssertEveryEventOnceInOrderAsync()
    {
        foreach (var ((sensor, day), seqs) in _expected)
        {
            var read = (await _f.ReadDayAsync(sensor, day)).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64());
            Assert.Equal(seqs.Order(), read);
        }
    }

    [Fact]
    public async Task A_backlog_below_a_unit_is_read_by_the_pass_alone_with_nothing_published()
    {
        for (var b = 0; b < 3; b++)
        {
            WriteBatch(b, 2, "2026-11-21");
        }

        var report = await _f.CreateRegrouper().LookAsync(Token);

        Assert.Equal((3, 1, 0), (report.BatchesRead, report.RunsWritten, report.Units));
        Assert.Empty((await _f.ManifestAsync()).Work);
        await AssertEveryEventOnceInOrderAsync();
    }

    [Fact]
    public async Task A_backlog_above_a_unit_is_published_and_another_node_reads_what_the_holder_has_not_claimed()
    {
        _f.Options.UnitBytes = 1;
        WriteBacklog("2026-11-21");

        var gated = new GateStore(_f.Store, (op, key) => op == "get" && key.StartsWith("raw/", StringComparison.Ordinal));
        var holder = _f.CreateRegrouper(gated);
        var helper = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));
        var holding = Task.Run(() => holder.LookAsync(Token), Token);
        await gated.Blocked.WaitAsync(Token);

        // The holder has published four units and is stuck reading its first; the helper looks every other look.
        var idle = await helper.LookAsync(Token);
        var helped = await helper.LookAsync(Token);
        gated.Open();
        var held = await holding;

        Assert.False(idle.Merged);
        Assert.Equal((1, 3), (held.Units, helped.Units));
        Assert.Equal(3, helped.RunsWritten);
        var manifest = await _f.ManifestAsync();
        Assert.Empty(manifest.Work);
        Assert.Equal(4, manifest.Runs.Count);
        await AssertEveryEventOnceInOrderAsync();
    }

    [Fact]
    public async Task A_flush_whose_batches_another_node_published_meanwhile_answers_only_once_their_units_are_done()
    {
        _f.Options.UnitBytes = 1;
        await _f.CreateRegrouper().RunPassAsync(Token);
        WriteBacklog("2026-11-21");

        // The flushing node reads the manifest (no unit yet), lists the batches, and waits before its commit.
        var manifestGets = 0;
        var beforeCommit = new GateStore(_f.Store, (op, key) => op == "get" && key == Manifest.Key && Interlocked.Increment(ref manifestGets) == 2);
        var holderReads = new GateStore(new FileSystemObjectStore(_f.Root), (op, key) => op == "get" && key.StartsWith("raw/", StringComparison.Ordinal));
        // The holder's first unit stays claimed until the flushing node reads a unit's batch itself.
        var flushing = Task.Run(() => _f.CreateRegrouper(new OnFirstRawRead(beforeCommit, holderReads.Open)).RunPassAsync(Token), Token);
        await beforeCommit.Blocked.WaitAsync(Token);
        // Meanwhile the lease holder publishes the same batches as four units and claims the first.
        var holding = Task.Run(() => _f.CreateRegrouper(holderReads).LookAsync(Token), Token);
        await holderReads.Blocked.WaitAsync(Token);
        beforeCommit.Open();

        // The flush's commit has nothing to add; it must still work or wait for the units it found, not answer at once.
        var flushed = await flushing;
        var workLeft = (await _f.ManifestAsync()).Work.Count;
        holderReads.Open();
        var held = await holding;

        Assert.Equal(0, workLeft);
        Assert.Equal(4, flushed.Units + held.Units);
        Assert.InRange(flushed.Units, 1, 3);
        await AssertEveryEventOnceInOrderAsync();
    }

    [Fact]
    public async Task The_holder_neither_seals_nor_compacts_a_due_day_while_raw_units_are_in_work_so_each_sensor_day_is_written_once()
    {
        _f.Options.UnitBytes = 1;
        _f.Options.Fanout = 2;
        WriteBacklog("2026-11-20");

        var counting = new CountingStore(_f.Store);
        var holderReads = new GateStore(counting, (op, key) => op == "get" && key.StartsWith("raw/", StringComparison.Ordinal));
        var helperReads = new GateStore(new FileSystemObjectStore(_f.Root), (op, key) => op == "get" && key.StartsWith("raw/", StringComparison.Ordinal));
        var holder = _f.CreateRegrouper(holderReads);
        var helper = _f.CreateRegrouper(helperReads);
        var holding = Task.Run(() => holder.LookAsync(Token), Token);
        await holderReads.Blocked.WaitAsync(Token);
        await helper.LookAsync(Token);
        var helping = Task.Run(() => helper.LookAsync(Token), Token);
        await helperReads.Blocked.WaitAsync(Token);

        // The holder reads the units left and finds yesterday due, and two of its runs a full tier, while the helper
        // still reads its unit.
        holderReads.Open();
        var early = await holding;
        helperReads.Open();
        await helping;
        var late = await holder.LookAsync(Token);

        Assert.Equal((3, 0, 0), (early.Units, early.SensorDaysWritten, early.Compactions));
        Assert.Equal(3, late.SensorDaysWritten);
        Assert.All(Enumerable.Range(0, 3), s => Assert.Equal(1, counting.Writes[$"sensors/s{s}/2026-11-20.ndjson.gz"]));
        await AssertEveryEventOnceInOrderAsync();
    }

    [Fact]
    public async Task A_due_day_waits_for_the_raw_units_in_work_when_it_fell_due_and_not_for_units_published_after()
    {
        WriteBatch(0, 3, "2026-11-21");
        await _f.CreateRegrouper().LookAsync(Token);
        _f.Time.Advance(TimeSpan.FromDays(1));
        var sealer = _f.CreateSealer();
        var manifest = await _f.ManifestAsync();
        static WorkUnit Raw(string id) => new() { Id = id, Kind = WorkKind.Raw, Keys = [$"raw/{id}"] };

        manifest.Work.Add(Raw("a"));
        var waiting = await sealer.SealDueAsync(manifest, force: false, Token);
        // A busy fleet publishes a unit at every pass: the day waits for "a", which was in work when it fell due, only.
        manifest.Work.Add(Raw("b"));
        var stillWaiting = await sealer.SealDueAsync(manifest, force: false, Token);
        manifest.Work.RemoveAll(u => u.Id == "a");
        var sealing = await sealer.SealDueAsync(manifest, force: false, Token);

        Assert.Equal((0, 0, 3), (waiting.SensorDaysWritten, stillWaiting.SensorDaysWritten, sealing.SensorDaysWritten));
        await AssertEveryEventOnceInOrderAsync();
    }

    [Fact]
    public async Task One_node_works_as_many_units_at_once_as_it_is_allowed_and_no_more()
    {
        _f.Options.UnitBytes = 1;
        _f.Options.MaxParallelUnits = 2;
        WriteBacklog("2026-11-21");

        // A unit a batch: the first raw read waits until a second unit's read has started beside it.
        var meeting = new MeetingStore(_f.Store, meet: 2);
        var looking = _f.CreateRegrouper(meeting).RunPassAsync(Token);
        await meeting.Met.WaitAsync(TimeSpan.FromSeconds(30), Token);
        var report = await looking;

        Assert.Equal((4, 4, 2), (report.Units, report.RunsWritten, meeting.MostAtOnce));
        Assert.Empty((await _f.ManifestAsync()).Work);
        await AssertEveryEventOnceInOrderAsync();
    }

    [Fact]
    public async Task A_unit_whose_node_died_holding_it_is_taken_over_once_its_claim_lapses()
    {
        _f.Options.UnitBytes = 1;
        for (var b = 0; b < 2; b++)
        {
            WriteBatch(b, 2, "2026-11-21");
        }

        // Publishing and the first claim are two manifest writes; then the node dies before its run is stored.
        var dying = _f.CreateRegrouper(new DyingStore(_f.Store, allowedPuts: 3));
        await Assert.ThrowsAsync<IOException>(() => dying.LookAsync(Token));
        var claimed = Assert.Single((await _f.ManifestAsync()).Work, u => u.Owner is not null);

        var other = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));
        var first = (await other.LookAsync(Token)).Units + (await other.LookAsync(Token)).Units;
        Assert.Equal(1, first);
        Assert.Equal(claimed.Id, Assert.Single((await _f.ManifestAsync()).Work).Id);

        _f.Time.Advance(_f.Options.LeaseDuration);
        var takeover = await other.RunPassAsync(Token);

        Assert.Equal(1, takeover.Units);
        Assert.Empty((await _f.ManifestAsync()).Work);
        await AssertEveryEventOnceInOrderAsync();
    }

    [Fact]
    public async Task A_claim_renewal_the_store_refuses_leaves_the_unit_to_finish_and_the_look_to_succeed()
    {
        _f.Options.UnitBytes = 1;
        for (var b = 0; b < 2; b++)
        {
            WriteBatch(b, 2, "2026-11-21");
        }

        var store = new RefusingManifestWrites(_f.Store);
        var looking = Task.Run(() => _f.CreateRegrouper(store).LookAsync(Token), Token);
        await store.Reading.Task.WaitAsync(Token);
        // The node is reading its first unit when the claim is due for renewal, and the store refuses that write.
        store.Refusing = true;
        _f.Time.Advance(_f.Options.LeaseDuration / 3);
        await store.Refused.Task.WaitAsync(Token);
        store.Refusing = false;
        store.Release.SetResult();
        var report = await looking;

        Assert.Equal((2, 2), (report.Units, report.RunsWritten));
        Assert.Empty((await _f.ManifestAsync()).Work);
        await AssertEveryEventOnceInOrderAsync();
    }

    [Fact]
    public async Task A_large_day_is_sealed_in_sensor_ranges_by_two_nodes_each_sensor_day_written_once_and_the_day_left_in_runs_until_the_last_range()
    {
        _f.Options.UnitEvents = 4;
        for (var b = 0; b < 2; b++)
        {
            WriteBatch(b, 6, "2026-11-21");
        }

        await _f.CreateRegrouper().LookAsync(Token);
        _f.Time.Advance(TimeSpan.FromHours(13));
        var counting = new CountingStore(_f.Store);
        var gated = new GateStore(counting, (op, key) => op == "put" && key.StartsWith("sensors/", StringComparison.Ordinal));
        var holder = _f.CreateRegrouper(gated);
        var helper = _f.CreateRegrouper(counting);
        var flushing = Task.Run(() => holder.RunPassAsync(Token), Token);
        await gated.Blocked.WaitAsync(Token);

        // Six sensors of two events: ranges s0–s1, s2–s3, s4–s5. The holder is writing the first; the helper seals the rest.
        var helped = (await helper.LookAsync(Token)).Units + (await helper.LookAsync(Token)).Units;
        var midway = await _f.ManifestAsync();
        Assert.Equal(2, helped);
        Assert.Contains(midway.Runs, r => r.Days.Contains("2026-11-21"));
        Assert.False(midway.Sealed.ContainsKey("2026-11-21"));
        await AssertEveryEventOnceInOrderAsync();

        gated.Open();
        var flushed = await flushing;

        Assert.Equal(1, flushed.Units);
        var manifest = await _f.ManifestAsync();
        Assert.Empty(manifest.Work);
        Assert.True(manifest.Sealed.ContainsKey("2026-11-21"));
        Assert.DoesNotContain(manifest.Runs, r => r.Days.Contains("2026-11-21"));
        Assert.All(Enumerable.Range(0, 6), s => Assert.Equal(1, counting.Writes[$"sensors/s{s}/2026-11-21.ndjson.gz"]));
        await AssertEveryEventOnceInOrderAsync();
    }

    [Fact]
    public async Task A_tier_with_more_than_one_full_group_publishes_the_rest_and_another_node_compacts_them()
    {
        _f.Options.Fanout = 50;
        var first = _f.CreateRegrouper();
        for (var b = 0; b < 4; b++)
        {
            WriteBatch(b, 2, "2026-11-21");
            await first.RunPassAsync(Token);
        }

        _f.Options.Fanout = 2;
        var gated = new GateStore(_f.Store, (op, key) => op == "put" && key.StartsWith(Manifest.RunPrefix + "L1/", StringComparison.Ordinal));
        var holder = _f.CreateRegrouper(gated);
        var helper = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));
        var looking = Task.Run(() => holder.LookAsync(Token), Token);
        await gated.Blocked.WaitAsync(Token);

        var helped = (await helper.LookAsync(Token)).Compactions + (await helper.LookAsync(Token)).Compactions;
        gated.Open();
        var held = await looking;

        // The holder compacted the first group, the helper the published second; the holder may then merge the two a tier up.
        Assert.Equal(1, helped);
        Assert.InRange(held.Compactions, 1, 2);
        var manifest = await _f.ManifestAsync();
        Assert.Empty(manifest.Work);
        Assert.DoesNotContain(manifest.Runs, r => r.Level == 0);
        await AssertEveryEventOnceInOrderAsync();
    }

    /// <summary>Holds raw reads until <c>meet</c> of them are in flight at once; counts the most that ever were.</summary>
    private sealed class MeetingStore(IObjectStore inner, int meet) : PassThroughStore(inner)
    {
        private readonly TaskCompletionSource _met = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _inFlight;
        private int _mostAtOnce;

        public Task Met => _met.Task;

        public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

        public override async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
        {
            if (!key.StartsWith("raw/", StringComparison.Ordinal))
            {
                return await base.GetAsync(key, cancellationToken);
            }

            var now = Interlocked.Increment(ref _inFlight);
            InterlockedMax(ref _mostAtOnce, now);
            try
            {
                if (now >= meet)
                {
                    _met.TrySetResult();
                }

                await _met.Task.WaitAsync(cancellationToken);
                return await base.GetAsync(key, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
            {
            }
        }
    }

    /// <summary>Holds the first raw read until released; while <see cref="Refusing"/>, fails every manifest write.</summary>
    private sealed class RefusingManifestWrites(IObjectStore inner) : PassThroughStore(inner)
    {
        private int _held;

        public TaskCompletionSource Reading { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Refused { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Refusing { get; set; }

        public override async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
        {
            if (key.StartsWith("raw/", StringComparison.Ordinal) && Interlocked.Exchange(ref _held, 1) == 0)
            {
                Reading.SetResult();
                await Release.Task.WaitAsync(cancellationToken);
            }

            return await base.GetAsync(key, cancellationToken);
        }

        public override Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
        {
            if (Refusing && key == Manifest.Key)
            {
                Refused.TrySetResult();
                throw new IOException("the store refused the write");
            }

            return base.PutAsync(key, content, condition, metadata, cancellationToken);
        }
    }

    /// <summary>Holds the first matching call until <see cref="Open"/>, as a node busy (or slow) there would.</summary>
    private sealed class GateStore(IObjectStore inner, Func<string, string, bool> matches) : PassThroughStore(inner)
    {
        private readonly TaskCompletionSource _blocked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _held;

        public Task Blocked => _blocked.Task;

        public void Open() => _open.TrySetResult();

        private async Task WaitAsync(string op, string key)
        {
            if (matches(op, key) && Interlocked.Exchange(ref _held, 1) == 0)
            {
                _blocked.TrySetResult();
                await _open.Task;
            }
        }

        public override async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
        {
            await WaitAsync("get", key);
            return await base.GetAsync(key, cancellationToken);
        }

        public override async Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
        {
            await WaitAsync("put", key);
            return await base.PutAsync(key, content, condition, metadata, cancellationToken);
        }
    }
}
