using System.Text.Json;
using System.Text;
using IngestService.Aws;

namespace IngestService.Tests.Delivery;

public sealed class RecordJsonTests
{
    [Fact]
    public void A_record_of_several_lines_is_one_base64_value_of_their_concatenation()
    {
        // Lengths that are not multiples of 3 make the segments' base64 carry bytes across parts.
        string[] lines = ["{\"a\":1}\n", "{\"bb\":22}\n", "x\n", "{\"cccc\":\"ü\"}\n"];
        var parts = lines.Select(l => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(l)).ToArray();
        using var body = new PooledBufferWriter(16);

        RecordJson.WritePutRecordBatch(body, new PutRecordBatchRequest
        {
            DeliveryStreamName = "s",
            Records = [new RecordData(new ArraySegment<ReadOnlyMemory<byte>>(parts, 0, 3)), new RecordData(new ArraySegment<ReadOnlyMemory<byte>>(parts, 3, 1))],
        });

        using var doc = JsonDocument.Parse(body.WrittenMemory);
        var records = doc.RootElement.GetProperty("Records").EnumerateArray().Select(r => Encoding.UTF8.GetString(r.GetProperty("Data").GetBytesFromBase64())).ToList();
        Assert.Equal("s", doc.RootElement.GetProperty("DeliveryStreamName").GetString());
        Assert.Equal([string.Concat(lines.Take(3)), lines[3]], records);
    }

    [Fact]
    public void Kinesis_entries_carry_their_partition_key()
    {
        ReadOnlyMemory<byte>[] parts = [Encoding.UTF8.GetBytes("one\n"), Encoding.UTF8.GetBytes("two\n")];
        using var body = new PooledBufferWriter(8);

        RecordJson.WritePutRecords(body, new PutRecordsRequest
        {
            StreamName = "k",
            Records = [new(new RecordData(new(parts, 0, 1)), "s1"), new(new RecordData(new(parts, 1, 1)), "s2")],
        });

        using var doc = JsonDocument.Parse(body.WrittenMemory);
        var entries = doc.RootElement.GetProperty("Records").EnumerateArray()
            .Select(r => (Encoding.UTF8.GetString(r.GetProperty("Data").GetBytesFromBase64()), r.GetProperty("PartitionKey").GetString())).ToList();
        Assert.Equal([("one\n", "s1"), ("two\n", "s2")], entries);
    }

    [Fact]
    public void A_partial_failure_answer_keeps_each_entry_in_request_order()
    {
        var json = """
            {"FailedRecordCount":1,"Records":[{"SequenceNumber":"1","ShardId":"shardId-0"},
            {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"slow down"},{"SequenceNumber":"3","ShardId":"shardId-0"}]}
            """u8;

        var (failed, entries) = RecordJson.ReadPutResponse(json, "FailedRecordCount"u8, "Records"u8, "SequenceNumber"u8, 3);

        Assert.Equal(1, failed);
        Assert.Equal([true, false, true], entries.Select(e => e.Succeeded));
        Assert.Equal("ProvisionedThroughputExceededException", entries[1].ErrorCode);
        Assert.Equal(["1", null, "3"], entries.Select(e => e.Id));
    }

    [Fact]
    public void An_answer_with_fewer_entries_than_records_is_refused()
    {
        var json = """{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[{"RecordId":"a"}]}"""u8.ToArray();

        Assert.Throws<JsonException>(() => RecordJson.ReadPutResponse(json, "FailedPutCount"u8, "RequestResponses"u8, "RecordId"u8, 2));
    }
}
