using System.Text.Json.Serialization;
using System.Text.Json;
using IngestService.Auth;
using IngestService.Export;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IngestService.Regroup;

public static class RegroupApi
{
    /// <summary>
    /// Registers the regroup pass, its background worker and its JSON types; <paramref name="local"/> starts from
    /// the <c>Local</c> backend's defaults, which configuration still overrides.
    /// </summary>
    public static IServiceCollection AddRegroup(this IServiceCollection services, bool local)
    {
        services.AddOptions<RegroupOptions>()
            .Configure(o =>
            {
                if (local)
                {
                    o.ForLocal();
                }
            })
            .BindConfiguration(RegroupOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, RegroupJsonContext.Default));
        services.AddSingleton<RegroupMetrics>();
        services.AddRunStore();
        services.AddSingleton<WorkClaims>();
        services.AddExport();
        services.AddSingleton<Sealer>();
        services.AddSingleton<Compactor>();
        services.AddSingleton<RunCollector>();
        services.AddSingleton<Regrouper>();
        services.AddHostedService<RegroupWorker>();
        return services;
    }

    public static RouteGroupBuilder MapRegroup(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/admin").WithTags("Operations").RequireScope(routes, Scopes.Admin);
        group.MapPost("/flush", Flush)
            .WithName("Flush")
            .WithSummary("Make every acknowledged event readable and seal every due day now, and answer the figures")
            .ProducesProblem(StatusCodes.Status500InternalServerError)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return group;
    }

    internal static async Task<Results<Ok<RegroupReport>, ProblemHttpResult>> Flush(Regrouper regrouper, IObjectStore store, CancellationToken cancellationToken)
    {
        try
        {
            var report = await regrouper.RunPassAsync(cancellationToken);
            if (report.Merged)
            {
                // Every node answers reads from a manifest it cached up to ManifestStore.CacheFor ago, on its own clock:
                // answering once that has passed since this pass's commit means a read sent to any node after the
                // answer sees what the flush made readable (behind a load balancer the read may go elsewhere).
                await Task.Delay(ManifestStore.CacheFor, TimeProvider.System, cancellationToken);
            }

            if (report.Quarantined > 0)
            {
                // Everything else is done; the quarantined sensor-days need a person (the log's event 3010 says why).
                return TypedResults.Problem(
                    $"{report.Quarantined} sensor-days could not be sealed and are quarantined; every other event is readable and every other due day sealed. The log (event 3010) names them and why; their events stay readable from runs.",
                    statusCode: StatusCodes.Status500InternalServerError,
                    title: "Sensor-days quarantined",
                    extensions: new Dictionary<string, object?> { ["report"] = report });
            }

            return TypedResults.Ok(report);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or HttpRequestException or InvalidOperationException or Amazon.Runtime.AmazonServiceException)
        {
            var reason = await store.CheckReadyAsync(cancellationToken);
            return TypedResults.Problem(
                $"The regroup pass failed ({reason ?? ex.Message}); raw batches not yet in a committed run stay for the next pass. Try again once the store is reachable.",
                statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "Regroup pass failed");
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(RegroupReport))]
internal sealed partial class RegroupJsonContext : JsonSerializerContext;
