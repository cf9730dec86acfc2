namespace IngestService.Aws;

/// <summary>
/// The part of <c>Amazon.KinesisFirehose.IAmazonKinesisFirehose</c> the service uses, with the same method
/// names and shapes, so the official client can take its place when the registry serves it.
/// </summary>
public interface IFirehoseClient
{
    Task<PutRecordBatchResponse> PutRecordBatchAsync(PutRecordBatchRequest request, CancellationToken cancellationToken = default);

    Task<DescribeDeliveryStreamResponse> DescribeDeliveryStreamAsync(DescribeDeliveryStreamRequest request, CancellationToken cancellationToken = default);

    Task<CreateDeliveryStreamResponse> CreateDeliveryStreamAsync(CreateDeliveryStreamRequest request, CancellationToken cancellationToken = default);
}

public sealed class FirehoseClient(AwsConnection connection) : IFirehoseClient
{
    private readonly AwsJsonClient _client = new(connection, "firehose", "FIREHOSE", "Firehose_20150804");

    public async Task<PutRecordBatchResponse> PutRecordBatchAsync(PutRecordBatchRequest request, CancellationToken cancellationToken = default)
    {
        using var body = new PooledBufferWriter(EstimateBody(request.Records));
        RecordJson.WritePutRecordBatch(body, request);
        var count = request.Records.Count;
        return await _client.SendAsync(
            "PutRecordBatch",
            body.WrittenMemory,
            payload =>
            {
                var (failed, entries) = RecordJson.ReadPutResponse(payload, "FailedPutCount"u8, "RequestResponses"u8, "RecordId"u8, count);
                return new PutRecordBatchResponse(failed, entries);
            },
            cancellationToken);
    }

    public Task<DescribeDeliveryStreamResponse> DescribeDeliveryStreamAsync(DescribeDeliveryStreamRequest request, CancellationToken cancellationToken = default) =>
        _client.SendAsync("DescribeDeliveryStream", request, AwsJsonContext.Default.DescribeDeliveryStreamRequest, AwsJsonContext.Default.DescribeDeliveryStreamResponse, cancellationToken);

    public Task<CreateDeliveryStreamResponse> CreateDeliveryStreamAsync(CreateDeliveryStreamRequest request, CancellationToken cancellationToken = default) =>
        _client.SendAsync("CreateDeliveryStream", request, AwsJsonContext.Default.CreateDeliveryStreamRequest, AwsJsonContext.Default.CreateDeliveryStreamResponse, cancellationToken);

    /// <summary>Base64 plus per-record framing, so the pooled body is rented once at the right size.</summary>
    internal static int EstimateBody(IReadOnlyList<RecordData> records)
    {
        long total = 256;
        foreach (var r in records)
        {
            total += (((long)r.Length + 2) / 3 * 4) + 16;
        }

        return (int)Math.Min(total, int.MaxValue);
    }
}
