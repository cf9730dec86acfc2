using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text;
using Amazon.Runtime;
using Amazon.S3.Model;
using IngestService.Aws;
using IngestService.Tests.Infrastructure;

namespace IngestService.IntegrationTests;

[Collection(MotoCollection.Name)]
public sealed partial class AwsDeliveryTests(MotoFixture moto) : IAsyncLifetime
{
    private FaultProxy _proxy = null!;

    public async Task InitializeAsync() => _proxy = await FaultProxy.StartAsync(moto.Endpoint);

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task Acknowledged_events_are_in_S3_under_Firehose_layout_packed_into_fewer_records_and_in_Kinesis_one_per_event_in_sensor_order()
    {
        await using var app = new IngestAppFactory(moto.Settings(_proxy.Url), backend: TestBackend.Aws, awsCredentials: moto.Service);
        using var client = app.CreateClient();
        var sensors = Enumerable.Range(1, 6).Select(i => $"pack-{i}").ToArray();

        // Each sensor sends its next event only after the previous one was acknowledged, as real sensors do.
        await Task.WhenAll(sensors.Select(async sensor =>
        {
            for (var seq = 1; seq <= 5; seq++)
            {
                using var response = await PostAsync(client, sensor, seq);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }));

        var sent = sensors.SelectMany(s => Enumerable.Range(1, 5).Select(seq => (s, seq))).ToHashSet();

        var firehoseRecords = _proxy.Calls.Where(c => c.Operation == "PutRecordBatch" && c.Entries.Any(e => e.Contains("\"pack-", StringComparison.Ordinal)))
            .Sum(c => c.Entries.Count);
        Assert.InRange(firehoseRecords, 1, sent.Count - 1);

        var raw = await RawLinesAsync("pack-");
        Assert.Equal(sent, raw.Select(Identity).ToHashSet());
        Assert.Equal(sent.Count, raw.Count);

        var stream = await StreamRecordsAsync();
        var ours = stream.Where(r => r.PartitionKey.StartsWith("pack-", StringComparison.Ordinal)).ToList();
        Assert.Equal(sent.Count, ours.Count);
        foreach (var record in ours)
        {
            var (sensor, _) = Identity(Encoding.UTF8.GetString(record.Data));
            Assert.Equal(sensor, record.PartitionKey);
            Assert.EndsWith("\n", Encoding.UTF8.GetString(record.Data), StringComparison.Ordinal);
        }

        foreach (var sensor in sensors)
        {
            var order = ours.Where(r => r.PartitionKey == sensor).Select(r => Identity(Encoding.UTF8.GetString(r.Data)).Seq).ToList();
            Assert.Equal([1, 2, 3, 4, 5], order);
        }
    }

    [Fact]
    public async Task A_wrong_secret_key_gets_no_acknowledgement_and_the_node_is_not_ready()
    {
        var wrong = new BasicAWSCredentials(moto.ServiceAccessKeyId, "not-the-secret-key-at-all");
        await using var app = new IngestAppFactory(moto.Settings(_proxy.Url), backend: TestBackend.Aws, awsCredentials: wrong);
        using var client = app.CreateClient();

        using var response = await PostAsync(client, "wrong-key-1", 1);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var refused = Assert.Single(_proxy.CallsWith("PutRecordBatch", "\"wrong-key-1\""));
        Assert.Equal(403, refused.Status);
        using var ready = await client.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }

    [Fact]
    public async Task Failed_entries_are_resent_alone_and_no_acknowledged_event_is_lost()
    {
        // Every Kinesis entry of an even seq fails once; every Firehose record fails once.
        var failedOnce = new HashSet<string>();
        _proxy.FailEntry = (operation, data) =>
        {
            if (!data.Contains("\"partial-1\"", StringComparison.Ordinal))
            {
                return false;
            }

            var even = operation == "PutRecordBatch" || Identity(data).Seq % 2 == 0;
            lock (failedOnce)
            {
                return even && failedOnce.Add(operation + data);
            }
        };
        await using var app = new IngestAppFactory(moto.Settings(_proxy.Url), backend: TestBackend.Aws, awsCredentials: moto.Service);
        using var client = app.CreateClient();

        var backlog = string.Concat(Enumerable.Range(1, 10).Select(seq => Event(seq) + "\n"));
        using var response = await client.PostAsync(
            new Uri("/v1/sensors/partial-1/events", UriKind.Relative), new StringContent(backlog, Encoding.UTF8, "application/x-ndjson"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var kinesis = _proxy.CallsWith("PutRecords", "\"partial-1\"");
        var kinesisEntries = kinesis.SelectMany(c => c.Entries).Select(e => Identity(e).Seq).ToList();
        Assert.Equal(15, kinesisEntries.Count);
        var resent = kinesisEntries.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).Order().ToList();
        Assert.Equal([2, 4, 6, 8, 10], resent);

        var firehose = _proxy.CallsWith("PutRecordBatch", "\"partial-1\"");
        var firstTry = firehose.Where(c => c.FailedEntries.All(f => f)).SelectMany(c => c.Entries).Order().ToList();
        var secondTry = firehose.Where(c => !c.FailedEntries.Any(f => f)).SelectMany(c => c.Entries).Order().ToList();
        Assert.Equal(firstTry, secondTry);

        // Everything acknowledged is in both places (the failed first tries may be there twice: at-least-once).
        var expected = Enumerable.Range(1, 10).Select(seq => ("partial-1", seq)).ToHashSet();
        Assert.Equal(expected, (await RawLinesAsync("partial-1")).Select(Identity).ToHashSet());
        Assert.Equal(expected, (await StreamRecordsAsync()).Where(r => r.PartitionKey == "partial-1").Select(r => Identity(Encoding.UTF8.GetString(r.Data))).ToHashSet());
    }

    [Fact]
    public async Task A_server_error_is_retried_and_the_sink_that_accepted_is_not_sent_the_event_again()
    {
        var failed = 0;
        _proxy.FailCall = (operation, entries) =>
            operation == "PutRecordBatch" && entries.Any(e => e.Contains("\"flaky-1\"", StringComparison.Ordinal)) && Interlocked.Increment(ref failed) == 1 ? 500 : null;
        await using var app = new IngestAppFactory(moto.Settings(_proxy.Url), backend: TestBackend.Aws, awsCredentials: moto.Service);
        using var client = app.CreateClient();

        using var response = await PostAsync(client, "flaky-1", 1);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([500, 200], _proxy.CallsWith("PutRecordBatch", "\"flaky-1\"").Select(c => c.Status));
        Assert.Single(_proxy.CallsWith("PutRecords", "\"flaky-1\""));
        Assert.Single(await RawLinesAsync("flaky-1"));
    }

    [Fact]
    public async Task A_sink_slower_than_the_ack_timeout_gets_503_and_the_resent_event_is_then_stored()
    {
        var delayed = 0;
        _proxy.Delay = (operation, entries) =>
            operation == "PutRecords" && entries.Any(e => e.Contains("\"slow-1\"", StringComparison.Ordinal)) && Interlocked.Increment(ref delayed) == 1
                ? TimeSpan.FromSeconds(3)
                : TimeSpan.Zero;
        await using var app = new IngestAppFactory(moto.Settings(_proxy.Url, new() { ["Batching:AckTimeout"] = "00:00:01" }), backend: TestBackend.Aws, awsCredentials: moto.Service);
        using var client = app.CreateClient();

        using var first = await PostAsync(client, "slow-1", 1);

        // Resent as a sensor would, until stored: on a loaded machine even an undelayed try may miss 1 s.
        var resends = 0;
        HttpStatusCode status;
        do
        {
            using var resent = await PostAsync(client, "slow-1", 1);
            status = resent.StatusCode;
        }
        while (status != HttpStatusCode.OK && ++resends < 5);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(("slow-1", 1), (await RawLinesAsync("slow-1")).Select(Identity));
    }

    [Fact]
    public async Task With_gzip_records_the_raw_object_is_a_multi_member_gzip_stream_that_zcat_reads_back_as_the_acknowledged_NDJSON()
    {
        await using var app = new IngestAppFactory(moto.Settings(_proxy.Url, new() { ["Aws:FirehoseCompression"] = "Gzip" }), backend: TestBackend.Aws, awsCredentials: moto.Service);
        using var client = app.CreateClient();

        // Incompressible padding, so one window's lines need more than one 1,000 KiB gzip record.
        var random = new Random(14);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        var events = Enumerable.Range(1, 40)
            .Select(seq => $$"""{"ts":"2026-11-21T10:00:{{seq % 60:00}}Z","seq":{{seq}},"pad":"{{new string([.. Enumerable.Range(0, 60_000).Select(_ => alphabet[random.Next(64)])])}}"}""")
            .ToList();
        using var response = await client.PostAsync(
            new Uri("/v1/sensors/gz-1/events", UriKind.Relative), new StringContent(string.Join('\n', events), Encoding.UTF8, "application/x-ndjson"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var call = Assert.Single(_proxy.CallsWith("PutRecordBatch", "\"gz-1\""));
        Assert.True(call.Entries.Count >= 2, $"{call.Entries.Count} records");
        using var s3 = moto.AdminS3();
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = moto.Bucket });
        byte[]? gzip = null;
        foreach (var o in (objects.S3Objects ?? []).Where(o => o.Key.StartsWith("raw/", StringComparison.Ordinal)))
        {
            using var get = await s3.GetObjectAsync(moto.Bucket, o.Key);
            using var bytes = new MemoryStream();
            await get.ResponseStream.CopyToAsync(bytes);
            if (Encoding.UTF8.GetString(FaultProxy.Plain(bytes.ToArray())).Contains("\"gz-1\"", StringComparison.Ordinal))
            {
                Assert.Null(gzip);
                gzip = bytes.ToArray();
            }
        }

        Assert.NotNull(gzip);
        Assert.Equal([0x1f, 0x8b], gzip[..2]);
        var ndjson = await ZcatAsync(gzip);
        Assert.Equal(string.Concat(call.Entries), ndjson);
        var lines = ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(events.Count, lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            Assert.Equal(("gz-1", i + 1), Identity(lines[i]));
            Assert.EndsWith(",\"event\":" + events[i] + "}", lines[i], StringComparison.Ordinal);
        }

        // Kinesis records stay plain NDJSON lines for consumers.
        var stream = (await StreamRecordsAsync()).Where(r => r.PartitionKey == "gz-1").Select(r => Encoding.UTF8.GetString(r.Data)).ToList();
        Assert.Equal(lines.Select(l => l + "\n"), stream);
    }

    /// <summary>What <c>zcat</c> makes of the bytes: every member, one after the other.</summary>
    private static async Task<string> ZcatAsync(byte[] gzip)
    {
        using var zcat = Process.Start(new ProcessStartInfo("gzip", "-dc") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false })!;
        var output = zcat.StandardOutput.ReadToEndAsync();
        await zcat.StandardInput.BaseStream.WriteAsync(gzip);
        zcat.StandardInput.Close();
        var text = await output;
        await zcat.WaitForExitAsync();
        Assert.Equal(0, zcat.ExitCode);
        return text;
    }

    private static string Event(int seq) => $$"""{"ts":"2026-11-21T10:00:{{seq % 60:00}}Z","seq":{{seq}},"temperature":21.5,"pad":"{{new string('x', 200)}}"}""";

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string sensor, int seq) =>
        client.PostAsync(new Uri($"/v1/sensors/{sensor}/events", UriKind.Relative), new StringContent(Event(seq), Encoding.UTF8, "application/json"));

    private static (string Sensor, int Seq) Identity(string line)
    {
        using var doc = JsonDocument.Parse(line);
        return (doc.RootElement.GetProperty("sensorId").GetString()!, doc.RootElement.GetProperty("seq").GetInt32());
    }

    /// <summary>Lines of every raw object whose sensor id starts with <paramref name="sensorPrefix"/>; checks the key layout on the way.</summary>
    private async Task<List<string>> RawLinesAsync(string sensorPrefix)
    {
        using var s3 = moto.AdminS3();
        var lines = new List<string>();
        // No Prefix: moto 5.2.1 with IAM enforced rejects the signature of any S3 request whose query carries
        // a '/' (botocore's too), so the whole bucket is listed and filtered here.
        var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = moto.Bucket });
        Assert.False(page.IsTruncated);
        foreach (var o in (page.S3Objects ?? []).Where(o => o.Key.StartsWith("raw/", StringComparison.Ordinal)))
        {
            Assert.Matches(RawKey(), o.Key);
            // Firehose names the folder by arrival time: today's, or yesterday's when the run crossed midnight.
            var today = DateTime.UtcNow;
            Assert.True(o.Key.StartsWith($"raw/{today:yyyy/MM/dd}/", StringComparison.Ordinal)
                || o.Key.StartsWith($"raw/{today.AddDays(-1):yyyy/MM/dd}/", StringComparison.Ordinal), o.Key);
            using var get = await s3.GetObjectAsync(moto.Bucket, o.Key);
            using var raw = new MemoryStream();
            await get.ResponseStream.CopyToAsync(raw);
            var text = Encoding.UTF8.GetString(FaultProxy.Plain(raw.ToArray()));
            Assert.EndsWith("\n", text, StringComparison.Ordinal);
            lines.AddRange(text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => Identity(l).Sensor.StartsWith(sensorPrefix, StringComparison.Ordinal)));
        }

        return lines;
    }

    private async Task<List<KinesisRecord>> StreamRecordsAsync()
    {
        using var connection = moto.Connection(moto.Admin);
        var kinesis = new KinesisClient(connection);
        var records = new List<KinesisRecord>();
        var shards = await kinesis.ListShardsAsync(new ListShardsRequest(moto.KinesisStream));
        foreach (var shard in shards.Shards)
        {
            var iterator = (await kinesis.GetShardIteratorAsync(new GetShardIteratorRequest(moto.KinesisStream, shard.ShardId, "TRIM_HORIZON"))).ShardIterator;
            while (true)
            {
                var batch = await kinesis.GetRecordsAsync(new GetRecordsRequest(iterator, 10000));
                records.AddRange(batch.Records);
                if (batch.Records.Count == 0 || batch.NextShardIterator is null)
                {
                    break;
                }

                iterator = batch.NextShardIterator;
            }
        }

        return records;
    }

    [GeneratedRegex(@"^raw/\d{4}/\d{2}/\d{2}/\d{2}/ingest-it-raw-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}$")]
    private static partial Regex RawKey();
}
