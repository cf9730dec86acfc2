using IngestService.Aws;
using IngestService.Resilience;
using IngestService.Storage;
using IngestService.Telemetry;
using Microsoft.Extensions.Options;

namespace IngestService.Delivery;

/// <summary>
/// Firehose: a window's NDJSON lines packed into as few records as fit (Firehose bills each record rounded
/// up to 5 KB, so one record per event would cost several times more), each a concatenation of whole
/// lines. Firehose writes records back to back, and every line already ends in <c>\n</c>. Under
/// <see cref="FirehoseCompression.Gzip"/> (the default) each record is one gzip member instead
/// (<see cref="GzipRecords"/>).
/// </summary>
/// <remarks>
/// Readiness also asks the object store (HeadBucket): the bucket is where Firehose delivers and what the
/// regroup worker and reads use, so a node that cannot reach it is not ready either.
/// </remarks>
public sealed class FirehoseSink(
    IFirehoseClient client, IOptions<AwsOptions> options, IngestMetrics metrics, TimeProvider time, ILogger<FirehoseSink> logger, IObjectStore? store = null, RetryDelays? retryDelays = null)
    : AwsRecordSink(metrics, time, retryDelays ?? RetryDelays.Sinks, logger)
{
    private readonly string _stream = options.Value.DeliveryStream!;
    private readonly bool _gzip = options.Value.FirehoseCompression == FirehoseCompression.Gzip;

    /// <summary>
    /// Envelope bytes per byte sent in the last window's records (1 for plain records), stored as the bits of a
    /// double: the batcher reads it while a flush writes it.
    /// </summary>
    private long _expansionBits = BitConverter.DoubleToInt64Bits(1.0);

    public override string Name => "firehose";

    /// <summary>
    /// From the last window's compression: small windows compress a little worse than the full record will, so the
    /// estimate errs toward a record slightly under the size asked, never over a billing increment.
    /// </summary>
    public override long EnvelopeBytesToFill(int recordBytes) =>
        (long)(recordBytes * BitConverter.Int64BitsToDouble(Interlocked.Read(ref _expansionBits)));

    protected override PackingLimits Limits => PackingLimits.Firehose;

    /// <summary>Firehose bills ingestion per record rounded up to 5 KB.</summary>
    protected override int BillingUnitBytes => 5 * 1024;

    public override async Task<string?> CheckReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            var d = await client.DescribeDeliveryStreamAsync(new DescribeDeliveryStreamRequest(_stream), cancellationToken);
            var status = d.DeliveryStreamDescription.DeliveryStreamStatus;
            if (status != "ACTIVE")
            {
                return $"Firehose delivery stream '{_stream}' is {status}";
            }

            return store is null ? null : await store.CheckReadyAsync(cancellationToken);
        }
        catch (AwsServiceException ex)
        {
            return $"Firehose delivery stream '{_stream}': {ex.Message}";
        }
    }

    /// <summary><c>{"Data":""},</c> around each record.</summary>
    protected override int RecordOverhead(PendingEvent first) => 12;

    /// <summary>Compressing a window takes milliseconds of CPU: it runs on the thread pool, not on the caller's flush.</summary>
    protected override ValueTask<Packing> PackAsync(IReadOnlyList<PendingEvent> events, List<int> pending, CancellationToken cancellationToken) =>
        _gzip
            ? new ValueTask<Packing>(Task.Run(() => Learn(GzipRecords.Pack(events, pending, Limits, RecordOverhead(events[0])), events), cancellationToken))
            : base.PackAsync(events, pending, cancellationToken);

    /// <summary>Remembers how much the window's lines shrank, for <see cref="EnvelopeBytesToFill"/>.</summary>
    private Packing Learn(Packing packing, IReadOnlyList<PendingEvent> events)
    {
        long sent = 0;
        long plain = 0;
        foreach (var record in packing.Records)
        {
            sent += record.Bytes;
        }

        foreach (var e in packing.Events)
        {
            plain += events[e].Length;
        }

        if (sent > 0)
        {
            Interlocked.Exchange(ref _expansionBits, BitConverter.DoubleToInt64Bits(Math.Max(1.0, (double)plain / sent)));
        }

        return packing;
    }

    protected override async Task<PutRecordResultEntry[]> PutAsync(IReadOnlyList<PendingEvent> events, Packing packing, PackedCall call, CancellationToken cancellationToken)
    {
        if (packing.Encoded is { } encoded)
        {
            var members = new ReadOnlyMemory<byte>[call.RecordCount];
            var gzipRecords = new RecordData[call.RecordCount];
            for (var r = 0; r < members.Length; r++)
            {
                members[r] = encoded[call.FirstRecord + r];
                gzipRecords[r] = new RecordData(new ArraySegment<ReadOnlyMemory<byte>>(members, r, 1));
            }

            return await PutRecordBatchAsync(gzipRecords, cancellationToken);
        }

        var firstEvent = packing.Records[call.FirstRecord].Start;
        var last = packing.Records[call.FirstRecord + call.RecordCount - 1];
        var parts = new ReadOnlyMemory<byte>[last.Start + last.Count - firstEvent];
        for (var k = 0; k < parts.Length; k++)
        {
            parts[k] = events[packing.Events[firstEvent + k]].Line;
        }

        var records = new RecordData[call.RecordCount];
        for (var r = 0; r < records.Length; r++)
        {
            var record = packing.Records[call.FirstRecord + r];
            records[r] = new RecordData(new ArraySegment<ReadOnlyMemory<byte>>(parts, record.Start - firstEvent, record.Count));
        }

        return await PutRecordBatchAsync(records, cancellationToken);
    }

    private async Task<PutRecordResultEntry[]> PutRecordBatchAsync(RecordData[] records, CancellationToken cancellationToken)
    {
        var response = await client.PutRecordBatchAsync(new PutRecordBatchRequest { DeliveryStreamName = _stream, Records = records }, cancellationToken);
        return Checked("Firehose", response.FailedPutCount, response.RequestResponses, records.Length);
    }
}
