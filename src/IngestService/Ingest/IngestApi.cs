using System.Text.Json.Serialization;
using System.Text.Json;
using IngestService.Auth;
using IngestService.Telemetry;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

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

        // Held events are answered before exit: give the batcher the ack timeout and a margin to finish. Read at
        // registration, not from IOptions, so a bad Batching key still fails start-up through options validation.
        var ackTimeout = (configuration.GetSection(BatchingOptions.Section).Get<BatchingOptions>() ?? new BatchingOptions()).AckTimeout;
        services.Configure<HostOptions>(o => o.ShutdownTimeout = ackTimeout + TimeSpan.FromSeconds(10));
        return services;
    }

    public static RouteGroupBuilder MapIngest(this IEndpointRouteBuilder routes)
    {
        // Every answer, rejections included, is written here with its body: status-code pages have nothing to add.
        var group = routes.MapGroup("/v1/sensors/{sensorId}/events").WithTags("Ingest").RequireScope(routes, Scopes.Ingest)
            .WithMetadata(new SkipStatusCodePagesAttribute());
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

    /// <summary>Checks the request, reads and parses its events, hands them to the batcher, and answers once they are stored.</summary>
    /// <remarks>
    /// Writes its answer itself rather than returning an <see cref="IResult"/>: the framework awaits a returned
    /// <c>Task&lt;IResult&gt;</c> in a state machine of its own, one more object per event that lives through its window.
    /// </remarks>
    private static async Task PostEvents(string sensorId, HttpContext context, Batcher batcher, IngestOptions limits, TimeProvider time, IngestMetrics metrics)
    {
        if (Rejection.OfRequest(sensorId, context.Request, limits, out var backlog) is { } badRequest)
        {
            await badRequest.WriteAsync(context, metrics);
            return;
        }

        var (events, badBody) = await IncomingEvents.ReadAsync(context, sensorId, backlog, limits, time);
        if (badBody is not null)
        {
            await badBody.WriteAsync(context, metrics);
            return;
        }

        if (Rejection.OfAdmission(batcher.TryEnqueue(events)) is { } refused)
        {
            IncomingEvents.Release(events);
            await refused.WriteAsync(context, metrics);
            return;
        }

        if (Rejection.OfOutcome(await IncomingEvents.OutcomeAsync(events)) is { } notStored)
        {
            await notStored.WriteAsync(context, metrics);
            return;
        }

        // Ack latency and accepted events are counted when the window answers, a slice at a time (WindowDelivery).
        await (backlog ? StoredResult.WriteBatchAsync(context, events.Count) : StoredResult.WriteEventAsync(context, sensorId, events[0].Header));
    }
}

/// <summary>The shape of <see cref="StoredResult"/>, for the OpenAPI description.</summary>
public sealed record StoredEvent(string Status, string SensorId, long? Seq, string Ts);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(StoredEvent))]
internal sealed partial class IngestJsonContext : JsonSerializerContext;
