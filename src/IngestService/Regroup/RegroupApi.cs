using System.Text.Json.Serialization;
using System.Text.Json;
using IngestService.Auth;
using IngestService.Storage;
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
        services.AddSingleton<SensorDayMerger>();
        services.AddSingleton<Regrouper>();
        services.AddSingleton<IStoreFreshness, StoreFreshness>();
        services.AddHostedService<RegroupWorker>();
        return services;
    }

    public static RouteGroupBuilder MapRegroup(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/admin").WithTags("Operations").RequireScope(routes, Scopes.Admin);
        group.MapPost("/flush", Flush)
            .WithName("Flush")
            .WithSummary("Merge every pending raw batch into its sensor-days now and answer the figures")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return group;
    }

    internal static async Task<Results<Ok<RegroupReport>, ProblemHttpResult>> Flush(Regrouper regrouper, IObjectStore store, CancellationToken cancellationToken)
    {
        try
        {
            return TypedResults.Ok(await regrouper.RunPassAsync(cancellationToken));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or HttpRequestException or InvalidOperationException or Amazon.Runtime.AmazonServiceException)
        {
            var reason = await store.CheckReadyAsync(cancellationToken);
            return TypedResults.Problem(
                $"The regroup pass failed ({reason ?? ex.Message}); raw batches not yet done stay for the next pass. Try again once the store is reachable.",
                statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "Regroup pass failed");
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(RegroupReport))]
internal sealed partial class RegroupJsonContext : JsonSerializerContext;
