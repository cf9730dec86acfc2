using IngestService.Delivery;

namespace IngestService.Tests.Delivery;

public sealed class RecordPackerTests
{
    private const int KiB = 1024;

    [Fact]
    public void Small_events_share_one_record_in_window_order()
    {
        var sizes = Enumerable.Repeat(300, 1000).ToArray();

        var packing = Pack(sizes, PackingLimits.Firehose);

        var record = Assert.Single(packing.Records);
        Assert.Equal(1000, record.Count);
        Assert.Equal(300_000, record.Bytes);
        Assert.Equal(Enumerable.Range(0, 1000), packing.Events);
        Assert.Single(packing.Calls);
    }

    [Fact]
    public void Records_stay_within_1000_KiB_and_never_split_an_event()
    {
        var sizes = Enumerable.Repeat(300 * KiB, 10).ToArray();

        var packing = Pack(sizes, PackingLimits.Firehose);

        // Three 300 KiB events fit in 1,000 KiB; a fourth would not.
        Assert.All(packing.Records, r => Assert.True(r.Bytes <= 1000 * KiB));
        Assert.Equal([3, 3, 3, 1], packing.Records.Select(r => r.Count));
        Assert.Equal(sizes.Sum(), packing.Records.Sum(r => (long)r.Bytes));
        AssertEveryEventOnce(packing, sizes.Length);
    }

    [Fact]
    public void An_event_of_exactly_the_record_limit_is_one_record()
    {
        var packing = Pack([1000 * KiB, 1, 1000 * KiB], PackingLimits.Firehose);

        Assert.Equal([1, 1, 1], packing.Records.Select(r => r.Count));
        Assert.Empty(packing.TooLarge);
    }

    [Theory]
    [InlineData(1000, new[] { 2, 2, 1 })] // 1.37 MB as base64: a third would pass 4,000,000 bytes
    [InlineData(900, new[] { 3, 3, 3 })] // 1.23 MB as base64: three are 3.69 MB
    public void Calls_stay_under_4_MiB_counting_base64(int kib, int[] recordsPerCall)
    {
        var sizes = Enumerable.Repeat(kib * KiB, recordsPerCall.Sum()).ToArray();

        var packing = Pack(sizes, PackingLimits.Firehose);

        Assert.Equal(recordsPerCall, packing.Calls.Select(c => c.RecordCount));
        Assert.All(packing.Calls, c => Assert.True(c.Cost < 4 * 1024 * 1024));
        foreach (var call in packing.Calls)
        {
            var base64 = packing.Records.Skip(call.FirstRecord).Take(call.RecordCount).Sum(r => ((long)r.Bytes + 2) / 3 * 4);
            Assert.True(base64 < 4 * 1024 * 1024);
        }
    }

    [Fact]
    public void Calls_hold_at_most_500_records()
    {
        var packing = Pack(Enumerable.Repeat(100, 1201).ToArray(), PackingLimits.Kinesis);

        Assert.Equal(1201, packing.Records.Count);
        Assert.Equal([500, 500, 201], packing.Calls.Select(c => c.RecordCount));
        AssertEveryEventOnce(packing, 1201);
    }

    [Fact]
    public void Kinesis_sends_one_record_per_event_and_counts_partition_keys_towards_5_MiB()
    {
        var sizes = Enumerable.Repeat(100 * KiB, 60).ToArray();

        var packing = RecordPacker.Pack(Enumerable.Range(0, sizes.Length).ToList(), i => sizes[i], _ => 10 * KiB, PackingLimits.Kinesis);

        Assert.All(packing.Records, r => Assert.Equal(1, r.Count));
        // 110 KiB per entry: 46 fit in 5 MiB.
        Assert.Equal([46, 14], packing.Calls.Select(c => c.RecordCount));
        Assert.All(packing.Calls, c => Assert.True(c.Cost <= 5 * 1024 * 1024));
    }

    [Fact]
    public void Only_the_given_pending_events_are_packed()
    {
        var sizes = Enumerable.Repeat(10, 10).ToArray();

        var packing = RecordPacker.Pack([1, 4, 7], i => sizes[i], _ => 0, PackingLimits.Firehose);

        Assert.Equal([1, 4, 7], packing.Events);
        Assert.Equal(3, Assert.Single(packing.Records).Count);
    }

    [Fact]
    public void An_event_larger_than_a_record_is_reported_and_the_rest_still_packed()
    {
        var packing = Pack([10, 1001 * KiB, 10], PackingLimits.Firehose);

        Assert.Equal([1], packing.TooLarge);
        Assert.Equal([0, 2], packing.Events);
        Assert.Equal(2, Assert.Single(packing.Records).Count);
    }

    [Fact]
    public void Random_windows_keep_every_limit_and_every_event_exactly_once()
    {
        var random = new Random(7);
        for (var round = 0; round < 200; round++)
        {
            var sizes = Enumerable.Range(0, random.Next(1, 3000)).Select(_ => random.Next(0, 3) == 0 ? random.Next(1, 1000 * KiB) : random.Next(1, 4 * KiB)).ToArray();
            foreach (var limits in new[] { PackingLimits.Firehose, PackingLimits.Kinesis })
            {
                var packing = Pack(sizes, limits);

                AssertEveryEventOnce(packing, sizes.Length);
                Assert.All(packing.Records, r => Assert.True(r.Bytes <= limits.MaxRecordBytes && r.Count <= limits.MaxEventsPerRecord));
                Assert.All(packing.Calls, c => Assert.True(c.RecordCount <= 500 && c.Cost <= limits.MaxCallBytes));
                Assert.All(packing.Records, r => Assert.Equal(r.Bytes, packing.Events.Skip(r.Start).Take(r.Count).Sum(i => sizes[i])));
            }
        }
    }

    private static Packing Pack(int[] sizes, PackingLimits limits) =>
        RecordPacker.Pack(Enumerable.Range(0, sizes.Length).ToList(), i => sizes[i], _ => 12, limits);

    private static void AssertEveryEventOnce(Packing packing, int count)
    {
        var seen = packing.Records.SelectMany(r => packing.Events.Skip(r.Start).Take(r.Count)).ToList();
        Assert.Equal(Enumerable.Range(0, count), seen);
        var callsCover = packing.Calls.Sum(c => c.RecordCount);
        Assert.Equal(packing.Records.Count, callsCover);
        Assert.Equal(Enumerable.Range(0, packing.Calls.Count).Select(i => packing.Calls.Take(i).Sum(c => c.RecordCount)), packing.Calls.Select(c => c.FirstRecord));
    }
}
