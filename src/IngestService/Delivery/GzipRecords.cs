using System.Buffers;
using System.IO.Compression;
using IngestService.Events;

namespace IngestService.Delivery;

/// <summary>
/// Firehose records under <c>Aws:FirehoseCompression=Gzip</c>: each record is one gzip member holding whole
/// NDJSON lines, stating its own length (<see cref="DelimitedGzip"/>). Firehose concatenates records unchanged, so a
/// delivered object is a multi-member gzip stream that <c>zcat</c> and the regrouper read as one. The 1,000 KiB
/// record limit and the call budget count the compressed bytes, so a record carries several times more events, and
/// Firehose bills the compressed bytes.
/// </summary>
public static class GzipRecords
{
    /// <summary>
    /// Lines per record before compressing: twice the record limit. Envelopes compress 3–5× (bench/GzipLevels), so
    /// such a record fits; one that does not (lines that hardly compress) is split in two and compressed again,
    /// and a larger cap would make that wasted first pass longer.
    /// </summary>
    public const int MaxPlainRecordBytes = 2 * 1_000 * 1024;

    /// <param name="events">The window.</param>
    /// <param name="pending">Indexes of the events to send, in window order.</param>
    /// <param name="limits">Firehose's limits, applied to the compressed records.</param>
    /// <param name="recordOverhead">What each record adds to its call besides its data.</param>
    /// <returns>A packing whose <see cref="Packing.Encoded"/> holds each record's gzip member; dispose it after the calls.</returns>
    public static Packing Pack(IReadOnlyList<PendingEvent> events, IReadOnlyList<int> pending, PackingLimits limits, int recordOverhead)
    {
        var plain = RecordPacker.Pack(pending, i => events[i].Length, _ => 0, new PackingLimits(MaxPlainRecordBytes, int.MaxValue, int.MaxValue, long.MaxValue, CountBase64: false));
        var packing = new Packing { Encoded = [] };
        packing.TooLarge.AddRange(plain.TooLarge);
        var order = new List<int>(plain.Events.Length);
        try
        {
            foreach (var record in plain.Records)
            {
                AddRecords(events, plain.Events.AsSpan(record.Start, record.Count), limits.MaxRecordBytes, packing, order);
            }
        }
        catch
        {
            packing.Dispose();
            throw;
        }

        packing.Events = [.. order];
        LayOutCalls(packing, limits, recordOverhead);
        return packing;
    }

    /// <summary>Compresses the events as one record, or as two halves (recursively) when one does not fit.</summary>
    private static void AddRecords(IReadOnlyList<PendingEvent> events, ReadOnlySpan<int> record, int maxBytes, Packing packing, List<int> order)
    {
        if (TryCompress(events, record, maxBytes) is { } member)
        {
            packing.Records.Add(new PackedRecord(order.Count, record.Length, member.Count));
            packing.Encoded!.Add(member);
            foreach (var e in record)
            {
                order.Add(e);
            }

            return;
        }

        if (record.Length == 1)
        {
            packing.TooLarge.Add(record[0]);
            return;
        }

        var half = record.Length / 2;
        AddRecords(events, record[..half], maxBytes, packing, order);
        AddRecords(events, record[half..], maxBytes, packing, order);
    }

    /// <summary>One gzip member in a pooled array, or null when it would exceed <paramref name="maxBytes"/>.</summary>
    private static ArraySegment<byte>? TryCompress(IReadOnlyList<PendingEvent> events, ReadOnlySpan<int> record, int maxBytes)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(maxBytes);
        try
        {
            // A fixed-size stream: compressing stops the moment the member outgrows the limit. It starts after room
            // for the member's length field, which lets regrouping find the member's end in a mixed object.
            var output = new MemoryStream(buffer, DelimitedGzip.ExtraLength, maxBytes - DelimitedGzip.ExtraLength, writable: true);
            // Optimal, not Fastest: on envelopes with random readings it bills 0.066 GB per million 200 B events
            // instead of 0.102 for about 4 µs more CPU per event (bench/GzipLevels); the CPU costs less than the bytes.
            using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
            {
                foreach (var e in record)
                {
                    gzip.Write(events[e].Line.Span);
                }
            }

            return new ArraySegment<byte>(buffer, 0, DelimitedGzip.AddLength(buffer, (int)output.Position));
        }
        catch (NotSupportedException)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return null;
        }
    }

    private static void LayOutCalls(Packing packing, PackingLimits limits, int recordOverhead)
    {
        var first = 0;
        long cost = 0;
        for (var r = 0; r < packing.Records.Count; r++)
        {
            var recordCost = limits.CallCost(packing.Records[r].Bytes, recordOverhead);
            if (r > first && (r - first >= limits.MaxRecordsPerCall || cost + recordCost > limits.MaxCallBytes))
            {
                packing.Calls.Add(new PackedCall(first, r - first, cost));
                first = r;
                cost = 0;
            }

            cost += recordCost;
        }

        if (packing.Records.Count > first)
        {
            packing.Calls.Add(new PackedCall(first, packing.Records.Count - first, cost));
        }
    }
}
