using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text;
using Amazon.Runtime;
using IngestService.Aws;
using Microsoft.Extensions.Options;

namespace IngestService.Tests.Delivery;

public sealed class AwsJsonClientTests
{
    private const string Ok = """{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}""";

    [Fact]
    public async Task Requests_are_signed_for_the_service_and_region_with_the_session_token_and_payload_hash()
    {
        var handler = new CapturingHandler(HttpStatusCode.OK, Ok);
        using var connection = Connection(handler, new SessionAWSCredentials("AKIDEXAMPLE", "secret", "the-session-token"));

        await new KinesisClient(connection).PutRecordsAsync(Put("hello\n", "s1"));

        var request = handler.Requests.Single();
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("Kinesis_20131202.PutRecords", request.Headers["X-Amz-Target"]);
        Assert.Equal("application/x-amz-json-1.1", request.Headers["Content-Type"]);
        Assert.StartsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", request.Headers["Authorization"], StringComparison.Ordinal);
        Assert.Contains("/eu-west-1/kinesis/aws4_request", request.Headers["Authorization"], StringComparison.Ordinal);
        Assert.Contains("x-amz-target", request.Headers["Authorization"], StringComparison.Ordinal);
        Assert.Equal("the-session-token", request.Headers["X-Amz-Security-Token"]);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(request.Body)), request.Headers["X-Amz-Content-SHA256"]);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("events", body.RootElement.GetProperty("StreamName").GetString());
        Assert.Equal("s1", body.RootElement.GetProperty("Records")[0].GetProperty("PartitionKey").GetString());
    }

    [Fact]
    public async Task A_JSON_error_answer_becomes_a_classified_exception()
    {
        var handler = new CapturingHandler(HttpStatusCode.BadRequest, """{"__type":"ResourceNotFoundException","message":"Stream events not found"}""");
        using var connection = Connection(handler, new BasicAWSCredentials("a", "b"));

        var error = await Assert.ThrowsAsync<AwsServiceException>(() => new KinesisClient(connection).PutRecordsAsync(Put("x\n", "s1")));

        Assert.Equal("ResourceNotFoundException", error.ErrorCode);
        Assert.False(error.IsRetryable);
    }

    [Fact]
    public async Task A_transport_failure_is_retryable()
    {
        using var connection = Connection(new CapturingHandler(new HttpRequestException("connection refused")), new BasicAWSCredentials("a", "b"));

        var error = await Assert.ThrowsAsync<AwsServiceException>(() => new FirehoseClient(connection).DescribeDeliveryStreamAsync(new DescribeDeliveryStreamRequest("raw")));

        Assert.Equal("NetworkError", error.ErrorCode);
        Assert.True(error.IsRetryable);
    }

    private static PutRecordsRequest Put(string data, string key) =>
        new() { StreamName = "events", Records = [new(new RecordData(new([Encoding.UTF8.GetBytes(data)])), key)] };

    private static AwsConnection Connection(HttpMessageHandler handler, AWSCredentials credentials) =>
        new(Options.Create(new AwsOptions { Region = "eu-west-1", ServiceUrl = "http://aws.test" }), credentials, handler);

    private sealed record Captured(HttpMethod Method, Dictionary<string, string> Headers, byte[] Body);

    private sealed class CapturingHandler : HttpMessageHandler
    {
        private readonly HttpStatusCode _status;
        private readonly string _answer = "";
        private readonly Exception? _failure;

        public CapturingHandler(HttpStatusCode status, string answer)
        {
            _status = status;
            _answer = answer;
        }

        public CapturingHandler(Exception failure) => _failure = failure;

        public List<Captured> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (_failure is not null)
            {
                throw _failure;
            }

            var headers = request.Headers.Concat(request.Content!.Headers).ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
            Requests.Add(new Captured(request.Method, headers, await request.Content.ReadAsByteArrayAsync(cancellationToken)));
            return new HttpResponseMessage(_status) { Content = new StringContent(_answer) };
        }
    }
}
