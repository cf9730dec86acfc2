using System.Buffers;
using System.IO.Pipelines;
using IngestService.Delivery;
using IngestService.Events;

namespace IngestService.Ingest;

/// <summary>
/// The body of an ingest request turned into pending events: read whole within its limit, parsed in place
/// (one event, or an NDJSON backlog that is all or nothing), and each event's stored line written into a
/// pooled buffer.
/// </summary>
internal static class IncomingEvents
{
    public static async ValueTask<(List<PendingEvent> Events, Rejection? Rejection)> ReadAsync(
        HttpContext context, string sensorId, bool backlog, IngestOptions limits, TimeProvider time)
    {
        var reader = context.Request.BodyReader;
        var limit = Rejection.BodyLimit(limits, backlog);
        ReadResult read;
        while (true)
        {
            try
            {
                read = await reader.ReadAsync(context.RequestAborted);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away mid-body; nobody is left to answer.
                return ([], Rejection.Aborted);
            }
            catch (BadHttpRequestException ex)
            {
                return ([], Rejection.BodyNotReceived(ex));
            }

            if (read.Buffer.Length > limit)
            {
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                return ([], Rejection.TooLarge(backlog, limit));
            }

            if (read.IsCompleted)
            {
                break;
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }

        var body = read.Buffer;
        byte[]? copy = null;
        try
        {
            var span = body.IsSingleSegment ? body.FirstSpan : Flatten(body, out copy);

            // receivedAt is the node's own stamp: milliseconds are all it means.
            var now = TruncateToMilliseconds(time.GetUtcNow());
            var enqueuedAt = time.GetTimestamp();
            return backlog
                ? ParseBacklog(sensorId, span, now, enqueuedAt, limits)
                : ParseSingle(sensorId, span, now, enqueuedAt, limits);
        }
        finally
        {
            reader.AdvanceTo(body.End);
            if (copy is not null)
            {
                ArrayPool<byte>.Shared.Return(copy);
            }
        }
    }

    /// <summary>Stored, unless any event was not: then the last failure seen.</summary>
    public static ValueTask<DeliveryOutcome> OutcomeAsync(List<PendingEvent> events) =>
        events.Count == 1 ? new ValueTask<DeliveryOutcome>(events[0].Completion) : AllAsync(events);

    private static async ValueTask<DeliveryOutcome> AllAsync(List<PendingEvent> events)
    {
        var outcome = DeliveryOutcome.Stored;
        foreach (var e in events)
        {
            var result = await e.Completion;
            if (result != DeliveryOutcome.Stored)
            {
                outcome = result;
            }
        }

        return outcome;
    }

    /// <summary>Gives back the buffers of events the batcher did not take.</summary>
    public static void Release(List<PendingEvent> events)
    {
        foreach (var e in events)
        {
            e.ReleaseBuffer();
        }
    }

    private static ReadOnlySpan<byte> Flatten(ReadOnlySequence<byte> body, out byte[] copy)
    {
        copy = ArrayPool<byte>.Shared.Rent((int)body.Length);
        body.CopyTo(copy);
        return copy.AsSpan(0, (int)body.Length);
    }

    private static (List<PendingEvent>, Rejection?) ParseSingle(string sensorId, ReadOnlySpan<byte> body, DateTimeOffset now, long enqueuedAt, IngestOptions limits)
    {
        body = body[TrimRange(body)];
        return EventParser.TryParse(body, now, limits.MaxFutureSkew, out var header, out var error)
            ? ([PendingEvent.Create(sensorId, header, now, body, enqueuedAt)], null)
            : ([], Rejection.InvalidEvent("bad_event", error!));
    }

    /// <summary>All lines or none: nothing is enqueued until every line parsed.</summary>
    private static (List<PendingEvent>, Rejection?) ParseBacklog(string sensorId, ReadOnlySpan<byte> body, DateTimeOffset now, long enqueuedAt, IngestOptions limits)
    {
        var headers = new List<(EventHeader Header, int Start, int Length)>();
        var line = 0;
        var offset = 0;
        while (offset < body.Length)
        {
            var end = body[offset..].IndexOf((byte)'\n');
            var length = end < 0 ? body.Length - offset : end;
            var trimmed = TrimRange(body.Slice(offset, length));
            var text = body.Slice(offset, length)[trimmed];
            var start = offset + trimmed.Start.Value;
            line++;
            offset += length + 1;
            if (text.IsEmpty)
            {
                continue;
            }

            if (text.Length > limits.MaxEventBytes)
            {
                return ([], Rejection.EventTooLarge(
                    $"line {line}: the event is {text.Length} bytes, over the {limits.MaxEventBytes}-byte limit per event (Ingest:MaxEventBytes); nothing in this batch was stored"));
            }

            if (!EventParser.TryParse(text, now, limits.MaxFutureSkew, out var header, out var lineError))
            {
                return ([], Rejection.InvalidEvent("bad_batch", $"line {line}: {lineError}; nothing in this batch was stored"));
            }

            headers.Add((header, start, text.Length));
        }

        if (headers.Count == 0)
        {
            return ([], Rejection.InvalidEvent("bad_batch", "the batch holds no events; send one JSON event per line"));
        }

        var events = new List<PendingEvent>(headers.Count);
        foreach (var (header, start, length) in headers)
        {
            events.Add(PendingEvent.Create(sensorId, header, now, body.Slice(start, length), enqueuedAt));
        }

        return (events, null);
    }

    /// <summary>The event without a leading byte-order mark and surrounding whitespace.</summary>
    private static Range TrimRange(ReadOnlySpan<byte> s)
    {
        var start = s.StartsWith("\uFEFF"u8) ? 3 : 0;
        var rest = s[start..];
        var trimmed = rest.TrimStart(" \t\r\n"u8);
        start += rest.Length - trimmed.Length;
        return start..(start + trimmed.TrimEnd(" \t\r\n"u8).Length);
    }

    private static DateTimeOffset TruncateToMilliseconds(DateTimeOffset t) => t.AddTicks(-(t.Ticks % TimeSpan.TicksPerMillisecond));
}
