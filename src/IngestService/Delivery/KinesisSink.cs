using System.Buffers;
using IngestService.Aws;
using IngestService.Resilience;
using IngestService.Delivery.Kpl;
using IngestService.Telemetry;
using Microsoft.Extensions.Options;

namespace IngestService.Delivery;

/// <summary>
/// Kinesis, with the sensor as partition key so one sensor's events share a shard and keep their order
/// for stream consumers. <see cref="KinesisAggregation.None"/> puts one record per event;
/// <see cref="KinesisAggregation.Kpl"/> packs the events bound for one shard into KPL aggregated records,
/// each put with an explicit hash key inside that shard.
/// </summary>
public sealed partial class KinesisSink(IKinesisClient client, IOptions<AwsOptions> options, IngestMetrics metrics, TimeProvider time, ILogger<KinesisSink> logger, RetryDelays? retryDelays = null)
    : AwsRecordSink(metrics, time, retryDelays ?? RetryDelays.Sinks, logger)
{
    /// <summary>
    /// The error a KPL record gets here when Kinesis put it on a shard other than the one it was packed for:
    /// a consumer reading that shard (KCL 1.x/2.x deaggregate with the shard's hash key range) drops the whole
    /// aggregated record when any of its events hashes outside the range, so its events are not delivered.
    /// </summary>

    /// <summary>Even without a sign of change, the shard map is reread this often (shards split and merge rarely).</summary>
    private static readonly TimeSpan ShardMapLifetime = TimeSpan.FromMinutes(5);

    private readonly string _stream = options.Value.KinesisStream!;
    private readonly bool _aggregate = options.Value.KinesisAggregation == KinesisAggregation.Kpl;
    private readonly SemaphoreSlim _shardMapLock = new(1, 1);
    private ShardMap? _shardMap;
    private long _shardMapLoadedAt;

    public override string Name => "kinesis";

    protected override PackingLimits Limits => _aggregate ? PackingLimits.KinesisAggregated : PackingLimits.Kinesis;

    /// <summary>A provisioned stream bills 25 KB PUT payload units per record.</summary>
    protected override int BillingUnitBytes => 25 * 1024;

    public override async Task<string?> CheckReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            var d = await client.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest(_stream), cancellationToken);
            var status = d.StreamDescriptionSummary.StreamStatus;
            return status is "ACTIVE" or "UPDATING" ? null : $"Kinesis stream '{_stream}' is {status}";
        }
        catch (AwsServiceException ex)
        {
            return $"Kinesis stream '{_stream}': {ex.Message}";
        }
    }

    /// <summary>The partition key (and with KPL the explicit hash key) counts toward the 5 MiB per call.</summary>
    protected override int RecordOverhead(PendingEvent first) => first.SensorId.Length + (_aggregate ? 40 : 0);

    protected override async ValueTask<Packing> PackAsync(IReadOnlyList<PendingEvent> events, List<int> pending, CancellationToken cancellationToken)
    {
        if (!_aggregate)
        {
            return await base.PackAsync(events, pending, cancellationToken);
        }

        var map = await ShardMapAsync(cancellationToken);
        var shardOf = new Dictionary<int, int>(pending.Count);
        foreach (var i in pending)
        {
            shardOf[i] = map.ShardOf(events[i].SensorId);
        }

        // A stable sort keeps each sensor's events in window order inside its shard's records.
        var byShard = pending.OrderBy(i => shardOf[i]).ToList();
        var packing = RecordPacker.Pack(byShard, i => AggregatedRecord.WorstCaseSize(events[i]), i => RecordOverhead(events[i]), Limits, i => shardOf[i]);

        // The calls hash by this map, not by whatever _shardMap holds when they start: another call may drop or
        // reload it meanwhile, and a record must carry the hash key of the shard its events were grouped for.
        packing.PackedAgainst = map;
        return packing;
    }

    protected override async Task<PutRecordResultEntry[]> PutAsync(IReadOnlyList<PendingEvent> events, Packing packing, PackedCall call, CancellationToken cancellationToken)
    {
        if (_aggregate)
        {
            return await PutAggregatedAsync(events, packing, call, cancellationToken);
        }

        var firstEvent = packing.Records[call.FirstRecord].Start;
        var last = packing.Records[call.FirstRecord + call.RecordCount - 1];
        var parts = new ReadOnlyMemory<byte>[last.Start + last.Count - firstEvent];
        var entries = new PutRecordsRequestEntry[call.RecordCount];
        for (var k = 0; k < parts.Length; k++)
        {
            parts[k] = events[packing.Events[firstEvent + k]].Line;
        }

        for (var r = 0; r < entries.Length; r++)
        {
            var record = packing.Records[call.FirstRecord + r];
            var partitionKey = events[packing.Events[record.Start]].SensorId;
            entries[r] = new PutRecordsRequestEntry(new RecordData(new ArraySegment<ReadOnlyMemory<byte>>(parts, record.Start - firstEvent, record.Count)), partitionKey);
        }

        var response = await client.PutRecordsAsync(new PutRecordsRequest { StreamName = _stream, Records = entries }, cancellationToken);
        return Checked("Kinesis", response.FailedRecordCount, response.Records, entries.Length);
    }

    private async Task<PutRecordResultEntry[]> PutAggregatedAsync(IReadOnlyList<PendingEvent> events, Packing packing, PackedCall call, CancellationToken cancellationToken)
    {
        var map = (ShardMap)packing.PackedAgainst!;
        var buffers = new byte[call.RecordCount][];
        var parts = new ReadOnlyMemory<byte>[call.RecordCount];
        var entries = new PutRecordsRequestEntry[call.RecordCount];
        var shards = new int[call.RecordCount];
        try
        {
            for (var r = 0; r < entries.Length; r++)
            {
                var record = packing.Records[call.FirstRecord + r];
                var members = packing.Events.AsSpan(record.Start, record.Count);
                var (buffer, length) = AggregatedRecord.Encode(events, members);
                buffers[r] = buffer;
                parts[r] = buffer.AsMemory(0, length);
                var first = events[members[0]].SensorId;
                shards[r] = map.ShardOf(first);
                entries[r] = new PutRecordsRequestEntry(new RecordData(new ArraySegment<ReadOnlyMemory<byte>>(parts, r, 1)), first, map.ExplicitHashKey(shards[r]));
            }

            var response = await client.PutRecordsAsync(new PutRecordsRequest { StreamName = _stream, Records = entries }, cancellationToken);
            var results = Checked("Kinesis", response.FailedRecordCount, response.Records, entries.Length);
            for (var r = 0; r < results.Length; r++)
            {
                // A record that landed elsewhere means shards were split or merged since the map was read. A shard's
                // range never changes, so one that landed where it was packed for holds every event's hash key; one
                // that did not may hold events outside its shard, which consumers drop: it is sent again under a
                // fresh map (a consumer may then see some of its events twice, as with any resend).
                if (results[r] is { Succeeded: true, ShardId: { } landed } && landed != map.ShardId(shards[r]))
                {
                    LogShardMapStale(_stream, map.ShardId(shards[r]), landed);
                    Interlocked.CompareExchange(ref _shardMap, null, map);
                    results[r] = new PutRecordResultEntry(AwsErrors.LandedOutsideShard, $"packed for {map.ShardId(shards[r])}, landed on {landed}", landed);
                }
            }

            return results;
        }
        finally
        {
            foreach (var buffer in buffers)
            {
                if (buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
    }

    private async ValueTask<ShardMap> ShardMapAsync(CancellationToken cancellationToken)
    {
        var map = _shardMap;
        if (map is not null && Time.GetElapsedTime(_shardMapLoadedAt) < ShardMapLifetime)
        {
            return map;
        }

        await _shardMapLock.WaitAsync(cancellationToken);
        try
        {
            if (_shardMap is { } fresh && Time.GetElapsedTime(_shardMapLoadedAt) < ShardMapLifetime)
            {
                return fresh;
            }

            List<Shard> shards = [];
            string? next = null;
            do
            {
                var page = await client.ListShardsAsync(next is null ? new ListShardsRequest(_stream) : new ListShardsRequest(null, next), cancellationToken);
                shards.AddRange(page.Shards);
                next = page.NextToken;
            }
            while (next is not null);

            _shardMap = new ShardMap(shards);
            _shardMapLoadedAt = Time.GetTimestamp();
            LogShardMapLoaded(_stream, _shardMap.Count);
            return _shardMap;
        }
        finally
        {
            _shardMapLock.Release();
        }
    }

    [LoggerMessage(2101, LogLevel.Information, "Kinesis stream {Stream} has {Count} open shards")]
    private partial void LogShardMapLoaded(string stream, int count);

    [LoggerMessage(2102, LogLevel.Warning, "Kinesis stream {Stream}: a record meant for {Expected} landed on {Landed}; rereading the shard map")]
    private partial void LogShardMapStale(string stream, string expected, string landed);
}
