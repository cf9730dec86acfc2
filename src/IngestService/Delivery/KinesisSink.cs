using IngestService.Delivery.Aws;
using IngestService.Ingest;
using IngestService.Operations;
using Microsoft.Extensions.Options;

namespace IngestService.Delivery;

/// <summary>
/// Kinesis: one record per event with the sensor as partition key, so one sensor's events share a shard
/// and keep their order for stream consumers. A record is still a list of events in the packing, so KPL
/// aggregation (several events per record, one shard per record) can be added as another limit set.
/// </summary>
public sealed class KinesisSink(IKinesisClient client, IOptions<AwsOptions> options, IngestMetrics metrics, TimeProvider time, ILogger<KinesisSink> logger, Backoff? backoff = null)
    : AwsRecordSink(metrics, time, backoff ?? Backoff.Default, logger)
{
    private readonly string _stream = options.Value.KinesisStream!;

    public override string Name => "kinesis";

    protected override PackingLimits Limits => PackingLimits.Kinesis;

    public override async Task<string?> CheckReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            var d = await client.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest(_stream), cancellationToken).ConfigureAwait(false);
            var status = d.StreamDescriptionSummary.StreamStatus;
            return status is "ACTIVE" or "UPDATING" ? null : $"Kinesis stream '{_stream}' is {status}";
        }
        catch (AwsServiceException ex)
        {
            return $"Kinesis stream '{_stream}': {ex.Message}";
        }
    }

    /// <summary>The partition key counts toward the 5 MiB per call.</summary>
    protected override int RecordOverhead(PendingEvent first) => first.SensorId.Length;

    protected override async Task<PutRecordResultEntry[]> PutAsync(IReadOnlyList<PendingEvent> events, Packing packing, PackedCall call, CancellationToken cancellationToken)
    {
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

        var response = await client.PutRecordsAsync(new PutRecordsRequest { StreamName = _stream, Records = entries }, cancellationToken).ConfigureAwait(false);
        return response.Records;
    }
}
