using System.Text.Json;
using IngestService.Events;
using IngestService.Regroup;
using IngestService.Storage;
using static IngestService.Tests.Regroup.RegroupFixture;

namespace IngestService.Tests.Regroup;

public sealed class RegrouperTests : IDisposable
{
    private readonly RegroupFixture _f = new();

    private CancellationToken Token => _f.Token;

    public void Dispose() => _f.Dispose();

    private static long? SeqOf(string line) => JsonDocument.Parse(line).RootElement.GetProperty("seq") is { ValueKind: JsonValueKind.Number } s ? s.GetInt64() : null;

    private async Task<byte[]> StoredBytesAsync(string key)
    {
        await using var stored = await _f.Store.GetAsync(key, Token);
        using var bytes = new MemoryStream();
        await stored!.Content.CopyToAsync(bytes, Token);
        return bytes.ToArray();
    }

    private static string TsOf(string line) => JsonDocument.Parse(line).RootElement.GetProperty("ts").GetString()!;

    [Fact]
    public async Task Of_copies_of_one_event_read_in_the_same_pass_the_earliest_received_is_kept_whatever_the_read_order()
    {
        // Batches are read several at a time, so which copy reaches the merge first varies; the kept copy must not.
        var resent = Line("s1", 7, "2026-11-21T10:00:00.000Z", Event(7, "2026-11-21T10:00:00Z"), receivedAt: "2026-11-21T12:00:05.000Z");
        var first = Line("s1", 7, "2026-11-21T10:00:00.000Z", Event(7, "2026-11-21T10:00:00Z"), receivedAt: "2026-11-21T12:00:01.000Z");
        _f.WriteRaw(resent);
        _f.WriteRaw(first);

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(1, report.DuplicatesDropped);
        var kept = Assert.Single(await _f.ReadDayAsync("s1", "2026-11-21"));
        Assert.Equal("2026-11-21T12:00:01.000Z", JsonDocument.Parse(kept).RootElement.GetProperty("receivedAt").GetString());
    }

    [Fact]
    public async Task Resent_events_are_stored_once_whether_or_not_they_have_a_seq()
    {
        var withSeq = Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z"));
        var withoutSeq = Line("s1", null, "2026-11-21T10:00:01.000Z", Event(null, "2026-11-21T10:00:01Z"));
        // The resend arrives later, with a different receivedAt, in another raw batch.
        var resent = Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z"), receivedAt: "2026-11-21T12:00:09.000Z");
        _f.WriteRaw(withSeq + withoutSeq);
        _f.WriteRaw(resent + withoutSeq + withSeq);

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal([withSeq.TrimEnd('\n'), withoutSeq.TrimEnd('\n')], await _f.ReadDayAsync("s1", "2026-11-21"));
        Assert.Equal(2, report.BatchesRead);
        Assert.Equal(5, report.Events);
        Assert.Equal(3, report.DuplicatesDropped);
        Assert.Equal(1, report.SensorDaysWritten);
    }

    [Fact]
    public async Task A_seq_sent_again_with_another_ts_is_still_one_event_and_the_stored_copy_stays()
    {
        var stored = Line("s1", 5, "2026-11-21T10:00:05.000Z", Event(5, "2026-11-21T10:00:05Z"));
        _f.WriteRaw(stored + Line("s1", 9, "2026-11-21T10:00:09.000Z", Event(9, "2026-11-21T10:00:09Z")));
        await _f.CreateRegrouper().RunPassAsync(Token);
        // The same seq now sorts before its stored copy, so the streaming merge meets the duplicate late.
        _f.WriteRaw(Line("s1", 5, "2026-11-21T10:00:01.000Z", Event(5, "2026-11-21T10:00:01Z"))
            + Line("s1", 7, "2026-11-21T10:00:07.000Z", Event(7, "2026-11-21T10:00:07Z")));

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        var day = await _f.ReadDayAsync("s1", "2026-11-21");
        Assert.Equal([5L, 7L, 9L], day.Select(SeqOf));
        Assert.Equal(stored.TrimEnd('\n'), day[0]);
        Assert.Equal(1, report.DuplicatesDropped);
    }

    [Fact]
    public async Task New_events_slot_in_between_stored_ones_and_after_the_last()
    {
        _f.WriteRaw(Line("s1", 2, "2026-11-21T10:00:02.000Z", Event(2, "2026-11-21T10:00:02Z"))
            + Line("s1", 4, "2026-11-21T10:00:04.000Z", Event(4, "2026-11-21T10:00:04Z")));
        await _f.CreateRegrouper().RunPassAsync(Token);
        _f.WriteRaw(Line("s1", 5, "2026-11-21T10:00:05.000Z", Event(5, "2026-11-21T10:00:05Z"))
            + Line("s1", 3, "2026-11-21T10:00:03.000Z", Event(3, "2026-11-21T10:00:03Z"))
            + Line("s1", 1, "2026-11-21T10:00:01.000Z", Event(1, "2026-11-21T10:00:01Z"))
            + Line("s1", 4, "2026-11-21T10:00:04.000Z", Event(4, "2026-11-21T10:00:04Z")));

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal([1L, 2L, 3L, 4L, 5L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
        Assert.Equal(1, report.DuplicatesDropped);
        var head = await _f.Store.HeadAsync("sensors/s1/2026-11-21.ndjson.gz", Token);
        Assert.Equal("5", head!.Metadata![SensorDayKey.EventsMetadata]);
    }

    [Fact]
    public async Task Same_ts_without_seq_but_different_bodies_are_different_events()
    {
        _f.WriteRaw(Line("s1", null, "2026-11-21T10:00:00.000Z", Event(null, "2026-11-21T10:00:00Z", 1))
            + Line("s1", null, "2026-11-21T10:00:00.000Z", Event(null, "2026-11-21T10:00:00Z", 2)));

        await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(2, (await _f.ReadDayAsync("s1", "2026-11-21")).Count);
    }

    [Fact]
    public async Task Events_out_of_order_and_across_midnight_land_in_their_own_days_ordered_by_ts_then_seq()
    {
        _f.WriteRaw(Line("s1", 5, "2026-11-22T00:00:00.000Z", Event(5, "2026-11-22T00:00:00Z"))
            + Line("s1", 3, "2026-11-21T23:59:59.999Z", Event(3, "2026-11-21T23:59:59.999Z")));
        _f.WriteRaw(Line("s1", 2, "2026-11-21T10:00:00.000Z", Event(2, "2026-11-21T10:00:00Z"))
            + Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z"))
            + Line("s1", 4, "2026-11-21T23:59:59.999Z", Event(4, "2026-11-21T23:59:59.999Z"))
            + Line("s2", 1, "2026-11-21T11:00:00.000Z", Event(1, "2026-11-21T11:00:00Z")), hour: "2026/11/21/11");

        await _f.CreateRegrouper().RunPassAsync(Token);

        var day1 = await _f.ReadDayAsync("s1", "2026-11-21");
        Assert.Equal([1L, 2L, 3L, 4L], day1.Select(SeqOf));
        Assert.Equal([5L], (await _f.ReadDayAsync("s1", "2026-11-22")).Select(SeqOf));
        Assert.Single(await _f.ReadDayAsync("s2", "2026-11-21"));
    }

    [Fact]
    public async Task A_second_pass_merges_new_batches_into_the_stored_day()
    {
        _f.WriteRaw(Line("s1", 2, "2026-11-21T10:00:02.000Z", Event(2, "2026-11-21T10:00:02Z")));
        await _f.CreateRegrouper().RunPassAsync(Token);
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:01.000Z", Event(1, "2026-11-21T10:00:01Z"))
            + Line("s1", 2, "2026-11-21T10:00:02.000Z", Event(2, "2026-11-21T10:00:02Z")));

        var second = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(1, second.BatchesRead);
        Assert.Equal(1, second.DuplicatesDropped);
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
        var head = await _f.Store.HeadAsync("sensors/s1/2026-11-21.ndjson.gz", Token);
        Assert.Equal("2", head!.Metadata![SensorDayKey.EventsMetadata]);
    }

    [Fact]
    public async Task Gzip_raw_batches_are_read_by_content_whatever_their_name()
    {
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")), gzip: true);
        _f.WriteRaw(Line("s1", 2, "2026-11-21T10:00:01.000Z", Event(2, "2026-11-21T10:00:01Z")), gzip: true, name: "firehose-1-2026-11-21-10-00-00-abc");

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(0, report.BadLines);
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
    }

    [Fact]
    public async Task Bad_lines_are_counted_and_skipped_and_the_good_ones_kept()
    {
        var good = Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z"));
        _f.WriteRaw(good
            + "not json at all\n"
            + Line("bad id!", 2, "2026-11-21T10:00:00.000Z", Event(2, "2026-11-21T10:00:00Z"))
            + Line("s1", 3, "yesterday", Event(3, "2026-11-21T10:00:00Z"))
            + "\n"
            + Line("s1", 4, "2026-11-21T10:00:04.000Z", Event(4, "2026-11-21T10:00:04Z"))[..40]);

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(4, report.BadLines);
        Assert.Equal(1, report.Events);
        Assert.Equal([good.TrimEnd('\n')], await _f.ReadDayAsync("s1", "2026-11-21"));
    }

    [Fact]
    public async Task A_batch_with_corrupt_gzip_counts_as_bad_and_does_not_stall_later_passes()
    {
        var folder = Path.Combine(_f.Root, "raw", "2026", "11", "21", "10");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "corrupt.gz"), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0x00, 0x12], Token);
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")));

        var first = await _f.CreateRegrouper().RunPassAsync(Token);
        var second = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(1, first.BadLines);
        Assert.Equal(0, first.Pending);
        Assert.Equal(0, second.BatchesRead);
        Assert.Single(await _f.ReadDayAsync("s1", "2026-11-21"));
    }

    [Fact]
    public async Task A_batch_that_ends_inside_a_gzip_member_stays_pending_and_is_merged_once_it_reads_whole()
    {
        string Seq(int i) => Line("s1", i, $"2026-11-21T10:00:0{i}.000Z", Event(i, $"2026-11-21T10:00:0{i}Z"));
        using var whole = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(whole, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(System.Text.Encoding.UTF8.GetBytes(Seq(1) + Seq(2) + Seq(3)));
        }

        var folder = Path.Combine(_f.Root, "raw", "2026", "11", "21", "10");
        Directory.CreateDirectory(folder);
        var cutFile = Path.Combine(folder, "ingest-raw-1-2026-11-21-10-00-00-cut");
        await File.WriteAllBytesAsync(cutFile, whole.ToArray()[..^5], Token);
        _f.WriteRaw(Seq(4));

        var first = await _f.CreateRegrouper().RunPassAsync(Token);
        var second = await _f.CreateRegrouper().RunPassAsync(Token);
        await File.WriteAllBytesAsync(cutFile, whole.ToArray(), Token);
        var healed = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(1, first.Pending);
        Assert.Equal(0, first.BadLines);
        Assert.Equal(1, second.Pending);
        Assert.Equal(0, healed.Pending);
        Assert.Equal([1L, 2L, 3L, 4L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
    }

    [Fact]
    public async Task A_pass_writes_each_touched_sensor_day_once_not_once_per_batch()
    {
        for (var i = 0; i < 10; i++)
        {
            _f.WriteRaw(Line("s1", i, $"2026-11-21T10:00:{i:D2}.000Z", Event(i, $"2026-11-21T10:00:{i:D2}Z"))
                + Line("s2", i, $"2026-11-21T10:00:{i:D2}.000Z", Event(i, $"2026-11-21T10:00:{i:D2}Z")));
        }

        var counting = new CountingStore(_f.Store);
        var report = await _f.CreateRegrouper(counting).RunPassAsync(Token);

        Assert.Equal(2, report.SensorDaysWritten);
        Assert.Equal(1, counting.Writes["sensors/s1/2026-11-21.ndjson.gz"]);
        Assert.Equal(1, counting.Writes["sensors/s2/2026-11-21.ndjson.gz"]);
        Assert.Equal(10, counting.Writes.Keys.Count(k => k.StartsWith(RegroupCursor.DonePrefix, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_pass_past_its_memory_budget_spills_by_sensor_and_still_writes_each_sensor_day_once_and_whole()
    {
        var expected = new List<long>();
        for (var b = 0; b < 5; b++)
        {
            var content = "";
            for (var i = 0; i < 7; i++)
            {
                var seq = (b * 7) + i;
                expected.Add(seq);
                foreach (var sensor in new[] { "s1", "s2", "s3" })
                {
                    content += Line(sensor, seq, $"2026-11-21T10:{b:D2}:{i:D2}.000Z", Event(seq, $"2026-11-21T10:{b:D2}:{i:D2}Z"));
                }
            }

            _f.WriteRaw(content);
        }

        _f.Options.MemoryBytes = 1;
        var counting = new CountingStore(_f.Store);
        var report = await _f.CreateRegrouper(counting).RunPassAsync(Token);

        foreach (var sensor in new[] { "s1", "s2", "s3" })
        {
            Assert.Equal(expected, (await _f.ReadDayAsync(sensor, "2026-11-21")).Select(l => SeqOf(l)!.Value));
            Assert.Equal(1, counting.Writes[$"sensors/{sensor}/2026-11-21.ndjson.gz"]);
        }

        Assert.Equal(0, report.Pending);
        Assert.Equal(5, report.BatchesRead);
    }

    [Fact]
    public async Task Spilled_events_keep_their_identity_so_resends_with_and_without_seq_are_stored_once()
    {
        var withSeq = Line("s1", 7, "2026-11-21T10:00:00.000Z", Event(7, "2026-11-21T10:00:00Z"));
        var withoutSeq = Line("s1", null, "2026-11-21T10:00:01.000Z", Event(null, "2026-11-21T10:00:01Z"));
        _f.WriteRaw(withSeq + withoutSeq);
        _f.WriteRaw(withoutSeq + withSeq);
        _f.Options.MemoryBytes = 1;

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(2, report.DuplicatesDropped);
        Assert.Equal(2, (await _f.ReadDayAsync("s1", "2026-11-21")).Count);
    }

    [Fact]
    public async Task A_flush_capped_per_pass_runs_passes_until_nothing_is_pending()
    {
        for (var b = 0; b < 5; b++)
        {
            _f.WriteRaw(Line("s1", b, $"2026-11-21T10:00:{b:D2}.000Z", Event(b, $"2026-11-21T10:00:{b:D2}Z")));
        }

        _f.Options.MaxBatchesPerPass = 2;
        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(5, report.BatchesRead);
        Assert.Equal(0, report.Pending);
        Assert.Equal(5, (await _f.ReadDayAsync("s1", "2026-11-21")).Count);
    }

    [Fact]
    public async Task Two_regroupers_racing_over_the_same_data_store_each_event_exactly_once()
    {
        var expected = new Dictionary<string, List<long>>();
        for (var b = 0; b < 40; b++)
        {
            var content = "";
            for (var s = 0; s < 5; s++)
            {
                // Overlapping batches: every event appears in two of them, as Firehose redelivery would do.
                foreach (var seq in new[] { b, b + 1 })
                {
                    content += Line($"s{s}", seq, $"2026-11-21T10:{seq / 60:D2}:{seq % 60:D2}.000Z", Event(seq, $"2026-11-21T10:{seq / 60:D2}:{seq % 60:D2}Z"));
                }
            }

            _f.WriteRaw(content);
        }

        _f.Options.MaxBatchesPerPass = 3;
        var first = _f.CreateRegrouper();
        // A second store instance has its own in-process locks, as another node's would be.
        var second = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root));

        var reports = await Task.WhenAll(Task.Run(() => first.RunPassAsync(Token), Token), Task.Run(() => second.RunPassAsync(Token), Token));

        for (var s = 0; s < 5; s++)
        {
            Assert.Equal(Enumerable.Range(0, 41).Select(i => (long)i), (await _f.ReadDayAsync($"s{s}", "2026-11-21")).Select(l => SeqOf(l)!.Value));
        }

        Assert.All(reports, r => Assert.Equal(0, r.Pending));
        var again = await _f.CreateRegrouper().RunPassAsync(Token);
        Assert.Equal(0, again.BatchesRead);
    }

    [Fact]
    public async Task Two_regroupers_merging_different_batches_into_the_same_days_at_once_lose_nothing()
    {
        // Each regrouper reads its own raw folder, so their writes to the shared sensor-days differ and only
        // conditional writes keep one from overwriting the other.
        for (var b = 0; b < 30; b++)
        {
            foreach (var (prefix, offset) in new[] { ("raw/", 0), ("raw2/", 1000) })
            {
                var content = "";
                for (var s = 0; s < 3; s++)
                {
                    var seq = offset + b;
                    content += Line($"s{s}", seq, $"2026-11-21T10:00:{b:D2}.000Z", Event(seq, $"2026-11-21T10:00:{b:D2}Z"));
                    content += Line($"s{s}", 5000, "2026-11-21T11:00:00.000Z", Event(5000, "2026-11-21T11:00:00Z"));
                }

                _f.WriteRaw(content, rawPrefix: prefix);
            }
        }

        _f.Options.MaxBatchesPerPass = 1;
        var first = _f.CreateRegrouper();
        var second = _f.CreateRegrouper(new FileSystemObjectStore(_f.Root), rawPrefix: "raw2/");

        await Task.WhenAll(Task.Run(() => first.RunPassAsync(Token), Token), Task.Run(() => second.RunPassAsync(Token), Token));

        var expected = Enumerable.Range(0, 30).Select(i => (long)i).Concat(Enumerable.Range(1000, 30).Select(i => (long)i)).Append(5000).Order();
        for (var s = 0; s < 3; s++)
        {
            Assert.Equal(expected, (await _f.ReadDayAsync($"s{s}", "2026-11-21")).Select(l => SeqOf(l)!.Value).Order());
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    public async Task A_pass_that_dies_after_some_writes_is_finished_by_the_next_with_nothing_lost_or_doubled(int writesBeforeDying)
    {
        for (var b = 0; b < 4; b++)
        {
            var content = "";
            for (var s = 0; s < 3; s++)
            {
                content += Line($"s{s}", b, $"2026-11-21T10:00:{b:D2}.000Z", Event(b, $"2026-11-21T10:00:{b:D2}Z"));
                content += Line($"s{s}", b + 100, $"2026-11-22T10:00:{b:D2}.000Z", Event(b + 100, $"2026-11-22T10:00:{b:D2}Z"));
            }

            _f.WriteRaw(content);
        }

        _f.Options.MaxBatchesPerPass = 2;
        _f.Options.MaxParallelWrites = 1;
        await Assert.ThrowsAsync<IOException>(() => _f.CreateRegrouper(new DyingStore(_f.Store, writesBeforeDying)).RunPassAsync(Token));

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(0, report.Pending);
        for (var s = 0; s < 3; s++)
        {
            Assert.Equal([0L, 1, 2, 3], (await _f.ReadDayAsync($"s{s}", "2026-11-21")).Select(l => SeqOf(l)!.Value));
            Assert.Equal([100L, 101, 102, 103], (await _f.ReadDayAsync($"s{s}", "2026-11-22")).Select(l => SeqOf(l)!.Value));
        }
    }

    [Fact]
    public async Task The_cursor_passes_settled_hours_and_their_markers_go_while_recent_ones_stay()
    {
        var old = _f.WriteRaw(Line("s1", 1, "2026-11-20T10:00:00.000Z", Event(1, "2026-11-20T10:00:00Z")), hour: "2026/11/20/10");
        var recent = _f.WriteRaw(Line("s1", 2, "2026-11-21T11:00:00.000Z", Event(2, "2026-11-21T11:00:00Z")), hour: "2026/11/21/11");
        _f.Time.SetUtcNow(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        _f.Options.CursorLag = TimeSpan.FromHours(6);

        await _f.CreateRegrouper().RunPassAsync(Token);

        await using (var cursor = await _f.Store.GetAsync(RegroupCursor.Key, Token))
        {
            using var reader = new StreamReader(cursor!.Content);
            Assert.Equal(old, await reader.ReadToEndAsync(Token));
        }

        Assert.Null(await _f.Store.HeadAsync(RegroupCursor.DonePrefix + old, Token));
        Assert.NotNull(await _f.Store.HeadAsync(RegroupCursor.DonePrefix + recent, Token));
        var next = await _f.CreateRegrouper().RunPassAsync(Token);
        Assert.Equal(0, next.BatchesRead);
        Assert.Single(await _f.ReadDayAsync("s1", "2026-11-20"));
    }

    [Fact]
    public async Task The_cursor_never_passes_a_batch_that_landed_in_an_hour_after_the_listing_even_when_the_pass_outlasts_the_lag()
    {
        _f.Options.CursorLag = TimeSpan.FromHours(1);
        // Half an hour before the fixture's noon: set back, which moving the clock cannot do.
        _f.Time.AdjustTime(new DateTimeOffset(2026, 11, 21, 11, 30, 0, TimeSpan.Zero));
        _f.WriteRaw(Line("s1", 2, "2026-11-21T10:59:00.000Z", Event(2, "2026-11-21T10:59:00Z")), name: "b.ndjson");
        // While the pass reads, an hour goes by (a long pass) and a retried delivery lands in the same hour folder,
        // under a name that sorts before the listed one.
        var landing = new OnFirstRawRead(_f.Store, () =>
        {
            _f.Time.Advance(TimeSpan.FromHours(1));
            _f.WriteRaw(Line("s1", 1, "2026-11-21T10:58:00.000Z", Event(1, "2026-11-21T10:58:00Z")), name: "a-late.ndjson");
        });

        await _f.CreateRegrouper(landing).RunPassAsync(Token);
        var next = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(1, next.BatchesRead);
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
        var (cursor, _) = await RegroupCursor.ReadAsync(_f.Store, Token);
        Assert.Equal("raw/2026/11/21/10/b.ndjson", cursor);
    }

    [Fact]
    public async Task A_batch_landing_hours_late_behind_newer_ones_is_still_merged_and_a_redelivered_batch_is_stored_once()
    {
        _f.Options.CursorLag = TimeSpan.FromHours(6);
        var line = Line("s1", 2, "2026-11-21T11:00:00.000Z", Event(2, "2026-11-21T11:00:00Z"));
        _f.WriteRaw(line, hour: "2026/11/21/11");
        await _f.CreateRegrouper().RunPassAsync(Token);

        _f.Time.Advance(TimeSpan.FromHours(3));
        _f.WriteRaw(Line("s1", 1, "2026-11-21T09:00:00.000Z", Event(1, "2026-11-21T09:00:00Z")), hour: "2026/11/21/09");
        _f.WriteRaw(line, hour: "2026/11/21/11");
        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(2, report.BatchesRead);
        Assert.Equal(1, report.DuplicatesDropped);
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
    }

    [Fact]
    public async Task A_raw_batch_where_plain_records_follow_gzip_members_is_read_whole()
    {
        // Firehose concatenates the records of every node: during a rolling upgrade, or with one node on
        // Aws:FirehoseCompression=None, plain lines follow gzip members, which a gzip reader would stop at.
        string Seq(int i) => Line("s1", i, $"2026-11-21T10:00:0{i}.000Z", Event(i, $"2026-11-21T10:00:0{i}Z"));
        using var raw = new MemoryStream();
        raw.Write(DelimitedMember(Seq(0)));
        raw.Write(System.Text.Encoding.UTF8.GetBytes(Seq(1) + Seq(2)));
        raw.Write(DelimitedMember(Seq(3) + Seq(4)));
        raw.Write(System.Text.Encoding.UTF8.GetBytes(Seq(5)));
        var folder = Path.Combine(_f.Root, "raw", "2026", "11", "21", "10");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "ingest-raw-1-2026-11-21-10-00-00-mixed"), raw.ToArray(), Token);

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(0, report.BadLines);
        Assert.Equal([0L, 1L, 2L, 3L, 4L, 5L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
    }

    [Fact]
    public async Task Members_that_state_their_length_are_plain_gzip_to_zcat()
    {
        var file = Path.Combine(_f.Root, "members.gz");
        await File.WriteAllBytesAsync(file, [.. DelimitedMember("one\n"), .. DelimitedMember("two\n")], Token);

        using var zcat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("gzip", ["-dc", file]) { RedirectStandardOutput = true })!;
        var output = await zcat.StandardOutput.ReadToEndAsync(Token);
        await zcat.WaitForExitAsync(Token);

        Assert.Equal(0, zcat.ExitCode);
        Assert.Equal("one\ntwo\n", output);
    }

    /// <summary>One gzip member as <c>GzipRecords</c> writes a Firehose record: compressed, then its length added.</summary>
    private static byte[] DelimitedMember(string lines)
    {
        var buffer = new byte[64 * 1024];
        var output = new MemoryStream(buffer, DelimitedGzip.ExtraLength, buffer.Length - DelimitedGzip.ExtraLength, writable: true);
        using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(System.Text.Encoding.UTF8.GetBytes(lines));
        }

        return buffer[..DelimitedGzip.AddLength(buffer, (int)output.Position)];
    }

    [Fact]
    public async Task A_raw_batch_of_many_gzip_members_as_compressed_Firehose_records_make_is_read_whole()
    {
        using var raw = new MemoryStream();
        for (var i = 0; i < 3; i++)
        {
            using var member = new System.IO.Compression.GZipStream(raw, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true);
            member.Write(System.Text.Encoding.UTF8.GetBytes(Line("s1", i, $"2026-11-21T10:00:0{i}.000Z", Event(i, $"2026-11-21T10:00:0{i}Z"))));
        }

        var folder = Path.Combine(_f.Root, "raw", "2026", "11", "21", "10");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "ingest-raw-1-2026-11-21-10-00-00-x"), raw.ToArray(), Token);

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(3, report.Events);
        Assert.Equal([0L, 1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
    }

    [Fact]
    public async Task Later_events_are_appended_as_a_gzip_member_and_the_day_still_reads_as_one_ordered_stream_with_true_counts()
    {
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")) + Line("s1", 2, "2026-11-21T10:00:01.000Z", Event(2, "2026-11-21T10:00:01Z")));
        await _f.CreateRegrouper().RunPassAsync(Token);
        var before = await StoredBytesAsync("sensors/s1/2026-11-21.ndjson.gz");

        _f.WriteRaw(Line("s1", 3, "2026-11-21T11:00:00.000Z", Event(3, "2026-11-21T11:00:00Z")) + Line("s1", null, "2026-11-21T11:00:01.000Z", Event(null, "2026-11-21T11:00:01Z")));
        await _f.CreateRegrouper().RunPassAsync(Token);

        var after = (await _f.Store.HeadAsync("sensors/s1/2026-11-21.ndjson.gz", Token))!;
        var appended = await StoredBytesAsync("sensors/s1/2026-11-21.ndjson.gz");

        // The stored day's bytes are the start of the new one: it was appended to, not rewritten.
        Assert.True(appended.Length > before.Length);
        Assert.Equal(before, appended[..before.Length]);
        Assert.Equal(["1", "2", "3", "null"], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"));
        Assert.Equal("4", after.Metadata![SensorDayKey.EventsMetadata]);
    }

    [Fact]
    public async Task A_resent_last_event_or_a_repeated_seq_with_a_later_ts_is_not_appended_twice()
    {
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")) + Line("s1", 2, "2026-11-21T10:00:01.000Z", Event(2, "2026-11-21T10:00:01Z")));
        await _f.CreateRegrouper().RunPassAsync(Token);

        _f.WriteRaw(Line("s1", 2, "2026-11-21T10:00:01.000Z", Event(2, "2026-11-21T10:00:01Z")) + Line("s1", 1, "2026-11-21T12:00:00.000Z", Event(1, "2026-11-21T12:00:00Z")));
        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(2, report.DuplicatesDropped);
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
    }

    [Fact]
    public async Task Days_order_by_ts_and_put_events_without_seq_first_on_a_tie()
    {
        _f.WriteRaw(Line("s1", 7, "2026-11-21T10:00:00.000Z", Event(7, "2026-11-21T10:00:00Z"))
            + Line("s1", null, "2026-11-21T10:00:00.000Z", Event(null, "2026-11-21T10:00:00Z"))
            + Line("s1", 1, "2026-11-21T09:00:00.000Z", Event(1, "2026-11-21T09:00:00Z")));

        await _f.CreateRegrouper().RunPassAsync(Token);

        var day = await _f.ReadDayAsync("s1", "2026-11-21");
        Assert.Equal([1L, null, 7L], day.Select(SeqOf));
        Assert.Equal("2026-11-21T09:00:00.000Z", TsOf(day[0]));
    }
}
