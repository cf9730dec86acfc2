using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json.Serialization;
using System.Text.Json;
using IngestService.Auth;
using IngestService.Delivery;
using IngestService.Events;
using IngestService.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace IngestService.Ingest;

public static class IngestApi
{
    /// <summary>The ingest options, the batcher, and the drain that stops intake when shutdown begins.</summary>
    public static IServiceCollection AddIngest(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BatchingOptions>().BindConfiguration(BatchingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, IngestJsonContext.Default));
        services.AddSingleton<Batcher>();
        services.AddHostedService(sp => sp.GetRequiredService<Batcher>());
        services.AddHostedService<DrainOnStop>();

        // Held events are answered before exit: give the batcher the ack timeout and a margin to finish.
        var ackTimeout = configuration.GetValue($"{BatchingOptions.Section}:{nameof(BatchingOptions.AckTimeout)}", new BatchingOptions().AckTimeout);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = ackTimeout + TimeSpan.FromSeconds(10));
        return services;
    }

    public static RouteGroupBuilder MapIngest(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/sensors/{sensorId}/events").WithTags("Ingest").RequireScope(routes, Scopes.Ingest);
        // Singletons taken once here rather than bound per request: binding them from RequestServices created a
        // request scope and four lookups for every event, on the path that answers tens of thousands a second.
        var services = routes.ServiceProvider;
        var batcher = services.GetRequiredService<Batcher>();
        var options = services.GetRequiredService<IOptions<IngestOptions>>();
        var time = services.GetRequiredService<TimeProvider>();
        var metrics = services.GetRequiredService<IngestMetrics>();
        group.MapPost("/", (string sensorId, HttpContext context) => PostEvents(sensorId, context, batcher, options.Value, time, metrics))
            .WithName("PostEvents")
            .Produces<StoredEvent>(StatusCodes.Status200OK, "application/json")
            .WithSummary("Store one event (application/json) or a backlog of events (application/x-ndjson)")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return group;
    }

    private static async Task<IResult> PostEvents(string sensorId, HttpContext context, Batcher batcher, IngestOptions limits, TimeProvider time, IngestMetrics metrics)
    {
        if (!SensorId.IsValid(sensorId))
        {
            return Reject(metrics, "bad_sensor_id", StatusCodes.Status400BadRequest, "Invalid sensorId", $"'{Truncate(sensorId)}' is not a valid sensorId: {SensorId.Rule}.");
        }

        var kind = ContentKind(context.Request.ContentType);
        if (kind is null)
        {
            return Reject(metrics, "content_type", StatusCodes.Status415UnsupportedMediaType, "Unsupported content type",
                $"Content-Type '{context.Request.ContentType}' is not accepted: send one event as application/json or a backlog as application/x-ndjson (UTF-8).");
        }

        var batch = kind == Kind.Ndjson;
        var limit = batch ? limits.MaxBatchBytes : limits.MaxEventBytes;
        if (context.Request.ContentLength > limit)
        {
            return TooLarge(metrics, batch, limit);
        }

        var reader = context.Request.BodyReader;
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
                return Reject(metrics, "aborted", StatusCodes.Status400BadRequest, "Request aborted", "The client closed the connection before sending the whole body.");
            }
            catch (BadHttpRequestException ex)
            {
                // Kestrel ended the body: too slow, truncated, or over its own size limit.
                return Reject(metrics, "bad_body", ex.StatusCode, "Body not received", $"The request body could not be read ({ex.Message}); send it again whole and promptly.");
            }

            if (read.Buffer.Length > limit)
            {
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                return TooLarge(metrics, batch, limit);
            }

            if (read.IsCompleted)
            {
                break;
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }

        List<PendingEvent> events;
        Rejection? rejection;
        var body = read.Buffer;
        byte[]? copy = null;
        try
        {
            ReadOnlySpan<byte> span;
            if (body.IsSingleSegment)
            {
                span = body.FirstSpan;
            }
            else
            {
                copy = ArrayPool<byte>.Shared.Rent((int)body.Length);
                body.CopyTo(copy);
                span = copy.AsSpan(0, (int)body.Length);
            }

            // receivedAt is the node's own stamp: milliseconds are all it means.
            var now = TruncateToMilliseconds(time.GetUtcNow());
            var enqueuedAt = time.GetTimestamp();
            events = batch
                ? ParseBacklog(sensorId, span, now, enqueuedAt, limits, out rejection)
                : ParseSingle(sensorId, span, now, enqueuedAt, limits, out rejection);
        }
        finally
        {
            reader.AdvanceTo(body.End);
            if (copy is not null)
            {
                ArrayPool<byte>.Shared.Return(copy);
            }
        }

        if (rejection is { } r)
        {
            return Reject(metrics, r.Reason, r.Status, r.Status == StatusCodes.Status413PayloadTooLarge ? "Event too large" : "Invalid event", r.Detail);
        }

        switch (batcher.TryEnqueue(events))
        {
            case Admission.OverCapacity:
                Release(events);
                context.Response.Headers.RetryAfter = "1";
                return Reject(metrics, "over_capacity", StatusCodes.Status429TooManyRequests, "Node is at capacity",
                    "This node holds as many unacknowledged events as it may; send the same event again after Retry-After seconds.");
            case Admission.Draining:
                Release(events);
                context.Response.Headers.RetryAfter = "1";
                return Reject(metrics, "draining", StatusCodes.Status503ServiceUnavailable, "Node is shutting down",
                    "This node is shutting down and takes no new events; send the same event again after Retry-After seconds (another node will take it).");
            case Admission.Faulted:
                Release(events);
                context.Response.Headers.RetryAfter = "1";
                return Reject(metrics, "batcher_faulted", StatusCodes.Status503ServiceUnavailable, "Node cannot store events",
                    "This node's batching loop stopped after an internal fault and it takes no new events; send the same event again after Retry-After seconds (another node will take it).");
        }

        var outcome = DeliveryOutcome.Stored;
        foreach (var e in events)
        {
            var result = await e.Completion;
            if (result != DeliveryOutcome.Stored)
            {
                outcome = result;
            }
        }

        if (outcome != DeliveryOutcome.Stored)
        {
            context.Response.Headers.RetryAfter = "2";
            var reason = outcome == DeliveryOutcome.TimedOut ? "ack_timeout" : "sink_failed";
            return Reject(metrics, reason, StatusCodes.Status503ServiceUnavailable, "Event not stored",
                outcome == DeliveryOutcome.TimedOut
                    ? "The event was not accepted by every store within the ack timeout; nothing is acknowledged. Send the same event again after Retry-After seconds."
                    : "A store failed to accept the event; nothing is acknowledged. Send the same event again after Retry-After seconds.");
        }

        metrics.AckLatency(time.GetElapsedTime(events[0].EnqueuedAt));
        metrics.Accepted(events.Count);
        return batch ? StoredResult.Batch(events.Count) : StoredResult.Event(sensorId, events[0].Header);
    }

    private static List<PendingEvent> ParseSingle(string sensorId, ReadOnlySpan<byte> body, DateTimeOffset now, long enqueuedAt, IngestOptions limits, out Rejection? rejection)
    {
        body = body[TrimRange(body)];
        if (!EventParser.TryParse(body, now, limits.MaxFutureSkew, out var header, out var error))
        {
            rejection = new Rejection(StatusCodes.Status400BadRequest, "bad_event", error!);
            return [];
        }

        rejection = null;
        return [PendingEvent.Create(sensorId, header, now, body, enqueuedAt)];
    }

    /// <summary>All lines or none: nothing is enqueued until every line parsed.</summary>
    private static List<PendingEvent> ParseBacklog(string sensorId, ReadOnlySpan<byte> body, DateTimeOffset now, long enqueuedAt, IngestOptions limits, out Rejection? rejection)
    {
        var headers = new List<(EventHeader Header, int Start, int Length)>();
        var line = 0;
        var offset = 0;
        rejection = null;
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
                rejection = new Rejection(StatusCodes.Status413PayloadTooLarge, "too_large",
                    $"line {line}: the event is {text.Length} bytes, over the {limits.MaxEventBytes}-byte limit per event (Ingest:MaxEventBytes); nothing in this batch was stored");
                return [];
            }

            if (!EventParser.TryParse(text, now, limits.MaxFutureSkew, out var header, out var lineError))
            {
                rejection = new Rejection(StatusCodes.Status400BadRequest, "bad_batch", $"line {line}: {lineError}; nothing in this batch was stored");
                return [];
            }

            headers.Add((header, start, text.Length));
        }

        if (headers.Count == 0)
        {
            rejection = new Rejection(StatusCodes.Status400BadRequest, "bad_batch", "the batch holds no events; send one JSON event per line");
            return [];
        }

        var events = new List<PendingEvent>(headers.Count);
        foreach (var (header, start, length) in headers)
        {
            events.Add(PendingEvent.Create(sensorId, header, now, body.Slice(start, length), enqueuedAt));
        }

        return events;
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


    private readonly record struct Rejection(int Status, string Reason, string Detail);

    private enum Kind
    {
        Json,
        Ndjson,
    }

    private static Kind? ContentKind(string? contentType)
    {
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

    private static ProblemHttpResult TooLarge(IngestMetrics metrics, bool batch, int limit) =>
        Reject(metrics, "too_large", StatusCodes.Status413PayloadTooLarge, "Body too large",
            batch
                ? $"A backlog batch may be at most {limit} bytes; send the backlog in smaller batches."
                : $"An event may be at most {limit} bytes (Ingest:MaxEventBytes); send a smaller event.");

    private static ProblemHttpResult Reject(IngestMetrics metrics, string reason, int status, string title, string detail)
    {
        metrics.Rejected(reason);
        return TypedResults.Problem(detail, statusCode: status, title: title);
    }

    private static void Release(List<PendingEvent> events)
    {
        foreach (var e in events)
        {
            e.ReleaseBuffer();
        }
    }

    private static DateTimeOffset TruncateToMilliseconds(DateTimeOffset t) => t.AddTicks(-(t.Ticks % TimeSpan.TicksPerMillisecond));

    private static string Truncate(string s) => s.Length <= 64 ? s : string.Concat(s.AsSpan(0, 64), "…");
}

/// <summary>The shape of <see cref="StoredResult"/>, for the OpenAPI description.</summary>
public sealed record StoredEvent(string Status, string SensorId, long? Seq, string Ts);

/// <summary>
/// Stops new events the moment shutdown begins, while the server still finishes the requests it holds and
/// the batcher still delivers them.
/// </summary>
internal sealed class DrainOnStop(IHostApplicationLifetime lifetime, Batcher batcher) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(batcher.BeginDrain);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(StoredEvent))]
internal sealed partial class IngestJsonContext : JsonSerializerContext;
