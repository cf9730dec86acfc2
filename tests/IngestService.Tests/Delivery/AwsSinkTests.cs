using System.Diagnostics.Metrics;
using System.IO.Compression;
using System.Text;
using IngestService.Aws;
using IngestService.Delivery;
using IngestService.Events;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IngestService.Tests.Delivery;

public sealed class AwsSinkTests : SinkTestBase
{
    [Fact]
    public async Task Firehose_packs_a_window_into_one_record_and_marks_every_event()
    {
        var client = new FakeFirehose();
        var events = Events(20);
        var accepted = new bool[20];

        await Firehose(client).DeliverAsync(events, accepted, default);

        var call = Assert.Single(client.Calls);
        Assert.Equal([string.Concat(events.Select(Text))], call);
        Assert.All(accepted, Assert.True);
    }

    [Fact]
    public async Task Firehose_resends_only_the_records_that_failed()
    {
        // 400 KiB events: two per record, so a window of 6 is three records.
        var client = new FakeFirehose { Fail = (call, record) => call == 0 && record == 1 ? "ServiceUnavailableException" : null };
        var events = Events(6, 400 * 1024);
        var accepted = new bool[6];

        await Firehose(client).DeliverAsync(events, accepted, default);

        Assert.Equal(3, client.Calls[0].Count);
        Assert.Equal([Text(events[2]) + Text(events[3])], client.Calls[1]);
        Assert.Equal(2, client.Calls.Count);
        Assert.All(accepted, Assert.True);
    }

    [Fact]
    public async Task Events_another_attempt_already_delivered_are_not_sent_again()
    {
        var client = new FakeFirehose();
        var events = Events(4);
        bool[] accepted = [true, false, true, false];

        await Firehose(client).DeliverAsync(events, accepted, default);

        Assert.Equal([Text(events[1]) + Text(events[3])], Assert.Single(client.Calls));
    }

    [Fact]
    public async Task A_non_retryable_error_fails_the_window_at_once()
    {
        var client = new FakeFirehose { Throw = _ => new AwsServiceException("AccessDeniedException", "no", System.Net.HttpStatusCode.BadRequest) };
        var accepted = new bool[3];

        var error = await Assert.ThrowsAsync<AwsServiceException>(() => Firehose(client).DeliverAsync(Events(3), accepted, default));

        Assert.Equal("AccessDeniedException", error.ErrorCode);
        Assert.Single(client.Calls);
        Assert.All(accepted, Assert.False);
    }

    [Fact]
    public async Task A_non_retryable_entry_error_keeps_what_was_accepted_and_stops()
    {
        var client = new FakeKinesis { Fail = (call, record) => record == 1 ? "InvalidArgumentException" : null };
        var accepted = new bool[3];

        await Assert.ThrowsAsync<AwsServiceException>(() => Kinesis(client).DeliverAsync(Events(3), accepted, default));

        Assert.Single(client.Calls);
        Assert.Equal([true, false, true], accepted);
    }

    [Fact]
    public async Task Server_errors_are_retried_until_the_call_succeeds()
    {
        var client = new FakeFirehose { Throw = call => call < 2 ? new AwsServiceException("InternalFailure", "oops", System.Net.HttpStatusCode.InternalServerError) : null };
        var accepted = new bool[2];

        await Firehose(client).DeliverAsync(Events(2), accepted, default);

        Assert.Equal(3, client.Calls.Count);
        Assert.All(accepted, Assert.True);
    }

    [Fact]
    public async Task Retries_stop_when_the_ack_deadline_fires()
    {
        using var deadline = new CancellationTokenSource();
        var client = new FakeFirehose
        {
            Fail = (call, _) =>
            {
                if (call == 2)
                {
                    deadline.Cancel();
                }

                return "ServiceUnavailableException";
            },
        };
        var accepted = new bool[2];

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Firehose(client).DeliverAsync(Events(2), accepted, deadline.Token));

        Assert.Equal(3, client.Calls.Count);
        Assert.All(accepted, Assert.False);
    }

    [Fact]
    public async Task Kinesis_sends_one_record_per_event_keyed_by_sensor_and_resends_only_failed_entries()
    {
        var client = new FakeKinesis { Fail = (call, record) => call == 0 && record % 2 == 0 ? "ProvisionedThroughputExceededException" : null };
        var events = Events(5);
        var accepted = new bool[5];

        await Kinesis(client).DeliverAsync(events, accepted, default);

        Assert.Equal(events.Select(e => (Text(e), e.SensorId)), client.Calls[0]);
        Assert.Equal(new[] { 0, 2, 4 }.Select(i => (Text(events[i]), events[i].SensorId)), client.Calls[1]);
        Assert.Equal(2, client.Calls.Count);
        Assert.All(accepted, Assert.True);
    }

    [Fact]
    public async Task Metrics_count_calls_retries_failed_entries_and_the_accepted_records_and_bytes_AWS_bills()
    {
        var counts = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == Metrics.Meter)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var key = instrument.Name + string.Concat(tags.ToArray().Where(t => t.Key != "sink").Select(t => $"[{t.Value}]"));
            lock (counts)
            {
                counts[key] = counts.GetValueOrDefault(key) + value;
            }
        });
        listener.Start();
        var client = new FakeKinesis { Fail = (call, record) => call == 0 && record < 2 ? "ProvisionedThroughputExceededException" : null };
        var events = Events(5);

        await Kinesis(client).DeliverAsync(events, new bool[5], default);

        Assert.Equal(1, counts["ingest_sink_calls[false]"]);
        Assert.Equal(1, counts["ingest_sink_calls[true]"]);
        Assert.Equal(2, counts["ingest_sink_errors[ProvisionedThroughputExceededException]"]);
        Assert.Equal(5, counts["ingest_sink_records"]);
        Assert.Equal(events.Sum(e => (long)e.Length), counts["ingest_sink_bytes"]);
    }

    [Fact]
    public async Task With_gzip_each_Firehose_record_is_one_gzip_member_of_whole_lines_and_the_billed_bytes_are_the_compressed_ones()
    {
        var billed = new Dictionary<string, long>();
        using var listener = SinkCounters(billed);
        var client = new FakeFirehose();
        var events = Events(20);
        var accepted = new bool[20];

        await Firehose(client, FirehoseCompression.Gzip).DeliverAsync(events, accepted, default);

        var record = Assert.Single(Assert.Single(client.RawCalls));
        Assert.Equal([0x1f, 0x8b], record[..2]);
        Assert.Equal(string.Concat(events.Select(Text)), Gunzip(record));
        Assert.All(accepted, Assert.True);
        Assert.Equal(record.Length, billed["ingest_sink_bytes"]);
        Assert.True(record.Length < events.Sum(e => e.Length) / 4, $"{record.Length} compressed bytes");
    }

    [Fact]
    public async Task With_gzip_the_record_limit_counts_compressed_bytes_so_one_record_carries_more_than_1000_KiB_of_lines()
    {
        var client = new FakeFirehose();
        var events = Events(4, 400 * 1024);

        await Firehose(client, FirehoseCompression.Gzip).DeliverAsync(events, new bool[4], default);

        var record = Assert.Single(Assert.Single(client.RawCalls));
        Assert.Equal(string.Concat(events.Select(Text)), Gunzip(record));
    }

    [Fact]
    public async Task With_gzip_lines_that_do_not_compress_under_the_limit_are_split_into_members_that_each_fit_in_order()
    {
        var client = new FakeFirehose();
        var random = new Random(7);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        var events = Events(8, 300 * 1024, _ => new string([.. Enumerable.Range(0, 300 * 1024).Select(_ => alphabet[random.Next(alphabet.Length)])]));
        var accepted = new bool[8];

        await Firehose(client, FirehoseCompression.Gzip).DeliverAsync(events, accepted, default);

        var records = client.RawCalls.SelectMany(c => c).ToList();
        Assert.True(records.Count > 1);
        Assert.All(records, r => Assert.InRange(r.Length, 1, PackingLimits.Firehose.MaxRecordBytes));
        Assert.Equal(string.Concat(events.Select(Text)), string.Concat(records.Select(Gunzip)));
        Assert.All(accepted, Assert.True);
    }

    [Fact]
    public async Task With_gzip_only_the_failed_member_is_sent_again()
    {
        var client = new FakeFirehose { Fail = (call, record) => call == 0 && record == 0 ? "ServiceUnavailableException" : null };
        var events = Events(5);
        var accepted = new bool[5];

        await Firehose(client, FirehoseCompression.Gzip).DeliverAsync(events, accepted, default);

        Assert.Equal(2, client.RawCalls.Count);
        Assert.Equal(string.Concat(events.Select(Text)), Gunzip(Assert.Single(client.RawCalls[1])));
        Assert.All(accepted, Assert.True);
    }

    private MeterListener SinkCounters(Dictionary<string, long> counts)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == Metrics.Meter)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            lock (counts)
            {
                counts[instrument.Name] = counts.GetValueOrDefault(instrument.Name) + value;
            }
        });
        listener.Start();
        return listener;
    }

    private static string Gunzip(byte[] member)
    {
        using var gzip = new GZipStream(new MemoryStream(member), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private FirehoseSink Firehose(IFirehoseClient client, FirehoseCompression compression = FirehoseCompression.None) =>
        new(client, Options.Create(new AwsOptions { DeliveryStream = "raw", FirehoseCompression = compression }), Metrics, TimeProvider.System, NullLogger<FirehoseSink>.Instance, retryDelays: NoWait);

    private KinesisSink Kinesis(IKinesisClient client) =>
        new(client, Options.Create(new AwsOptions { KinesisStream = "events" }), Metrics, TimeProvider.System, NullLogger<KinesisSink>.Instance, NoWait);

    private static List<PendingEvent> Events(int count, int size = 100, Func<int, string>? pad = null) =>
        [.. Enumerable.Range(0, count).Select(i =>
        {
            var line = $"{{\"sensorId\":\"s{i % 3}\",\"seq\":{i},\"pad\":\"";
            var text = line + (pad?.Invoke(i) ?? new string('x', Math.Max(0, size - line.Length - 3))) + "\"}\n";
            var bytes = Encoding.UTF8.GetBytes(text);
            return new PendingEvent($"s{i % 3}", new EventHeader(DateTimeOffset.UnixEpoch, i), bytes, bytes.Length, 0);
        })];

    private static string Text(PendingEvent e) => Encoding.UTF8.GetString(e.Line.Span);

    private static string Text(RecordData data) => string.Concat(data.Parts.Select(p => Encoding.UTF8.GetString(p.Span)));

    private sealed class FakeFirehose : IFirehoseClient
    {
        public List<List<string>> Calls { get; } = [];

        /// <summary>Each call's records as the bytes sent.</summary>
        public List<List<byte[]>> RawCalls { get; } = [];

        public Func<int, int, string?> Fail { get; init; } = (_, _) => null;

        public Func<int, Exception?> Throw { get; init; } = _ => null;

        public Task<PutRecordBatchResponse> PutRecordBatchAsync(PutRecordBatchRequest request, CancellationToken cancellationToken = default)
        {
            int call;
            lock (Calls)
            {
                call = Calls.Count;
                Calls.Add([.. request.Records.Select(Text)]);
                RawCalls.Add([.. request.Records.Select(r => r.Parts.SelectMany(p => p.ToArray()).ToArray())]);
            }

            if (Throw(call) is { } ex)
            {
                throw ex;
            }

            var entries = request.Records.Select((_, r) => Fail(call, r) is { } code ? new PutRecordResultEntry(code, null) : new PutRecordResultEntry(null, null, Id: $"r{call}-{r}")).ToArray();
            return Task.FromResult(new PutRecordBatchResponse(entries.Count(e => !e.Succeeded), entries));
        }

        public Task<DescribeDeliveryStreamResponse> DescribeDeliveryStreamAsync(DescribeDeliveryStreamRequest request, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<CreateDeliveryStreamResponse> CreateDeliveryStreamAsync(CreateDeliveryStreamRequest request, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }

    private sealed class FakeKinesis : IKinesisClient
    {
        public List<List<(string Data, string PartitionKey)>> Calls { get; } = [];

        public Func<int, int, string?> Fail { get; init; } = (_, _) => null;

        public Task<PutRecordsResponse> PutRecordsAsync(PutRecordsRequest request, CancellationToken cancellationToken = default)
        {
            int call;
            lock (Calls)
            {
                call = Calls.Count;
                Calls.Add([.. request.Records.Select(r => (Text(r.Data), r.PartitionKey))]);
            }

            var entries = request.Records.Select((_, r) => Fail(call, r) is { } code ? new PutRecordResultEntry(code, null) : new PutRecordResultEntry(null, null, "shardId-000000000000", $"{call}{r:D4}")).ToArray();
            return Task.FromResult(new PutRecordsResponse(entries.Count(e => !e.Succeeded), entries));
        }

        public Task<DescribeStreamSummaryResponse> DescribeStreamSummaryAsync(DescribeStreamSummaryRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task CreateStreamAsync(CreateStreamRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<ListShardsResponse> ListShardsAsync(ListShardsRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<GetShardIteratorResponse> GetShardIteratorAsync(GetShardIteratorRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<GetRecordsResponse> GetRecordsAsync(GetRecordsRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
