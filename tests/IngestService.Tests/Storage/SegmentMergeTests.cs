using System.IO.Compression;
using System.Text;
using IngestService.Events;
using IngestService.Storage.Runs;
using IngestService.Tests.Regroup;

namespace IngestService.Tests.Storage;

public sealed class SegmentMergeTests : IDisposable
{
    private static readonly DateOnly Day = new(2026, 11, 21);
    private static readonly DateOnly NextDay = new(2026, 11, 22);

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static StoredLine Stored(string sensorId, long? seq, string ts) =>
        StoredLine.TryParse(Encoding.UTF8.GetBytes(RegroupFixture.Line(sensorId, seq, ts, RegroupFixture.Event(seq, ts)).TrimEnd('\n')))!;

    /// <summary>A run of <paramref name="lines"/> (given in the store's order), as its bytes and index.</summary>
    private async Task<(byte[] Bytes, RunIndex Index)> RunAsync(params StoredLine[] lines)
    {
        await using var writer = new RunWriter(_folder.Path);
        foreach (var line in lines)
        {
            writer.Add(line);
        }

        using var copy = new MemoryStream();
        await writer.Finish().CopyToAsync(copy);
        var bytes = copy.ToArray();
        return (bytes, RunIndex.TryDecode(bytes, bytes.Length, out _)!);
    }

    private async Task<(byte[] Bytes, RunIndex Index, long Duplicates)> MergeAsync(IReadOnlySet<DateOnly> live, params (byte[] Bytes, RunIndex Index)[] runs)
    {
        var inputs = runs.Select(r => new SegmentMerge.Input(r.Index, new MemoryStream(r.Bytes), live)).ToList();
        var duplicates = new DuplicateCounter();
        await using var writer = new RunWriter(_folder.Path);
        await SegmentMerge.WriteAsync(inputs, writer, duplicates, CancellationToken.None);
        using var copy = new MemoryStream();
        await writer.Finish().CopyToAsync(copy);
        var bytes = copy.ToArray();
        return (bytes, RunIndex.TryDecode(bytes, bytes.Length, out _)!, duplicates.Count);
    }

    private static async Task<List<string>> LinesAsync(byte[] run, RunSegment segment)
    {
        var lines = new List<string>();
        await foreach (var line in LineReader.ReadAsync(new MemoryStream(run, (int)segment.Offset, (int)segment.Length), CancellationToken.None))
        {
            var parsed = StoredLine.TryParse(line.Bytes.Span)!;
            lines.Add($"{parsed.SensorId}/{parsed.Seq}/{new DateTime(parsed.TsTicks, DateTimeKind.Utc):HH:mm}");
        }

        return lines;
    }

    private static int Members(byte[] run, RunSegment segment) =>
        Enumerable.Range((int)segment.Offset, (int)segment.Length - 2).Count(i => run[i] == 0x1f && run[i + 1] == 0x8b && run[i + 2] == 8 && run[i + 3] == 0);

    [Fact]
    public async Task Consecutive_runs_of_a_sensor_day_are_copied_as_their_members_and_read_back_in_order()
    {
        var first = await RunAsync(Stored("a", 1, "2026-11-21T10:00:00Z"), Stored("a", 2, "2026-11-21T10:01:00Z"), Stored("b", 1, "2026-11-21T10:00:30Z"));
        var second = await RunAsync(Stored("a", 3, "2026-11-21T10:02:00Z"), Stored("c", 1, "2026-11-21T10:02:00Z"));

        var merged = await MergeAsync(new HashSet<DateOnly> { Day }, second, first);

        Assert.Equal(["a", "b", "c"], merged.Index.Segments.Select(s => s.SensorId));
        var a = merged.Index.Segments[0];
        var (firstA, secondA) = (first.Index.Find("a", Day)!, second.Index.Find("a", Day)!);
        // Copied, not re-deflated: the bytes of both inputs' members, the earlier first, and the stats of both.
        Assert.Equal(firstA.Length + secondA.Length, a.Length);
        Assert.Equal(first.Bytes.AsSpan((int)firstA.Offset, (int)firstA.Length).ToArray(), merged.Bytes.AsSpan((int)a.Offset, (int)firstA.Length).ToArray());
        Assert.Equal(2, Members(merged.Bytes, a));
        Assert.Equal((3L, 1L, 3L, firstA.MinTicks, secondA.MaxTicks), (a.Events, a.MinSeq, a.MaxSeq, a.MinTicks, a.MaxTicks));
        Assert.Equal(firstA.Bytes + secondA.Bytes, a.Bytes);
        Assert.Equal(["a/1/10:00", "a/2/10:01", "a/3/10:02"], await LinesAsync(merged.Bytes, a));
        Assert.Equal(["b/1/10:00"], await LinesAsync(merged.Bytes, merged.Index.Segments[1]));
        Assert.Equal(["c/1/10:02"], await LinesAsync(merged.Bytes, merged.Index.Segments[2]));
        Assert.Equal(0, merged.Duplicates);
    }

    [Fact]
    public async Task A_resent_event_in_two_runs_is_merged_line_by_line_and_kept_once()
    {
        var first = await RunAsync(Stored("a", 1, "2026-11-21T10:00:00Z"), Stored("a", 2, "2026-11-21T10:01:00Z"));
        var second = await RunAsync(Stored("a", 2, "2026-11-21T10:01:00Z"), Stored("a", 3, "2026-11-21T10:02:00Z"));

        var merged = await MergeAsync(new HashSet<DateOnly> { Day }, first, second);

        var a = Assert.Single(merged.Index.Segments);
        Assert.Equal(["a/1/10:00", "a/2/10:01", "a/3/10:02"], await LinesAsync(merged.Bytes, a));
        Assert.Equal(1, Members(merged.Bytes, a));
        Assert.Equal((3L, 1L, 3L), (a.Events, a.MinSeq, a.MaxSeq));
        Assert.Equal(1, merged.Duplicates);
    }

    [Theory]
    [InlineData(true)] // ts ranges overlap: concatenated, the lines would be out of order
    [InlineData(false)] // ts apart, but the later run's seqs are not all above the earlier one's
    public async Task Runs_that_interleave_are_merged_into_the_store_order(bool tsOverlap)
    {
        var first = await RunAsync(Stored("a", 1, "2026-11-21T10:00:00Z"), Stored("a", 4, "2026-11-21T10:03:00Z"));
        var later = tsOverlap
            ? await RunAsync(Stored("a", 3, "2026-11-21T10:02:00Z"), Stored("a", 5, "2026-11-21T10:04:00Z"))
            : await RunAsync(Stored("a", 2, "2026-11-21T10:05:00Z"), Stored("a", 3, "2026-11-21T10:06:00Z"));

        var merged = await MergeAsync(new HashSet<DateOnly> { Day }, first, later);

        var a = Assert.Single(merged.Index.Segments);
        Assert.Equal(1, Members(merged.Bytes, a));
        var expected = tsOverlap
            ? new[] { "a/1/10:00", "a/3/10:02", "a/4/10:03", "a/5/10:04" }
            : ["a/1/10:00", "a/4/10:03", "a/2/10:05", "a/3/10:06"];
        Assert.Equal(expected, await LinesAsync(merged.Bytes, a));
        Assert.Equal((4L, 1L, tsOverlap ? 5L : 4L), (a.Events, a.MinSeq, a.MaxSeq));
    }

    [Fact]
    public async Task Days_no_longer_live_are_skipped_between_live_ones()
    {
        var first = await RunAsync(
            Stored("a", 1, "2026-11-21T23:59:00Z"), Stored("a", 2, "2026-11-22T00:01:00Z"), Stored("b", null, "2026-11-21T10:00:00Z"), Stored("b", null, "2026-11-22T10:00:00Z"));
        var second = await RunAsync(Stored("b", null, "2026-11-22T11:00:00Z"));

        var merged = await MergeAsync(new HashSet<DateOnly> { NextDay }, first, second);

        Assert.Equal([("a", NextDay), ("b", NextDay)], merged.Index.Segments.Select(s => (s.SensorId, s.Day)));
        Assert.Equal(["a/2/00:01"], await LinesAsync(merged.Bytes, merged.Index.Segments[0]));
        var b = merged.Index.Segments[1];
        Assert.Equal(["b//10:00", "b//11:00"], await LinesAsync(merged.Bytes, b));
        Assert.Equal((-1L, -1L), (b.MinSeq, b.MaxSeq));
    }

    [Fact]
    public void An_index_written_before_segments_kept_their_least_seq_is_read_with_a_bound_that_never_copies_wrongly()
    {
        // The entries as the previous version wrote them, without the least seqs that now follow them.
        var old = new MemoryStream();
        using (var gzip = new GZipStream(old, CompressionLevel.Fastest, leaveOpen: true))
        using (var writer = new BinaryWriter(gzip, Encoding.UTF8))
        {
            writer.Write(2);
            foreach (var (sensor, maxSeq) in new[] { ("a", 7L), ("b", -1L) })
            {
                writer.Write(sensor);
                writer.Write(Day.DayNumber);
                foreach (var value in new[] { 0L, 10, 1, 100, 5, 6, maxSeq })
                {
                    writer.Write(value);
                }
            }
        }

        var indexLength = old.Length;
        old.Write("IGRUN001"u8);
        old.Write(BitConverter.GetBytes(0L));
        old.Write(BitConverter.GetBytes(indexLength));
        var bytes = old.ToArray();

        var index = RunIndex.TryDecode(bytes, bytes.Length, out _)!;

        Assert.Equal([(0L, 7L), (-1L, -1L)], index.Segments.Select(s => (s.MinSeq, s.MaxSeq)));
        Assert.Equal((5L, 6L, 100L), (index.Segments[0].MinTicks, index.Segments[0].MaxTicks, index.Segments[0].Bytes));
    }

    [Fact]
    public void An_index_written_now_reads_as_before_for_a_node_of_the_previous_version()
    {
        RunSegment[] segments = [new("a", Day, 0, 10, 2, 100, 5, 6, 3, 4), new("b", Day, 10, 20, 1, 50, 7, 7, -1, -1)];
        var encoded = RunIndex.Encode(segments, 0);

        // What the previous version's reader reads: the entries in their old layout, then it stops.
        using var gzip = new GZipStream(new MemoryStream(encoded, 0, encoded.Length - RunIndex.TrailerBytes), CompressionMode.Decompress);
        using var reader = new BinaryReader(gzip, Encoding.UTF8);
        var count = reader.ReadInt32();
        var old = Enumerable.Range(0, count).Select(_ => (reader.ReadString(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(),
            reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64())).ToList();

        Assert.Equal(segments.Select(x => (x.SensorId, x.Day.DayNumber, x.Offset, x.Length, x.Events, x.Bytes, x.MinTicks, x.MaxTicks, x.MaxSeq)), old);
        Assert.Equal(segments, RunIndex.TryDecode(encoded, encoded.Length, out _)!.Segments);
        Assert.Equal("IGRUN001"u8.ToArray(), encoded[^RunIndex.TrailerBytes..^16]);
    }
}
