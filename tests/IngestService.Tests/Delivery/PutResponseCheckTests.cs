using System.Net;
using System.Text;
using Amazon.Runtime;
using IngestService.Aws;
using IngestService.Delivery;
using IngestService.Events;
using IngestService.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IngestService.Tests.Delivery;

/// <summary>
/// Put answers that are not what Firehose and Kinesis send for accepted records, served through the real clients
/// by a handler that answers what a test says: none of them acknowledges an event, and none is retried into one.
/// </summary>
public sealed class PutResponseCheckTests : SinkTestBase
{
    public static TheoryData<string> BadFirehoseAnswers() =>
    [
        """{"FailedPutCount":0,"RequestResponses":[{}]}""",
        """{"FailedPutCount":0,"RequestResponses":[{"RecordId":""}]}""",
        """{"FailedPutCount":0,"RequestResponses":[{"RecordId":null}]}""",
        """{"FailedPutCount":0,"RequestResponses":[{"RecordId":7}]}""",
        """{"FailedPutCount":1,"RequestResponses":[{"RecordId":"r1"}]}""",
        """{"FailedPutCount":0,"RequestResponses":[{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"busy"}]}""",
        """{"RequestResponses":[{"RecordId":"r1"}]}""",
        """{"FailedPutCount":"0","RequestResponses":[{"RecordId":"r1"}]}""",
        """{"FailedPutCount":0,"RequestResponses":[{"ErrorCode":5}]}""",
        """{"FailedPutCount":0,"RequestResponses":[]}""",
        """{"FailedPutCount":0,"RequestResponses":[{"RecordId":"r1"},{"RecordId":"r2"}]}""",
        """{"FailedPutCount":0}""",
        """{"FailedPutCount":0,"RequestResponses":{"RecordId":"r1"}}""",
        """{}""",
        """[]""",
        """null""",
        "",
    ];

    public static TheoryData<string> BadKinesisAnswers() =>
    [
        """{"FailedRecordCount":0,"Records":[{"ShardId":"shardId-000000000000"}]}""",
        """{"FailedRecordCount":0,"Records":[{"SequenceNumber":"","ShardId":"shardId-000000000000"}]}""",
        """{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}""",
        """{"FailedRecordCount":0,"Records":[{"ErrorCode":"ProvisionedThroughputExceededException"}]}""",
        """{"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}""",
        """{"FailedRecordCount":0,"Records":[]}""",
        """{"FailedRecordCount":-1,"Records":[{"SequenceNumber":"1"}]}""",
    ];

    [Theory]
    [MemberData(nameof(BadFirehoseAnswers))]
    public async Task A_Firehose_answer_that_does_not_account_for_every_record_acknowledges_nothing_and_is_not_retried(string answer)
    {
        var handler = new AnsweringHandler(_ => answer);
        using var connection = Connection(handler);

        await AcknowledgesNothingAsync(
            new FirehoseSink(new FirehoseClient(connection), AwsOptionsFor(), Metrics, TimeProvider.System, NullLogger<FirehoseSink>.Instance, retryDelays: NoWait), handler);
    }

    [Theory]
    [MemberData(nameof(BadKinesisAnswers))]
    public async Task A_Kinesis_answer_that_does_not_account_for_every_record_acknowledges_nothing_and_is_not_retried(string answer)
    {
        var handler = new AnsweringHandler(_ => answer);
        using var connection = Connection(handler);

        await AcknowledgesNothingAsync(
            new KinesisSink(new KinesisClient(connection), AwsOptionsFor(), Metrics, TimeProvider.System, NullLogger<KinesisSink>.Instance, retryDelays: NoWait), handler);
    }

    /// <summary>One call, a non-retryable MalformedResponse, and the event not accepted.</summary>
    private static async Task AcknowledgesNothingAsync(IEventSink sink, AnsweringHandler handler)
    {
        var accepted = new bool[1];

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var error = await Assert.ThrowsAsync<AwsServiceException>(() => sink.DeliverAsync([Event()], accepted, deadline.Token));

        Assert.Equal("MalformedResponse", error.ErrorCode);
        Assert.False(accepted[0]);
        Assert.Equal(1, handler.Calls);
    }

    [Fact]
    public async Task Well_formed_answers_with_a_refused_record_still_retry_only_that_record()
    {
        var handler = new AnsweringHandler(call => call == 0
            ? """{"FailedPutCount":1,"RequestResponses":[{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"busy"}]}"""
            : """{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[{"RecordId":"r2"}]}""");
        using var connection = Connection(handler);
        var sink = new FirehoseSink(new FirehoseClient(connection), AwsOptionsFor(), Metrics, TimeProvider.System, NullLogger<FirehoseSink>.Instance, retryDelays: NoWait);
        var accepted = new bool[1];

        await sink.DeliverAsync([Event()], accepted, default);

        Assert.True(accepted[0]);
        Assert.Equal(2, handler.Calls);
    }

    [Fact]
    public async Task A_sensor_whose_window_got_a_Firehose_answer_without_a_RecordId_gets_503_not_200()
    {
        var handler = new AnsweringHandler(_ => "", (target, _) => target switch
        {
            "Firehose_20150804.PutRecordBatch" => """{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[{}]}""",
            "Kinesis_20131202.PutRecords" => """{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}""",
            _ => "{}",
        });
        using var app = new IngestAppFactory(
            new()
            {
                ["Aws:Region"] = "us-east-1",
                ["Aws:ServiceUrl"] = "http://aws.test",
                ["Aws:Bucket"] = "b",
                ["Aws:DeliveryStream"] = "d",
                ["Aws:KinesisStream"] = "k",
                ["Aws:FirehoseCompression"] = "None",
            },
            backend: TestBackend.Aws,
            services: s => s.RemoveAll<AwsConnection>().AddSingleton(_ => Connection(handler)));
        using var client = app.CreateClient();

        using var content = new StringContent("""{"ts":"2026-11-21T10:00:00Z","seq":1}""", Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("/v1/sensors/s1/events", content);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter is not null);
    }

    private static PendingEvent Event()
    {
        var line = """{"sensorId":"s1","seq":1,"event":{}}""" + "\n";
        var bytes = Encoding.UTF8.GetBytes(line);
        return new PendingEvent("s1", new EventHeader(DateTimeOffset.UnixEpoch, 1), bytes, bytes.Length, 0);
    }

    private static IOptions<AwsOptions> AwsOptionsFor() =>
        Options.Create(new AwsOptions { DeliveryStream = "d", KinesisStream = "k", FirehoseCompression = FirehoseCompression.None });

    private static AwsConnection Connection(HttpMessageHandler handler) =>
        new(Options.Create(new AwsOptions { Region = "us-east-1", ServiceUrl = "http://aws.test" }), new BasicAWSCredentials("a", "b"), handler);

    /// <summary>Answers 200 with the body a test gives, per call or per X-Amz-Target.</summary>
    private sealed class AnsweringHandler(Func<int, string> byCall, Func<string, int, string>? byTarget = null) : HttpMessageHandler
    {
        private int _calls;

        public int Calls => _calls;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var call = Interlocked.Increment(ref _calls) - 1;
            var target = request.Headers.TryGetValues("X-Amz-Target", out var t) ? t.Single() : "";
            var body = byTarget is null ? byCall(call) : byTarget(target, call);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/x-amz-json-1.1") });
        }
    }
}
