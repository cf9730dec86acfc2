using System.Diagnostics.Metrics;
using System.Text.Json.Serialization;
using System.Text.Json;
using IngestService.Auth;
using IngestService.Delivery;
using IngestService.Ingest;
using IngestService.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Scalar.AspNetCore;

namespace IngestService.Operations;

public static class OperationsApi
{
    /// <summary>Problem details, readiness, OpenAPI, and the connection limits that keep slow clients out.</summary>
    public static IServiceCollection AddOperations(this IServiceCollection services, IConfiguration configuration)
    {
        // A sensor's headers are tiny, so 10 s is generous; the Kestrel section can still override it, and the
        // body's minimum data rate (240 B/s after 5 s) stays Kestrel's default.
        services.Configure<KestrelServerOptions>(o => o.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10));
        services.Configure<KestrelServerOptions>(configuration.GetSection("Kestrel"));
        services.AddProblemDetails();
        services.AddRequestLog();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, OperationsJsonContext.Default));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ReadinessProbe>();
        services.AddOpenApi(o => o.AddDocumentTransformer<OpenApiSecurity>());
        return services;
    }

    /// <summary>
    /// Problem details for error statuses written without a body, on every request whose endpoint does not skip them
    /// (<see cref="ISkipStatusCodePagesMetadata"/>). The middleware honours that metadata only after it has set its
    /// feature up for the request; the ingest endpoint, which writes every answer itself, skips it for each of tens of
    /// thousands of acknowledgements a second. Routing has chosen the endpoint by then: WebApplication routes first.
    /// </summary>
    public static WebApplication UseStatusCodePagesUnlessSkipped(this WebApplication app)
    {
        app.UseWhen(
            context => context.GetEndpoint()?.Metadata.GetMetadata<ISkipStatusCodePagesMetadata>() is null,
            pages => pages.UseStatusCodePages());
        return app;
    }

    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/healthz", () => TypedResults.Text("ok"))
            .WithTags("Operations").WithSummary("200 while the process runs").AllowAnonymous();
        routes.MapGet("/readyz", Ready)
            .WithTags("Operations").WithSummary("200 when every sink is reachable and the node is not draining").AllowAnonymous()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        routes.MapMetrics();
        // People read the API here; the document itself stays at /openapi/v1.json.
        routes.MapScalarApiReference("/docs", options =>
        {
            // The operators' own page calls nothing outside the node: no telemetry, no AI chat or MCP calls to
            // Scalar's cloud, no fonts from its CDN (the browser's own fonts instead), no developer toolbar.
            options.Telemetry = false;
            options.DefaultFonts = false;
            options.ShowDeveloperTools = DeveloperToolsVisibility.Never;
            options.Agent = new ScalarAgentOptions { Disabled = true };
            options.Mcp = new ScalarMcpOptions { Disabled = true };
        }).AllowAnonymous();
        return routes;
    }

    internal static async Task<Results<Ok<Readiness>, ProblemHttpResult>> Ready(Batcher batcher, ReadinessProbe probe)
    {
        if (batcher.IsDraining)
        {
            return TypedResults.Problem("This node is shutting down.", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Draining");
        }

        if (batcher.IsFaulted)
        {
            return TypedResults.Problem("This node's batching loop stopped after an internal fault; replace the node.", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Batcher faulted");
        }

        var results = await probe.CheckAsync();
        var failing = results.Where(r => r.Problem is not null).Select(r => r.Name).ToArray();
        if (failing.Length > 0)
        {
            // Anyone may call the probe, so the answer names only the sink; the cause (bucket and stream
            // names, AWS error text) is in the node's log (event 4001) and in ingest_sink_ready.
            return TypedResults.Problem(
                $"Not ready: {string.Join(", ", failing)}. The node's log (event 4001) says why.",
                statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "A sink is unreachable");
        }

        return TypedResults.Ok(new Readiness("ready", [.. results.Select(r => r.Name)], batcher.PendingEvents));
    }
}

/// <summary>
/// Asks every sink whether its service is reachable. Load balancers probe every node every second or so,
/// and the calls behind it (DescribeDeliveryStream, DescribeStreamSummary, an S3 listing) have low
/// account-wide rate limits, so concurrent probes share one check and a healthy answer is reused for a
/// second. A failing answer is never reused: recovery shows at the next probe.
/// </summary>
public sealed partial class ReadinessProbe
{
    private static readonly TimeSpan HealthyFor = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(5);
    private readonly IEventSink[] _sinks;
    private readonly TimeProvider _time;
    private readonly ILogger<ReadinessProbe> _logger;
    private readonly Lock _lock = new();
    private readonly int[] _ready;
    private Task<(string Name, string? Problem)[]>? _check;
    private long _checkedAt;

    public ReadinessProbe(IEnumerable<IEventSink> sinks, TimeProvider time, IngestMetrics metrics, ILogger<ReadinessProbe> logger)
    {
        _sinks = [.. sinks];
        _time = time;
        _logger = logger;
        // -1 until the first check: a node nobody has probed yet reports nothing rather than a guess.
        _ready = [.. _sinks.Select(_ => -1)];
        metrics.Meter.CreateObservableGauge("ingest_sink_ready", ObserveReady, "{sink}", "1 when the sink passed its last readiness check, 0 when it failed it");
    }

    public Task<(string Name, string? Problem)[]> CheckAsync()
    {
        lock (_lock)
        {
            var reusable = _check is { IsCompleted: false }
                || (_check is { IsCompletedSuccessfully: true } && _check.Result.All(r => r.Problem is null) && _time.GetElapsedTime(_checkedAt) < HealthyFor);
            if (!reusable)
            {
                _checkedAt = _time.GetTimestamp();
                _check = RunAsync();
            }

            return _check!;
        }
    }

    private async Task<(string Name, string? Problem)[]> RunAsync()
    {
        using var timeout = new CancellationTokenSource(CheckTimeout, _time);
        var results = await Task.WhenAll(_sinks.Select(async s => (s.Name, await CheckAsync(s, timeout.Token))));
        for (var i = 0; i < results.Length; i++)
        {
            var ready = results[i].Item2 is null ? 1 : 0;
            var was = Interlocked.Exchange(ref _ready[i], ready);
            if (ready == 0 && was != 0)
            {
                LogNotReady(results[i].Name, results[i].Item2!);
            }
            else if (ready == 1 && was == 0)
            {
                LogReadyAgain(results[i].Name);
            }
        }

        return results;
    }

    private IEnumerable<Measurement<int>> ObserveReady()
    {
        for (var i = 0; i < _sinks.Length; i++)
        {
            var ready = Volatile.Read(ref _ready[i]);
            if (ready >= 0)
            {
                yield return new Measurement<int>(ready, new KeyValuePair<string, object?>("sink", _sinks[i].Name));
            }
        }
    }

    private static async Task<string?> CheckAsync(IEventSink sink, CancellationToken cancellationToken)
    {
        try
        {
            return await sink.CheckReadyAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            return ex.Message;
        }
    }

    [LoggerMessage(4001, LogLevel.Warning, "Sink {Sink} is not ready: {Problem}")]
    private partial void LogNotReady(string sink, string problem);

    [LoggerMessage(4002, LogLevel.Information, "Sink {Sink} is ready again")]
    private partial void LogReadyAgain(string sink);
}

public sealed record Readiness(string Status, string[] Sinks, long PendingEvents);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Readiness))]
internal sealed partial class OperationsJsonContext : JsonSerializerContext;
