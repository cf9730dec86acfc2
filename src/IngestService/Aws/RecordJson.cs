using System.Text.Json;

namespace IngestService.Aws;

/// <summary>
/// The hot path's JSON by hand: put requests are written with <see cref="Utf8JsonWriter"/> straight from the
/// events' pooled buffers (base64 streamed segment by segment), and put responses are read with
/// <see cref="Utf8JsonReader"/> keeping only error codes, so a call allocates nothing per event.
/// </summary>
internal static class RecordJson
{
    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };

    public static void WriteData(Utf8JsonWriter writer, RecordData data)
    {
        writer.WritePropertyName("Data"u8);
        var parts = data.Parts;
        if (parts.Count == 1)
        {
            writer.WriteBase64StringValue(parts[0].Span);
            return;
        }

        for (var i = 0; i < parts.Count; i++)
        {
            writer.WriteBase64StringSegment(parts[i].Span, isFinalSegment: i == parts.Count - 1);
        }

        if (parts.Count == 0)
        {
            writer.WriteBase64StringValue([]);
        }
    }

    public static void WritePutRecordBatch(PooledBufferWriter buffer, PutRecordBatchRequest request)
    {
        using var writer = new Utf8JsonWriter(buffer, WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("DeliveryStreamName"u8, request.DeliveryStreamName);
        writer.WriteStartArray("Records"u8);
        foreach (var record in request.Records)
        {
            writer.WriteStartObject();
            WriteData(writer, record);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static void WritePutRecords(PooledBufferWriter buffer, PutRecordsRequest request)
    {
        using var writer = new Utf8JsonWriter(buffer, WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("StreamName"u8, request.StreamName);
        writer.WriteStartArray("Records"u8);
        foreach (var record in request.Records)
        {
            writer.WriteStartObject();
            WriteData(writer, record.Data);
            writer.WriteString("PartitionKey"u8, record.PartitionKey);
            if (record.ExplicitHashKey is not null)
            {
                writer.WriteString("ExplicitHashKey"u8, record.ExplicitHashKey);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Reads <c>{"&lt;countName&gt;":n, "&lt;arrayName&gt;":[{…ErrorCode?,ErrorMessage?}…]}</c>.</summary>
    public static (int Failed, PutRecordResultEntry[] Entries) ReadPutResponse(ReadOnlySpan<byte> json, ReadOnlySpan<byte> countName, ReadOnlySpan<byte> arrayName, int expected)
    {
        var reader = new Utf8JsonReader(json);
        var failed = 0;
        var entries = new PutRecordResultEntry[expected];
        var count = 0;
        Expect(ref reader, JsonTokenType.StartObject);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(countName))
            {
                reader.Read();
                failed = reader.GetInt32();
            }
            else if (reader.ValueTextEquals(arrayName))
            {
                Expect(ref reader, JsonTokenType.StartArray);
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    string? code = null;
                    string? message = null;
                    string? shard = null;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (reader.ValueTextEquals("ErrorCode"u8))
                        {
                            reader.Read();
                            code = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        }
                        else if (reader.ValueTextEquals("ErrorMessage"u8))
                        {
                            reader.Read();
                            message = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        }
                        else if (reader.ValueTextEquals("ShardId"u8))
                        {
                            reader.Read();
                            shard = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        }
                        else
                        {
                            reader.Read();
                            reader.Skip();
                        }
                    }

                    if (count < entries.Length)
                    {
                        entries[count] = new PutRecordResultEntry(string.IsNullOrEmpty(code) ? null : AwsErrors.Normalize(code), message, shard);
                    }

                    count++;
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (count != expected)
        {
            throw new JsonException($"{count} result entries for {expected} records");
        }

        return (failed, entries);
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (!reader.Read() || reader.TokenType != type)
        {
            throw new JsonException($"expected {type}");
        }
    }
}
