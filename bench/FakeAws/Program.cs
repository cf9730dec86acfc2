using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;

// Stands in for Firehose and Kinesis in the ingest benchmark: every PutRecordBatch / PutRecords entry
// succeeds after --latency-ms, signatures are not checked, and S3 answers just enough for readiness.
// What it measures is the service's own cost per event, with AWS's round trip simulated by the delay.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
var latency = TimeSpan.FromMilliseconds(builder.Configuration.GetValue("latency-ms", 20));
var app = builder.Build();
var counts = new Counts();

app.MapGet("/_stats", () => Results.Json(counts.Snapshot()));
app.MapPost("/", async (HttpContext context) =>
{
    var target = context.Request.Headers["X-Amz-Target"].ToString();
    var (records, bytes) = await CountRecordsAsync(context.Request.BodyReader, context.RequestAborted);
    if (latency > TimeSpan.Zero)
    {
        await Task.Delay(latency, context.RequestAborted);
    }

    var reply = target switch
    {
        "Firehose_20150804.PutRecordBatch" => FirehoseReply(records),
        "Kinesis_20131202.PutRecords" => KinesisReply(records),
        "Firehose_20150804.DescribeDeliveryStream" =>
            """{"DeliveryStreamDescription":{"DeliveryStreamName":"bench","DeliveryStreamStatus":"ACTIVE","DeliveryStreamARN":"arn:aws:firehose:us-east-1:000000000000:deliverystream/bench","DeliveryStreamType":"DirectPut","VersionId":"1","Destinations":[],"HasMoreDestinations":false}}""",
        "Kinesis_20131202.DescribeStreamSummary" =>
            """{"StreamDescriptionSummary":{"StreamName":"bench","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/bench","StreamStatus":"ACTIVE","OpenShardCount":1,"RetentionPeriodHours":24,"StreamCreationTimestamp":0,"EnhancedMonitoring":[]}}""",
        // One shard over the whole hash key space, the same one every PutRecords answer names.
        "Kinesis_20131202.ListShards" =>
            """{"Shards":[{"ShardId":"shardId-000000000000","HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"340282366920938463463374607431768211455"},"SequenceNumberRange":{"StartingSequenceNumber":"1"}}]}""",
        "Kinesis_20131202.DescribeStream" =>
            """{"StreamDescription":{"StreamName":"bench","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/bench","StreamStatus":"ACTIVE","Shards":[],"HasMoreShards":false,"RetentionPeriodHours":24,"StreamCreationTimestamp":0,"EnhancedMonitoring":[]}}""",
        _ => null,
    };
    if (reply is null)
    {
        context.Response.StatusCode = 400;
        context.Response.ContentType = "application/x-amz-json-1.1";
        await context.Response.WriteAsync($$"""{"__type":"UnknownOperationException","message":"FakeAws does not implement '{{target}}'"}""");
        return;
    }

    counts.Add(target, records, bytes);
    context.Response.ContentType = "application/x-amz-json-1.1";
    await context.Response.WriteAsync(reply);
});

// S3: the service only needs its bucket to exist for readiness during ingest, path-style ("/bench") or
// virtual-hosted ("bench.host/", which arrives as "/").
const string EmptyListing =
    """<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bench</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>""";
app.MapMethods("/", ["HEAD"], () => Results.Ok());
app.MapGet("/", () => Results.Text(EmptyListing, "application/xml"));
app.MapMethods("/{bucket}", ["HEAD"], () => Results.Ok());
app.MapGet("/{bucket}", () => Results.Text(EmptyListing, "application/xml"));

app.Lifetime.ApplicationStopping.Register(() => Console.Error.WriteLine($"FakeAws: {JsonSerializer.Serialize(counts.Snapshot())}"));
app.Run();

static string FirehoseReply(int records)
{
    var json = new StringBuilder("""{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[""");
    for (var i = 0; i < records; i++)
    {
        json.Append(i == 0 ? "" : ",").Append("{\"RecordId\":\"fake").Append(Guid.NewGuid().ToString("N")).Append("\"}");
    }

    return json.Append("]}").ToString();
}

static string KinesisReply(int records)
{
    var json = new StringBuilder("""{"FailedRecordCount":0,"Records":[""");
    var sequence = Counts.NextSequence(records);
    for (var i = 0; i < records; i++)
    {
        json.Append(i == 0 ? "" : ",").Append("{\"SequenceNumber\":\"4963").Append(sequence + i).Append("\",\"ShardId\":\"shardId-000000000000\"}");
    }

    return json.Append("]}").ToString();
}

// Counts the entries of the top-level Records array and the size of their Data.
static async Task<(int Records, long Bytes)> CountRecordsAsync(PipeReader reader, CancellationToken cancellationToken)
{
    ReadResult read;
    while (true)
    {
        read = await reader.ReadAsync(cancellationToken);
        if (read.IsCompleted)
        {
            break;
        }

        reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
    }

    var result = Count(read.Buffer);
    reader.AdvanceTo(read.Buffer.End);
    return result;

    static (int, long) Count(ReadOnlySequence<byte> body)
    {
        var json = new Utf8JsonReader(body);
        var records = 0;
        long bytes = 0;
        var inRecords = false;
        while (json.Read())
        {
            if (json.CurrentDepth == 1 && json.TokenType == JsonTokenType.PropertyName)
            {
                inRecords = json.ValueTextEquals("Records"u8);
            }
            else if (inRecords && json.CurrentDepth == 2 && json.TokenType == JsonTokenType.StartObject)
            {
                records++;
            }
            else if (inRecords && json.CurrentDepth == 3 && json.TokenType == JsonTokenType.PropertyName && json.ValueTextEquals("Data"u8))
            {
                json.Read();
                bytes += json.HasValueSequence ? json.ValueSequence.Length * 3 / 4 : json.ValueSpan.Length * 3 / 4;
            }
        }

        return (records, bytes);
    }
}

internal sealed class Counts
{
    private static long s_sequence;
    private long _firehoseCalls;
    private long _firehoseRecords;
    private long _firehoseBytes;
    private long _kinesisCalls;
    private long _kinesisRecords;
    private long _kinesisBytes;

    public static long NextSequence(int records) => Interlocked.Add(ref s_sequence, records) - records;

    public void Add(string target, int records, long bytes)
    {
        if (target.StartsWith("Firehose", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _firehoseCalls);
            Interlocked.Add(ref _firehoseRecords, records);
            Interlocked.Add(ref _firehoseBytes, bytes);
        }
        else
        {
            Interlocked.Increment(ref _kinesisCalls);
            Interlocked.Add(ref _kinesisRecords, records);
            Interlocked.Add(ref _kinesisBytes, bytes);
        }
    }

    public Dictionary<string, long> Snapshot() => new()
    {
        ["firehoseCalls"] = Interlocked.Read(ref _firehoseCalls),
        ["firehoseRecords"] = Interlocked.Read(ref _firehoseRecords),
        ["firehoseBytes"] = Interlocked.Read(ref _firehoseBytes),
        ["kinesisCalls"] = Interlocked.Read(ref _kinesisCalls),
        ["kinesisRecords"] = Interlocked.Read(ref _kinesisRecords),
        ["kinesisBytes"] = Interlocked.Read(ref _kinesisBytes),
    };
}
