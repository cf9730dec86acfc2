using System.Text.Json.Serialization;

namespace IngestService.Aws;

/// <summary>
/// A record's bytes as consecutive parts (event lines), sent as one base64 value without being copied
/// together first. A slice of one parts array shared by the whole call, so a call allocates no per-record
/// or per-event objects.
/// </summary>
public readonly record struct RecordData(ArraySegment<ReadOnlyMemory<byte>> Parts)
{
    public int Length
    {
        get
        {
            var n = 0;
            foreach (var p in Parts)
            {
                n += p.Length;
            }

            return n;
        }
    }
}

/// <summary>
/// One entry's outcome: null <see cref="ErrorCode"/> means the service took it, which it proves with
/// <see cref="Id"/>: Firehose's <c>RecordId</c>, Kinesis's <c>SequenceNumber</c>.
/// </summary>
public readonly record struct PutRecordResultEntry(string? ErrorCode, string? ErrorMessage, string? ShardId = null, string? Id = null)
{
    public bool Succeeded => ErrorCode is null;
}

// Firehose ---------------------------------------------------------------------------------------------

public sealed class PutRecordBatchRequest
{
    public required string DeliveryStreamName { get; init; }

    public required IReadOnlyList<RecordData> Records { get; init; }
}

/// <summary><c>RequestResponses</c> in request order, each accepted one with its <c>RecordId</c>.</summary>
public sealed record PutRecordBatchResponse(int FailedPutCount, PutRecordResultEntry[] RequestResponses);

public sealed record DescribeDeliveryStreamRequest(string DeliveryStreamName);

public sealed record DescribeDeliveryStreamResponse(DeliveryStreamDescription DeliveryStreamDescription);

public sealed record DeliveryStreamDescription(string DeliveryStreamName, string DeliveryStreamStatus, string? DeliveryStreamARN);

public sealed record CreateDeliveryStreamRequest(
    string DeliveryStreamName,
    string DeliveryStreamType,
    ExtendedS3DestinationConfiguration ExtendedS3DestinationConfiguration);

public sealed record ExtendedS3DestinationConfiguration(
    string BucketARN,
    string RoleARN,
    string? Prefix,
    string? ErrorOutputPrefix,
    BufferingHints BufferingHints,
    string CompressionFormat);

public sealed record BufferingHints(int SizeInMBs, int IntervalInSeconds);

public sealed record CreateDeliveryStreamResponse(string? DeliveryStreamARN);

// Kinesis ----------------------------------------------------------------------------------------------

/// <param name="Data">The record's bytes.</param>
/// <param name="PartitionKey">The sensor; Kinesis hashes it to pick a shard.</param>
/// <param name="ExplicitHashKey">Decimal 128-bit hash key that picks the shard instead of the partition key (KPL aggregation).</param>
public readonly record struct PutRecordsRequestEntry(RecordData Data, string PartitionKey, string? ExplicitHashKey = null);

public sealed class PutRecordsRequest
{
    public required string StreamName { get; init; }

    public required IReadOnlyList<PutRecordsRequestEntry> Records { get; init; }
}

/// <summary><c>Records</c> in request order, each accepted one with its <c>SequenceNumber</c> and <c>ShardId</c>.</summary>
public sealed record PutRecordsResponse(int FailedRecordCount, PutRecordResultEntry[] Records);

public sealed record DescribeStreamSummaryRequest(string StreamName);

public sealed record DescribeStreamSummaryResponse(StreamDescriptionSummary StreamDescriptionSummary);

public sealed record StreamDescriptionSummary(string StreamName, string StreamStatus, int OpenShardCount, StreamModeDetails? StreamModeDetails);

public sealed record StreamModeDetails(string StreamMode);

public sealed record CreateStreamRequest(string StreamName, int? ShardCount, StreamModeDetails? StreamModeDetails);

/// <summary>The first page names the stream; later pages pass only the token, as the API requires.</summary>
public sealed record ListShardsRequest(string? StreamName, string? NextToken = null);

public sealed record ListShardsResponse(List<Shard> Shards, string? NextToken = null);

public sealed record Shard(string ShardId, HashKeyRange? HashKeyRange = null, SequenceNumberRange? SequenceNumberRange = null)
{
    /// <summary>A shard that was split or merged has an ending sequence number and takes no more writes.</summary>
    public bool IsOpen => SequenceNumberRange?.EndingSequenceNumber is null;
}

/// <summary>Decimal 128-bit bounds, inclusive.</summary>
public sealed record HashKeyRange(string StartingHashKey, string EndingHashKey);

public sealed record SequenceNumberRange(string StartingSequenceNumber, string? EndingSequenceNumber);

public sealed record GetShardIteratorRequest(string StreamName, string ShardId, string ShardIteratorType);

public sealed record GetShardIteratorResponse(string ShardIterator);

public sealed record GetRecordsRequest(string ShardIterator, int? Limit);

public sealed record GetRecordsResponse(List<KinesisRecord> Records, string? NextShardIterator, long? MillisBehindLatest);

public sealed record KinesisRecord(string SequenceNumber, string PartitionKey, byte[] Data);

/// <summary>AWS spells members in PascalCase and omits nulls.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DescribeDeliveryStreamRequest))]
[JsonSerializable(typeof(DescribeDeliveryStreamResponse))]
[JsonSerializable(typeof(CreateDeliveryStreamRequest))]
[JsonSerializable(typeof(CreateDeliveryStreamResponse))]
[JsonSerializable(typeof(DescribeStreamSummaryRequest))]
[JsonSerializable(typeof(DescribeStreamSummaryResponse))]
[JsonSerializable(typeof(CreateStreamRequest))]
[JsonSerializable(typeof(ListShardsRequest))]
[JsonSerializable(typeof(ListShardsResponse))]
[JsonSerializable(typeof(GetShardIteratorRequest))]
[JsonSerializable(typeof(GetShardIteratorResponse))]
[JsonSerializable(typeof(GetRecordsRequest))]
[JsonSerializable(typeof(GetRecordsResponse))]
internal sealed partial class AwsJsonContext : JsonSerializerContext;
