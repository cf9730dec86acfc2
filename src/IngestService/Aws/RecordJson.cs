using System.Text;
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

    /// <summary>
    /// Reads <c>{"&lt;countName&gt;":n, "&lt;arrayName&gt;":[{…ErrorCode?,ErrorMessage?,&lt;idName&gt;?}…]}</c>, strictly:
    /// a missing or non-integer count, a value of the wrong type or a number of entries other than
    /// <paramref name="expected"/> is a <see cref="JsonException"/>, never a guess. Whether the entries agree with
    /// the count is the sinks' check (<c>AwsRecordSink</c>), which also sees fakes' answers.
    /// </summary>
    public static (int Failed, PutRecordResultEntry[] Entries) ReadPutResponse(
        ReadOnlySpan<byte> json, ReadOnlySpan<byte> countName, ReadOnlySpan<byte> arrayName, ReadOnlySpan<byte> idName, int expected)
    {
        var reader = new Utf8JsonReader(json);
        int? failed = null;
        var entries = new PutRecordResultEntry[expected];
        var count = 0;
        Expect(ref reader, JsonTokenType.StartObject);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(countName))
            {
                reader.Read();
                failed = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var n) && n >= 0
                    ? n
                    : throw new JsonException($"{Encoding.UTF8.GetString(countName)} is not a count");
            }
            else if (reader.ValueTextEquals(arrayName))
            {
                Expect(ref reader, JsonTokenType.StartArray);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        throw new JsonException("a result entry is not an object");
                    }

                    string? code = null;
                    string? message = null;
                    string? shard = null;
                    string? id = null;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (reader.ValueTextEquals("ErrorCode"u8))
                        {
                            reader.Read();
                            code = OptionalString(ref reader, "ErrorCode");
                        }
                        else if (reader.ValueTextEquals(idName))
                        {
                            reader.Read();
                            id = OptionalString(ref reader, Encoding.UTF8.GetString(idName));
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
                        entries[count] = new PutRecordResultEntry(string.IsNullOrEmpty(code) ? null : AwsErrors.Normalize(code), message, shard, id);
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

        return (failed ?? throw new JsonException($"no {Encoding.UTF8.GetString(countName)}"), entries);
    }

    private static string? OptionalString(ref Utf8JsonReader reader, string name) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Null => null,
        _ => throw new JsonException($"{name} is not a string"),
    };

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (!reader.Read() || reader.TokenType != type)
        {
            throw new JsonException($"expected {type}");
        }
    }
}
