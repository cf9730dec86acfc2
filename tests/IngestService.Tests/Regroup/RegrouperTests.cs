using System.Text.Json;
using IngestService.Events;
using IngestService.Storage;
using IngestService.Storage.Runs;
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

    /// <summary>After the day has ended: a flush seals it.</summary>
    private void AfterTheDay() => _f.Time.SetUtcNow(new DateTimeOffset(2026, 11, 23, 1, 0, 0, TimeSpan.Zero));

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
        Assert.Equal(1, report.RunsWritten);
        Assert.Equal(0, report.SensorDaysWritten);
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
        // Both copies are in runs: the read keeps the one that sorts first, and so does the seal.
        Assert.Equal(Line("s1", 5, "2026-11-21T10:00:01.000Z", Event(5, "2026-11-21T10:00:01Z")).TrimEnd('\n'), day[0]);
        Assert.Equal(0, report.DuplicatesDropped);
        AfterTheDay();
        var seal = await _f.CreateRegrouper().RunPassAsync(Token);
        Assert.Equal(1, seal.DuplicatesDropped);
        Assert.Equal(day, await _f.ReadSealedAsync("s1", "2026-11-21"));
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

        await _f.CreateRegrouper().RunPassAsync(Token);
        Assert.Equal([1L, 2L, 3L, 4L, 5L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
        AfterTheDay();
        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(1, report.DuplicatesDropped);
        Assert.Equal([1L, 2L, 3L, 4L, 5L], (await _f.ReadSealedAsync("s1", "2026-11-21")).Select(SeqOf));
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
    public async Task A_second_pass_writes_a_second_run_and_reads_merge_the_two()
    {
        _f.WriteRaw(Line("s1", 2, "2026-11-21T10:00:02.000Z", Event(2, "2026-11-21T10:00:02Z")));
        await _f.CreateRegrouper().RunPassAsync(Token);
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:01.000Z", Event(1, "2026-11-21T10:00:01Z"))
            + Line("s1", 2, "2026-11-21T10:00:02.000Z", Event(2, "2026-11-21T10:00:02Z")));

        var second = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(1, second.BatchesRead);
        Assert.Equal(1, second.RunsWritten);
        Assert.Equal(2, (await _f.ManifestAsync()).Runs.Count);
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(SeqOf));
        Assert.Null(await _f.Store.HeadAsync("sensors/s1/2026-11-21.ndjson.gz", Token));
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
    public async Task A_pass_writes_one_run_for_all_its_batches_and_sensors_and_no_sensor_day_while_the_day_is_open()
    {
        for (var i = 0; i < 10; i++)
        {
            _f.WriteRaw(Line("s1", i, $"2026-11-21T10:00:{i:D2}.000Z", Event(i, $"2026-11-21T10:00:{i:D2}Z"))
                + Line("s2", i, $"2026-11-21T10:00:{i:D2}.000Z", Event(i, $"2026-11-21T10:00:{i:D2}Z")));
        }

        var counting = new CountingStore(_f.Store);
        var report = await _f.CreateRegrouper(counting).RunPassAsync(Token);

        Assert.Equal(0, report.SensorDaysWritten);
        Assert.Equal(1, counting.Writes.Keys.Count(k => k.StartsWith(Manifest.RunPrefix, StringComparison.Ordinal)));
        Assert.Equal(1, counting.Writes[Manifest.Key]);
        Assert.Equal(2, counting.Writes.Count);
        Assert.Equal(10, (await _f.ReadDayAsync("s2", "2026-11-21")).Count);
    }

    [Fact]
    public async Task A_pass_past_its_memory_budget_sorts_through_scratch_files_and_each_sensor_day_is_sealed_once_and_whole()
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
        AfterTheDay();
        await _f.CreateRegrouper(counting).RunPassAsync(Token);
        await _f.CreateRegrouper(counting).RunPassAsync(Token);

        foreach (var sensor in new[] { "s1", "s2", "s3" })
        {
            Assert.Equal(expected, (await _f.ReadSealedAsync(sensor, "2026-11-21")).Select(l => SeqOf(l)!.Value));
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

    // 0: dies writing the first run; 1: after the run PUT, before its manifest commit; 2: after the commit, writing
    // the second pass's run; 3: after that run, before its commit.
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
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
    public async Task The_floor_passes_consumed_batches_once_they_settle_so_a_pass_lists_minutes_of_keys_not_the_day_behind()
    {
        _f.Time.SetUtcNow(new DateTimeOffset(2026, 11, 21, 12, 30, 0, TimeSpan.Zero));
        var old = _f.WriteRaw(Line("s1", 1, "2026-11-21T12:00:00.000Z", Event(1, "2026-11-21T12:00:00Z")), hour: "2026/11/21/12", name: "ingest-local-2026-11-21-12-00-00-a.ndjson");
        var recent = _f.WriteRaw(Line("s1", 2, "2026-11-21T12:29:50.000Z", Event(2, "2026-11-21T12:29:50Z")), hour: "2026/11/21/12", name: "ingest-local-2026-11-21-12-29-50-b.ndjson");

        await _f.CreateRegrouper().RunPassAsync(Token);
        var manifest = await _f.ManifestAsync();

        // The old batch settled (its name time is more than DeliveryLag + a minute behind); the recent one may still
        // have neighbours landing before it, so it stays listed, consumed.
        Assert.Equal(old, manifest.RawFloor);
        Assert.Equal([recent], manifest.Consumed);
        Assert.Equal(_f.Now, manifest.Watermark);
        _f.Time.Advance(TimeSpan.FromMinutes(2));
        var next = await _f.CreateRegrouper().RunPassAsync(Token);
        Assert.Equal(0, next.BatchesRead);
        Assert.Equal(recent, (await _f.ManifestAsync()).RawFloor);
        Assert.Empty((await _f.ManifestAsync()).Consumed);
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
    }

    [Fact]
    public async Task A_store_the_issue_12_design_wrote_starts_from_its_cursor_and_done_markers_instead_of_reading_every_raw_batch_again()
    {
        var before = _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")));
        var marked = _f.WriteRaw(Line("s1", 2, "2026-11-21T10:00:01.000Z", Event(2, "2026-11-21T10:00:01Z")));
        var pending = _f.WriteRaw(Line("s1", 3, "2026-11-21T10:00:02.000Z", Event(3, "2026-11-21T10:00:02Z")));
        await _f.Store.PutAsync("_ingest/regroup/cursor", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(before)), WriteCondition.None, null, Token);
        await _f.Store.PutAsync("_ingest/done/" + marked, Stream.Null, WriteCondition.None, null, Token);

        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(1, report.BatchesRead);
        Assert.Equal([3L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
        Assert.Equal(pending, (await _f.ManifestAsync()).RawFloor);
    }

    [Fact]
    public async Task A_batch_Firehose_delivers_20_hours_late_behind_the_floor_is_read_by_the_next_pass_its_day_sealed_again_and_a_redelivery_stored_once()
    {
        _f.Options.DeliveryLag = TimeSpan.FromMinutes(15);
        _f.Options.LateWindow = TimeSpan.FromHours(26);
        _f.Options.ResealAfter = TimeSpan.FromMinutes(50);
        var on = Line("s1", 2, "2026-11-21T10:00:00.000Z", Event(2, "2026-11-21T10:00:00Z"));
        _f.WriteRaw(on, name: "ingest-raw-1-2026-11-21-10-00-00-z");
        _f.Time.SetUtcNow(new DateTimeOffset(2026, 11, 22, 1, 0, 0, TimeSpan.Zero));
        var regrouper = _f.CreateRegrouper();
        await regrouper.LookAsync(Token);
        Assert.Equal([on.TrimEnd('\n')], await _f.ReadSealedAsync("s1", "2026-11-21"));

        // Firehose could not reach S3 for 20 hours; the batch lands in the folder of the hour its records arrived,
        // far behind the floor, and so does a redelivery of the batch already read.
        _f.Time.SetUtcNow(new DateTimeOffset(2026, 11, 22, 6, 0, 0, TimeSpan.Zero));
        _f.WriteRaw(Line("s1", 1, "2026-11-21T09:59:00.000Z", Event(1, "2026-11-21T09:59:00Z")), name: "ingest-raw-1-2026-11-21-10-00-00-late");
        _f.WriteRaw(on, name: "ingest-raw-1-2026-11-21-10-00-00-redelivered");
        var found = await regrouper.LookAsync(Token);

        // The day was sealed more than Regroup:ResealAfter ago, so the same look seals the late event in.
        Assert.Equal(2, found.BatchesRead);
        Assert.Equal(1, found.SensorDaysWritten);
        Assert.Equal([1L, 2L], (await _f.ReadSealedAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
        Assert.DoesNotContain((await _f.ManifestAsync()).Runs, r => r.Days.Contains("2026-11-21"));
    }

    [Fact]
    public async Task The_late_window_is_listed_every_late_sweep_interval_not_every_pass_and_a_batch_landing_between_sweeps_is_still_found()
    {
        // Lands behind the floor a minute after the last sweep: the passes before the next sweep do not list it.
        var regrouper = await LateBatchAMinuteAfterASweepAsync(TimeSpan.FromMinutes(5));
        var between = new List<int>();
        for (var minute = 1; minute < 5; minute++)
        {
            between.Add((await regrouper.LookAsync(Token)).BatchesRead);
            _f.Time.Advance(TimeSpan.FromMinutes(1));
        }

        var swept = await regrouper.LookAsync(Token);

        Assert.Equal([0, 0, 0, 0], between);
        Assert.Equal(1, swept.BatchesRead);
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
        Assert.Equal(_f.Now, (await _f.ManifestAsync()).SweptAt);
    }

    /// <summary>A batch landed within its delivery lag, then ten minutes pass: the first look moves the floor over it.</summary>
    private void OnTimeBatchBehindTheFloor()
    {
        _f.WriteRaw(Line("s1", 2, "2026-11-21T11:50:00.000Z", Event(2, "2026-11-21T11:50:00Z")), hour: "2026/11/21/11", name: "ingest-raw-1-2026-11-21-11-50-00-z");
        _f.Time.Advance(TimeSpan.FromMinutes(10));
    }

    /// <summary>
    /// With Firehose's lags and a 26-hour late window: a look that sweeps (and moves the floor over an on-time batch),
    /// then, a minute later, a batch of an earlier hour lands behind the floor.
    /// </summary>
    private async Task<IngestService.Regroup.Regrouper> LateBatchAMinuteAfterASweepAsync(TimeSpan sweepInterval)
    {
        _f.Options.DeliveryLag = TimeSpan.FromMinutes(15);
        _f.Options.LateWindow = TimeSpan.FromHours(26);
        _f.Options.LateSweepInterval = sweepInterval;
        OnTimeBatchBehindTheFloor();
        var regrouper = _f.CreateRegrouper();
        await regrouper.LookAsync(Token);
        _f.Time.Advance(TimeSpan.FromMinutes(1));
        _f.WriteRaw(Line("s1", 1, "2026-11-21T09:59:00.000Z", Event(1, "2026-11-21T09:59:00Z")), name: "ingest-raw-1-2026-11-21-10-00-00-late");
        return regrouper;
    }

    [Fact]
    public async Task A_flush_lists_the_late_window_whenever_the_last_sweep_was()
    {
        var regrouper = await LateBatchAMinuteAfterASweepAsync(TimeSpan.FromMinutes(30));

        var look = await regrouper.LookAsync(Token);
        var flush = await regrouper.RunPassAsync(Token);

        Assert.Equal((0, 1), (look.BatchesRead, flush.BatchesRead));
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
    public async Task A_day_is_sealed_once_after_it_ends_and_late_events_are_sealed_into_the_same_object_with_true_counts()
    {
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")) + Line("s1", 2, "2026-11-21T10:00:01.000Z", Event(2, "2026-11-21T10:00:01Z")));
        var counting = new CountingStore(_f.Store);
        var open = await _f.CreateRegrouper(counting).RunPassAsync(Token);
        AfterTheDay();
        var sealing = await _f.CreateRegrouper(counting).RunPassAsync(Token);
        var again = await _f.CreateRegrouper(counting).RunPassAsync(Token);

        Assert.Equal(0, open.SensorDaysWritten);
        Assert.Equal(1, sealing.SensorDaysWritten);
        Assert.Equal(0, again.SensorDaysWritten);
        Assert.Equal(1, counting.Writes["sensors/s1/2026-11-21.ndjson.gz"]);
        Assert.Empty((await _f.ManifestAsync()).Runs);

        _f.WriteRaw(Line("s1", 3, "2026-11-21T11:00:00.000Z", Event(3, "2026-11-21T11:00:00Z")) + Line("s1", null, "2026-11-21T11:00:01.000Z", Event(null, "2026-11-21T11:00:01Z")));
        await _f.CreateRegrouper(counting).RunPassAsync(Token);

        var after = (await _f.Store.HeadAsync("sensors/s1/2026-11-21.ndjson.gz", Token))!;
        Assert.Equal(["1", "2", "3", "null"], (await _f.ReadSealedAsync("s1", "2026-11-21")).Select(l => SeqOf(l)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"));
        Assert.Equal("4", after.Metadata![SensorDayKey.EventsMetadata]);
        Assert.True(SensorDayKey.IsSingleGzipMember(after.Metadata));
        Assert.Equal(2, counting.Writes["sensors/s1/2026-11-21.ndjson.gz"]);
    }

    [Fact]
    public async Task A_resent_last_event_or_a_repeated_seq_with_a_later_ts_is_not_appended_twice()
    {
        _f.WriteRaw(Line("s1", 1, "2026-11-21T10:00:00.000Z", Event(1, "2026-11-21T10:00:00Z")) + Line("s1", 2, "2026-11-21T10:00:01.000Z", Event(2, "2026-11-21T10:00:01Z")));
        await _f.CreateRegrouper().RunPassAsync(Token);

        _f.WriteRaw(Line("s1", 2, "2026-11-21T10:00:01.000Z", Event(2, "2026-11-21T10:00:01Z")) + Line("s1", 1, "2026-11-21T12:00:00.000Z", Event(1, "2026-11-21T12:00:00Z")));
        await _f.CreateRegrouper().RunPassAsync(Token);
        Assert.Equal([1L, 2L], (await _f.ReadDayAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
        AfterTheDay();
        var report = await _f.CreateRegrouper().RunPassAsync(Token);

        Assert.Equal(2, report.DuplicatesDropped);
        Assert.Equal([1L, 2L], (await _f.ReadSealedAsync("s1", "2026-11-21")).Select(l => SeqOf(l)!.Value));
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
