using System.Globalization;
using System.Text;
using IngestService.Aws;
using IngestService.Delivery.Kpl;
using IngestService.Delivery;
using IngestService.Events;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace IngestService.Tests.Delivery;

public sealed class KplAggregationTests : SinkTestBase
{
    [Fact]
    public void An_aggregated_record_round_trips_through_an_independent_protobuf_reader()
    {
        var events = Events(50, sensors: 7);

        var (buffer, length) = AggregatedRecord.Encode(events, [.. Enumerable.Range(0, 50)]);
        var users = KplDeaggregator.Deaggregate(buffer[..length]);
        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);

        Assert.Equal(events.Select(e => (e.SensorId, Text(e))), users.Select(u => (u.PartitionKey, Encoding.UTF8.GetString(u.Data))));
    }

    [Fact]
    public void The_worst_case_size_bounds_the_encoded_record()
    {
        var events = Events(300, sensors: 300, size: 200);

        var (buffer, length) = AggregatedRecord.Encode(events, [.. Enumerable.Range(0, 300)]);
        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);

        Assert.True(length <= AggregatedRecord.FrameBytes + events.Sum(AggregatedRecord.WorstCaseSize));
    }

    [Fact]
    public void A_partition_key_maps_to_the_shard_whose_range_holds_its_md5()
    {
        var map = new ShardMap(EvenShards(4));

        foreach (var key in Enumerable.Range(0, 200).Select(i => $"sensor-{i}"))
        {
            var hash = ShardMap.HashKey(key);
            var expected = (int)(hash / (UInt128.MaxValue / 4 + 1));
            Assert.Equal(expected, map.ShardOf(key));
        }
    }

    [Fact]
    public void The_hash_key_is_the_md5_read_as_a_big_endian_number()
    {
        // MD5("s1") = 0x3ce8... ; checked against the definition rather than against this code.
        var md5 = System.Security.Cryptography.MD5.HashData("s1"u8);
        var expected = UInt128.Parse(Convert.ToHexString(md5), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

        Assert.Equal(expected, ShardMap.HashKey("s1"));
    }

    [Fact]
    public void Closed_shards_are_left_out_of_the_map()
    {
        var shards = EvenShards(2).Append(new Shard("shardId-old", new HashKeyRange("0", UInt128.MaxValue.ToString(CultureInfo.InvariantCulture)), new SequenceNumberRange("1", "2")));

        Assert.Equal(2, new ShardMap(shards).Count);
    }

    [Fact]
    public async Task Events_are_aggregated_per_shard_and_each_record_carries_its_shards_hash_key()
    {
        var client = new FakeKinesis(EvenShards(4));
        var events = Events(400, sensors: 40);
        var accepted = new bool[events.Count];

        await Sink(client).DeliverAsync(events, accepted, default);

        Assert.All(accepted, Assert.True);
        var entries = Assert.Single(client.Calls);
        var map = new ShardMap(EvenShards(4));
        Assert.Equal(4, entries.Count);
        var delivered = new List<(string Key, string Data)>();
        foreach (var entry in entries)
        {
            var users = KplDeaggregator.Deaggregate(entry.Data);
            var shard = map.ShardOf(users[0].PartitionKey);
            Assert.Equal(map.ExplicitHashKey(shard), entry.ExplicitHashKey);
            Assert.All(users, u => Assert.Equal(shard, map.ShardOf(u.PartitionKey)));
            delivered.AddRange(users.Select(u => (u.PartitionKey, Encoding.UTF8.GetString(u.Data))));
        }

        Assert.Equal(events.Select(e => (e.SensorId, Text(e))).Order(), delivered.Order());
        foreach (var sensor in events.GroupBy(e => e.SensorId))
        {
            // Per-sensor order survives the regrouping by shard.
            Assert.Equal(sensor.Select(Text), delivered.Where(d => d.Key == sensor.Key).Select(d => d.Data));
        }
    }

    [Fact]
    public async Task A_failed_aggregated_record_is_resent_whole_and_only_it()
    {
        var client = new FakeKinesis(EvenShards(4)) { Fail = (call, record) => call == 0 && record == 2 ? "ProvisionedThroughputExceededException" : null };
        var events = Events(100, sensors: 20);
        var accepted = new bool[events.Count];

        await Sink(client).DeliverAsync(events, accepted, default);

        Assert.Equal(2, client.Calls.Count);
        var resent = Assert.Single(client.Calls[1]);
        Assert.Equal(client.Calls[0][2].Data, resent.Data);
        Assert.All(accepted, Assert.True);
    }

    [Fact]
    public async Task A_record_that_lands_on_another_shard_makes_the_sink_reread_the_shard_map()
    {
        var client = new FakeKinesis(EvenShards(2));
        var sink = Sink(client);
        await sink.DeliverAsync(Events(10, sensors: 5), new bool[10], default);

        client.Reshard(EvenShards(4, "split"));
        await sink.DeliverAsync(Events(10, sensors: 5), new bool[10], default);

        Assert.Equal(2, client.ListShardsCalls);
    }

    [Fact]
    public async Task After_a_reshard_records_that_landed_outside_their_packed_shard_are_resent_until_consumers_can_read_them()
    {
        // KCL (1.x UserRecord.deaggregate, 2.x AggregatorUtil.deaggregate, given the shard's hash key range) drops
        // a whole aggregated record when one of its sub-records hashes outside the shard it was read from.
        var client = new FakeKinesis(EvenShards(2));
        var sink = Sink(client);
        await sink.DeliverAsync(Events(1, sensors: 1), new bool[1], default);
        client.Reshard(EvenShards(4, "split"));
        var events = Events(200, sensors: 40);
        var accepted = new bool[events.Count];

        await sink.DeliverAsync(events, accepted, default);

        Assert.All(accepted, Assert.True);
        Assert.True(client.Calls.Count >= 3, "the misrouted records were not resent");
        AssertConsumersGetEvery(client, events);
    }

    [Fact]
    public async Task A_shard_map_dropped_by_one_call_does_not_fail_the_other_calls_of_the_window()
    {
        var client = new FakeKinesis(EvenShards(2));
        var sink = Sink(client);
        await sink.DeliverAsync(Events(1, sensors: 1), new bool[1], default);
        client.Reshard(EvenShards(4, "split"));

        // Eight records of about 1 MiB: two calls, the first answered before the second is built.
        var events = Events(40, sensors: 8, size: 200_000);
        var accepted = new bool[events.Count];
        await sink.DeliverAsync(events, accepted, default);

        Assert.All(accepted, Assert.True);
        AssertConsumersGetEvery(client, events);
    }

    [Fact]
    public async Task A_shard_map_reloaded_between_the_calls_of_a_window_does_not_change_the_hash_keys_of_its_groups()
    {
        var time = new FakeTimeProvider();
        var client = new FakeKinesis(EvenShards(2));
        var sink = Sink(client, time);
        await sink.DeliverAsync(Events(1, sensors: 1), new bool[1], default);

        // While the window's first call is answered, the map ages out, the stream is split, and another
        // window reloads the map before the window's second call is built.
        client.AfterCall = call =>
        {
            if (call == 1)
            {
                time.Advance(TimeSpan.FromMinutes(6));
                client.Reshard(EvenShards(4, "split"));
                Assert.True(sink.DeliverAsync(Events(1, sensors: 1), new bool[1], default).IsCompletedSuccessfully);
            }
        };
        var events = Events(40, sensors: 8, size: 200_000);
        var accepted = new bool[events.Count];
        await sink.DeliverAsync(events, accepted, default);

        Assert.All(accepted, Assert.True);
        AssertConsumersGetEvery(client, events);
    }

    private static void AssertConsumersGetEvery(FakeKinesis client, List<PendingEvent> events)
    {
        var consumed = client.Consumed.Select(c => c.Data).ToHashSet();
        Assert.All(events, e => Assert.Contains(Text(e), consumed));
    }

    private KinesisSink Sink(IKinesisClient client, TimeProvider? time = null) =>
        new(client, Options.Create(new AwsOptions { KinesisStream = "events", KinesisAggregation = KinesisAggregation.Kpl }), Metrics, time ?? TimeProvider.System, NullLogger<KinesisSink>.Instance, NoWait);

    private static IEnumerable<Shard> EvenShards(int count, string prefix = "shardId")
    {
        var width = UInt128.MaxValue / (UInt128)count;
        for (var i = 0; i < count; i++)
        {
            var start = width * (UInt128)i + (UInt128)i;
            var end = i == count - 1 ? UInt128.MaxValue : start + width;
            yield return new Shard($"{prefix}-{i:D12}", new HashKeyRange(start.ToString(CultureInfo.InvariantCulture), end.ToString(CultureInfo.InvariantCulture)), new SequenceNumberRange("1", null));
        }
    }

    private static List<PendingEvent> Events(int count, int sensors, int size = 100) =>
        [.. Enumerable.Range(0, count).Select(i =>
        {
            var sensor = $"sensor-{i % sensors}";
            var line = $"{{\"sensorId\":\"{sensor}\",\"seq\":{i},\"pad\":\"";
            var text = line + new string('x', Math.Max(0, size - line.Length - 3)) + "\"}\n";
            var bytes = Encoding.UTF8.GetBytes(text);
            return new PendingEvent(sensor, new EventHeader(DateTimeOffset.UnixEpoch, i), bytes, bytes.Length, 0);
        })];

    private static string Text(PendingEvent e) => Encoding.UTF8.GetString(e.Line.Span);

    /// <summary>
    /// Kinesis as far as aggregation sees it: a record lands on the open shard whose range holds its explicit
    /// hash key (else its partition key's MD5), shards can be split between calls, and <see cref="Consumed"/>
    /// is what a KCL consumer reading each shard with its hash key range would hand to the application.
    /// </summary>
    private sealed class FakeKinesis(IEnumerable<Shard> shards) : IKinesisClient
    {
        private List<Shard> _shards = [.. shards];

        public List<List<(byte[] Data, string PartitionKey, string? ExplicitHashKey)>> Calls { get; } = [];

        public List<(string PartitionKey, string Data)> Consumed { get; } = [];

        public Func<int, int, string?> Fail { get; init; } = (_, _) => null;

        public int ListShardsCalls { get; private set; }

        /// <summary>Runs with the index of each call once its records have landed, before it is answered.</summary>
        public Action<int> AfterCall { get; set; } = _ => { };

        /// <summary>Closes every open shard and opens <paramref name="children"/>, as a split or merge does.</summary>
        public void Reshard(IEnumerable<Shard> children)
        {
            lock (Calls)
            {
                _shards = [.. _shards.Select(s => s with { SequenceNumberRange = new SequenceNumberRange("1", "2") }), .. children];
            }
        }

        public Task<PutRecordsResponse> PutRecordsAsync(PutRecordsRequest request, CancellationToken cancellationToken = default)
        {
            lock (Calls)
            {
                var call = Calls.Count;
                Calls.Add([.. request.Records.Select(r => (r.Data.Parts.SelectMany(p => p.ToArray()).ToArray(), r.PartitionKey, r.ExplicitHashKey))]);
                var entries = new PutRecordResultEntry[request.Records.Count];
                for (var i = 0; i < entries.Length; i++)
                {
                    var (data, partitionKey, explicitHashKey) = Calls[call][i];
                    var error = Fail(call, i);
                    var shard = _shards.Single(s => s.IsOpen && Holds(s, explicitHashKey is null ? ShardMap.HashKey(partitionKey) : UInt128.Parse(explicitHashKey, CultureInfo.InvariantCulture)));
                    entries[i] = new PutRecordResultEntry(error, null, error is null ? shard.ShardId : null, error is null ? $"seq-{i}" : null);
                    var users = KplDeaggregator.Deaggregate(data);
                    if (error is null && users.All(u => Holds(shard, ShardMap.HashKey(u.PartitionKey))))
                    {
                        Consumed.AddRange(users.Select(u => (u.PartitionKey, Encoding.UTF8.GetString(u.Data))));
                    }
                }

                AfterCall(call);
                return Task.FromResult(new PutRecordsResponse(entries.Count(e => !e.Succeeded), entries));
            }
        }

        public Task<ListShardsResponse> ListShardsAsync(ListShardsRequest request, CancellationToken cancellationToken = default)
        {
            lock (Calls)
            {
                ListShardsCalls++;
                return Task.FromResult(new ListShardsResponse([.. _shards]));
            }
        }

        public Task<DescribeStreamSummaryResponse> DescribeStreamSummaryAsync(DescribeStreamSummaryRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task CreateStreamAsync(CreateStreamRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<GetShardIteratorResponse> GetShardIteratorAsync(GetShardIteratorRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<GetRecordsResponse> GetRecordsAsync(GetRecordsRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        private static bool Holds(Shard shard, UInt128 key) =>
            UInt128.Parse(shard.HashKeyRange!.StartingHashKey, CultureInfo.InvariantCulture) <= key
            && key <= UInt128.Parse(shard.HashKeyRange.EndingHashKey, CultureInfo.InvariantCulture);
    }
}
