using System.Buffers;

namespace IngestService.Delivery;

/// <summary>The service limits one sink packs a window's events into.</summary>
/// <param name="MaxRecordBytes">Largest record, counted before base64.</param>
/// <param name="MaxEventsPerRecord">1 for one record per event (Kinesis), else as many as fit.</param>
/// <param name="MaxRecordsPerCall">Entries per API call.</param>
/// <param name="MaxCallBytes">Budget per call, counted as <paramref name="CountBase64"/> says plus each record's overhead.</param>
/// <param name="CountBase64">Whether the call budget counts records as their base64 text.</param>
public readonly record struct PackingLimits(int MaxRecordBytes, int MaxEventsPerRecord, int MaxRecordsPerCall, long MaxCallBytes, bool CountBase64)
{
    /// <summary>
    /// Firehose: 1,000 KiB per record, 500 records and 4 MiB per call. Whether base64 counts toward the 4 MiB
    /// is not documented, so it is counted, and the budget stays 4 % under the limit.
    /// </summary>
    public static PackingLimits Firehose => new(1_000 * 1024, int.MaxValue, 500, 4_000_000, CountBase64: true);

    /// <summary>Kinesis: one record per event, 1 MiB per record, 500 records and 5 MiB (data plus partition keys) per call.</summary>
    public static PackingLimits Kinesis => new(1024 * 1024, 1, 500, 5 * 1024 * 1024, CountBase64: false);

    /// <summary>
    /// Kinesis with KPL aggregation: many events per record. Sizes are counted with each event's worst-case
    /// protobuf framing, and the record stays a little under 1 MiB for the magic bytes, checksum and the
    /// partition key that shares the record's limit.
    /// </summary>
    public static PackingLimits KinesisAggregated => new((1024 * 1024) - 1024, int.MaxValue, 500, 5 * 1024 * 1024, CountBase64: false);

    public long CallCost(int recordBytes, int overhead) => (CountBase64 ? ((long)recordBytes + 2) / 3 * 4 : recordBytes) + overhead;
}

/// <summary>A record: <c>Count</c> consecutive entries of <see cref="Packing.Events"/> from <c>Start</c>.</summary>
public readonly record struct PackedRecord(int Start, int Count, int Bytes);

/// <summary>A call: <c>RecordCount</c> consecutive records from <c>FirstRecord</c>.</summary>
public readonly record struct PackedCall(int FirstRecord, int RecordCount, long Cost);

/// <summary>
/// A window's events laid out in records and calls. A record is a list of event indexes (a slice of
/// <see cref="Events"/>), so a record format that holds several events per record (Firehose's
/// concatenated lines now, KPL aggregation later) needs no other shape.
/// </summary>
public sealed class Packing : IDisposable
{
    /// <summary>Event indexes in record order.</summary>
    public int[] Events { get; internal set; } = [];

    public List<PackedRecord> Records { get; } = [];

    public List<PackedCall> Calls { get; } = [];

    /// <summary>Events larger than one record can hold: they cannot be delivered at all.</summary>
    public List<int> TooLarge { get; } = [];

    /// <summary>What the sink packed against, so every call of this packing puts by the same (KPL: the shard map).</summary>
    public object? PackedAgainst { get; set; }

    /// <summary>
    /// Each record's bytes when the sink encodes its events (Firehose gzip), in pooled arrays that
    /// <see cref="Dispose"/> returns; null when a record is its events' lines as they are.
    /// </summary>
    public List<ArraySegment<byte>>? Encoded { get; internal set; }

    /// <summary>Call once no request reads <see cref="Encoded"/> any more.</summary>
    public void Dispose()
    {
        foreach (var segment in Encoded ?? [])
        {
            ArrayPool<byte>.Shared.Return(segment.Array!);
        }

        Encoded = null;
    }
}

/// <summary>
/// Packs events into as few records and calls as the limits allow, keeping their order and never
/// splitting an event across records.
/// </summary>
public static class RecordPacker
{
    /// <param name="pending">Indexes of the events to send, in window order.</param>
    /// <param name="size">An event's bytes.</param>
    /// <param name="overhead">What a record starting with this event adds to its call's cost (framing, partition key).</param>
    /// <param name="limits">The sink's service limits.</param>
    /// <param name="group">When given, a record holds events of one group only (KPL: one shard per record).</param>
    public static Packing Pack(IReadOnlyList<int> pending, Func<int, int> size, Func<int, int> overhead, PackingLimits limits, Func<int, int>? group = null)
    {
        var order = new int[pending.Count];
        var packing = new Packing();
        var n = 0;

        var recordStart = 0;
        var recordCount = 0;
        var recordBytes = 0;
        var recordOverhead = 0;
        var recordGroup = 0;
        var callFirst = 0;
        var callRecords = 0;
        long callCost = 0;

        foreach (var e in pending)
        {
            var bytes = size(e);
            if (bytes > limits.MaxRecordBytes)
            {
                packing.TooLarge.Add(e);
                continue;
            }

            var eventGroup = group?.Invoke(e) ?? 0;
            var fitsRecord = recordCount > 0
                && eventGroup == recordGroup
                && recordCount < limits.MaxEventsPerRecord
                && recordBytes + bytes <= limits.MaxRecordBytes
                && callCost + limits.CallCost(recordBytes + bytes, recordOverhead) <= limits.MaxCallBytes;
            if (!fitsRecord)
            {
                if (recordCount > 0)
                {
                    CloseRecord();
                }

                recordStart = n;
                recordBytes = 0;
                recordGroup = eventGroup;
                recordOverhead = overhead(e);

                // The new record must also fit the current call; else the call closes first.
                if (callRecords >= limits.MaxRecordsPerCall || (callRecords > 0 && callCost + limits.CallCost(bytes, recordOverhead) > limits.MaxCallBytes))
                {
                    CloseCall();
                }
            }

            order[n++] = e;
            recordCount++;
            recordBytes += bytes;
        }

        if (recordCount > 0)
        {
            CloseRecord();
        }

        if (callRecords > 0)
        {
            CloseCall();
        }

        packing.Events = n == order.Length ? order : order[..n];
        return packing;

        void CloseRecord()
        {
            packing.Records.Add(new PackedRecord(recordStart, recordCount, recordBytes));
            callRecords++;
            callCost += limits.CallCost(recordBytes, recordOverhead);
            recordCount = 0;
        }

        void CloseCall()
        {
            packing.Calls.Add(new PackedCall(callFirst, callRecords, callCost));
            callFirst = packing.Records.Count;
            callRecords = 0;
            callCost = 0;
        }
    }
}
