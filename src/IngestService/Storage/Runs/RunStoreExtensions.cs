using Microsoft.Extensions.DependencyInjection.Extensions;

namespace IngestService.Storage.Runs;

public static class RunStoreExtensions
{
    /// <summary>The manifest, the run indexes and the merged sensor-day reads that the writer and the read API share.</summary>
    public static IServiceCollection AddRunStore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ManifestStore>();
        services.TryAddSingleton<RunIndexCache>();
        services.TryAddSingleton<SensorDayReader>();
        services.TryAddSingleton<IStoreFreshness, ManifestFreshness>();
        return services;
    }
}
