using System.Text.Json;

namespace IngestService.Aws;

/// <summary>
/// The part of <c>Amazon.Kinesis.IAmazonKinesis</c> the service and its tests use, with the same method
/// names and shapes, so the official client can take its place when the registry serves it.
/// </summary>
public interface IKinesisClient
{
    Task<PutRecordsResponse> PutRecordsAsync(PutRecordsRequest request, CancellationToken cancellationToken = default);

    Task<DescribeStreamSummaryResponse> DescribeStreamSummaryAsync(DescribeStreamSummaryRequest request, CancellationToken cancellationToken = default);

    Task CreateStreamAsync(CreateStreamRequest request, CancellationToken cancellationToken = default);

    Task<ListShardsResponse> ListShardsAsync(ListShardsRequest request, CancellationToken cancellationToken = default);

    Task<GetShardIteratorResponse> GetShardIteratorAsync(GetShardIteratorRequest request, CancellationToken cancellationToken = default);

    Task<GetRecordsResponse> GetRecordsAsync(GetRecordsRequest request, CancellationToken cancellationToken = default);
}

public sealed class KinesisClient(AwsConnection connection) : IKinesisClient
{
    private readonly AwsJsonClient _client = new(connection, "kinesis", "KINESIS", "Kinesis_20131202");

    public async Task<PutRecordsResponse> PutRecordsAsync(PutRecordsRequest request, CancellationToken cancellationToken = default)
    {
        long estimate = 256;
        foreach (var r in request.Records)
        {
            estimate += (((long)r.Data.Length + 2) / 3 * 4) + r.PartitionKey.Length + 32;
        }

        using var body = new PooledBufferWriter((int)Math.Min(estimate, int.MaxValue));
        RecordJson.WritePutRecords(body, request);
        var count = request.Records.Count;
        return await _client.SendAsync(
            "PutRecords",
            body.WrittenMemory,
            payload =>
            {
                var (failed, entries) = RecordJson.ReadPutResponse(payload, "FailedRecordCount"u8, "Records"u8, "SequenceNumber"u8, count);
                return new PutRecordsResponse(failed, entries);
            },
            cancellationToken);
    }

    public Task<DescribeStreamSummaryResponse> DescribeStreamSummaryAsync(DescribeStreamSummaryRequest request, CancellationToken cancellationToken = default) =>
        _client.SendAsync("DescribeStreamSummary", request, AwsJsonContext.Default.DescribeStreamSummaryRequest, AwsJsonContext.Default.DescribeStreamSummaryResponse, cancellationToken);

    public Task CreateStreamAsync(CreateStreamRequest request, CancellationToken cancellationToken = default) =>
        _client.SendAsync(
            "CreateStream",
            JsonSerializer.SerializeToUtf8Bytes(request, AwsJsonContext.Default.CreateStreamRequest),
            _ => true,
            cancellationToken);

    public Task<ListShardsResponse> ListShardsAsync(ListShardsRequest request, CancellationToken cancellationToken = default) =>
        _client.SendAsync("ListShards", request, AwsJsonContext.Default.ListShardsRequest, AwsJsonContext.Default.ListShardsResponse, cancellationToken);

    public Task<GetShardIteratorResponse> GetShardIteratorAsync(GetShardIteratorRequest request, CancellationToken cancellationToken = default) =>
        _client.SendAsync("GetShardIterator", request, AwsJsonContext.Default.GetShardIteratorRequest, AwsJsonContext.Default.GetShardIteratorResponse, cancellationToken);

    public Task<GetRecordsResponse> GetRecordsAsync(GetRecordsRequest request, CancellationToken cancellationToken = default) =>
        _client.SendAsync("GetRecords", request, AwsJsonContext.Default.GetRecordsRequest, AwsJsonContext.Default.GetRecordsResponse, cancellationToken);
}
