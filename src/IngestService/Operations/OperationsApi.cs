using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Serialization;
using IngestService.Delivery;
using IngestService.Ingest;
using IngestService.Operations.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace IngestService.Operations;

public static class OperationsApi
{
    /// <summary>Problem details, metrics, auth, OpenAPI, and the connection limits that keep slow clients out.</summary>
    public static IServiceCollection AddOperations(this IServiceCollection services, IConfiguration configuration)
    {
        // A sensor's headers are tiny, so 10 s is generous; the Kestrel section can still override it, and the
        // body's minimum data rate (240 B/s after 5 s) stays Kestrel's default.
        services.Configure<KestrelServerOptions>(o => o.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10));
        services.Configure<KestrelServerOptions>(configuration.GetSection("Kestrel"));
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, OperationsJsonContext.Default));
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<PrometheusExporter>();
        // The exporter must listen before the first measurement, or what was measured before the first
        // scrape would be lost.
        services.AddSingleton(sp =>
        {
            sp.GetRequiredService<PrometheusExporter>();
            return new IngestMetrics(sp.GetRequiredService<IMeterFactory>());
        });
        services.AddSingleton<ReadinessProbe>();
        services.AddIngestAuth(configuration);
        services.AddOpenApi(o => o.AddDocumentTransformer<OpenApiSecurity>());
        return services;
    }

    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/healthz", () => TypedResults.Text("ok"))
            .WithTags("Operations").WithSummary("200 while the process runs").AllowAnonymous();
        routes.MapGet("/readyz", Ready)
            .WithTags("Operations").WithSummary("200 when every sink is reachable and the node is not draining").AllowAnonymous()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        routes.MapGet("/metrics", (PrometheusExporter exporter) => TypedResults.Text(exporter.Scrape(), PrometheusExporter.ContentType))
            .WithTags("Operations").WithSummary("Prometheus text format").AllowAnonymous();
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
        var failing = results.Where(r => r.Problem is not null).ToArray();
        if (failing.Length > 0)
        {
            return TypedResults.Problem(
                string.Join("; ", failing.Select(f => $"{f.Name}: {f.Problem}")),
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
public sealed class ReadinessProbe(IEnumerable<IEventSink> sinks, TimeProvider time)
{
    private static readonly TimeSpan HealthyFor = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(5);
    private readonly Lock _lock = new();
    private Task<(string Name, string? Problem)[]>? _check;
    private long _checkedAt;

    public Task<(string Name, string? Problem)[]> CheckAsync()
    {
        lock (_lock)
        {
            var reusable = _check is { IsCompleted: false }
                || (_check is { IsCompletedSuccessfully: true } && _check.Result.All(r => r.Problem is null) && time.GetElapsedTime(_checkedAt) < HealthyFor);
            if (!reusable)
            {
                _checkedAt = time.GetTimestamp();
                _check = RunAsync();
            }

            return _check!;
        }
    }

    private async Task<(string Name, string? Problem)[]> RunAsync()
    {
        using var timeout = new CancellationTokenSource(CheckTimeout, time);
        return await Task.WhenAll(sinks.Select(async s => (s.Name, await CheckAsync(s, timeout.Token))));
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
}

public sealed record Readiness(string Status, string[] Sinks, long PendingEvents);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Readiness))]
internal sealed partial class OperationsJsonContext : JsonSerializerContext;
