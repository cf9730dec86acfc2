using IngestService.Delivery;
using IngestService.Events;
using IngestService.Telemetry;
using Microsoft.Net.Http.Headers;

namespace IngestService.Ingest;

/// <summary>
/// Why an ingest request gets no 200: its problem answer, the reason counted in <c>ingest_events_rejected</c>,
/// and the <c>Retry-After</c> a sensor honours before it sends the same event again.
/// </summary>
internal sealed record Rejection(int Status, string Reason, string Title, string Detail, string? RetryAfter = null)
{
    /// <summary>Writes the problem answer, with <c>Retry-After</c> when the sensor should wait, and counts the rejection.</summary>
    public Task WriteAsync(HttpContext context, IngestMetrics metrics)
    {
        if (RetryAfter is not null)
        {
            context.Response.Headers.RetryAfter = RetryAfter;
        }

        metrics.Rejected(Reason);
        return TypedResults.Problem(Detail, statusCode: Status, title: Title).ExecuteAsync(context);
    }

    /// <summary>What can be told before reading the body: the sensor id, the content type and a declared length.</summary>
    public static Rejection? OfRequest(string sensorId, HttpRequest request, IngestOptions limits, out bool backlog)
    {
        backlog = false;
        if (!SensorId.IsValid(sensorId))
        {
            return new(StatusCodes.Status400BadRequest, "bad_sensor_id", "Invalid sensorId", $"'{Truncate(sensorId)}' is not a valid sensorId: {SensorId.Rule}.");
        }

        if (ContentKind(request.ContentType) is not { } kind)
        {
            return new(StatusCodes.Status415UnsupportedMediaType, "content_type", "Unsupported content type",
                $"Content-Type '{request.ContentType}' is not accepted: send one event as application/json or a backlog as application/x-ndjson (UTF-8).");
        }

        backlog = kind == Kind.Ndjson;
        var limit = BodyLimit(limits, backlog);
        return request.ContentLength > limit ? TooLarge(backlog, limit) : null;
    }

    public static int BodyLimit(IngestOptions limits, bool backlog) => backlog ? limits.MaxBatchBytes : limits.MaxEventBytes;

    public static Rejection TooLarge(bool backlog, int limit) =>
        new(StatusCodes.Status413PayloadTooLarge, "too_large", "Body too large",
            backlog
                ? $"A backlog batch may be at most {limit} bytes; send the backlog in smaller batches."
                : $"An event may be at most {limit} bytes (Ingest:MaxEventBytes); send a smaller event.");

    public static Rejection Aborted { get; } = new(StatusCodes.Status400BadRequest, "aborted", "Request aborted",
        "The client closed the connection before sending the whole body.");

    /// <summary>Kestrel ended the body: too slow, truncated, or over its own size limit.</summary>
    public static Rejection BodyNotReceived(BadHttpRequestException ex) =>
        new(ex.StatusCode, "bad_body", "Body not received", $"The request body could not be read ({ex.Message}); send it again whole and promptly.");

    public static Rejection InvalidEvent(string reason, string detail) =>
        new(StatusCodes.Status400BadRequest, reason, "Invalid event", detail);

    public static Rejection EventTooLarge(string detail) =>
        new(StatusCodes.Status413PayloadTooLarge, "too_large", "Event too large", detail);

    public static Rejection? OfAdmission(Admission admission) => admission switch
    {
        Admission.OverCapacity => OverCapacity,
        Admission.Draining => Draining,
        Admission.Faulted => Faulted,
        _ => null,
    };

    public static Rejection? OfOutcome(DeliveryOutcome outcome) => outcome switch
    {
        DeliveryOutcome.TimedOut => TimedOut,
        DeliveryOutcome.SinkFailed => SinkFailed,
        _ => null,
    };

    private static readonly Rejection OverCapacity = new(StatusCodes.Status429TooManyRequests, "over_capacity", "Node is at capacity",
        "This node holds as many unacknowledged events as it may; send the same event again after Retry-After seconds.", "1");

    private static readonly Rejection Draining = new(StatusCodes.Status503ServiceUnavailable, "draining", "Node is shutting down",
        "This node is shutting down and takes no new events; send the same event again after Retry-After seconds (another node will take it).", "1");

    private static readonly Rejection Faulted = new(StatusCodes.Status503ServiceUnavailable, "batcher_faulted", "Node cannot store events",
        "This node's batching loop stopped after an internal fault and it takes no new events; send the same event again after Retry-After seconds (another node will take it).", "1");

    private static readonly Rejection TimedOut = new(StatusCodes.Status503ServiceUnavailable, "ack_timeout", "Event not stored",
        "The event was not accepted by every store within the ack timeout; nothing is acknowledged. Send the same event again after Retry-After seconds.", "2");

    private static readonly Rejection SinkFailed = new(StatusCodes.Status503ServiceUnavailable, "sink_failed", "Event not stored",
        "A store failed to accept the event; nothing is acknowledged. Send the same event again after Retry-After seconds.", "2");

    private enum Kind
    {
        Json,
        Ndjson,
    }

    private static Kind? ContentKind(string? contentType)
    {
        // What nearly every sensor sends, told without parsing a MediaTypeHeaderValue for every event.
        if (string.Equals(contentType, "application/json", StringComparison.OrdinalIgnoreCase))
        {
            return Kind.Json;
        }

        if (!MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            return null;
        }

        if (media.Charset.HasValue && !media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return media.MediaType.Value?.ToLowerInvariant() switch
        {
            "application/json" => Kind.Json,
            "application/x-ndjson" or "application/ndjson" => Kind.Ndjson,
            _ => null,
        };
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : string.Concat(s.AsSpan(0, 64), "…");
}
