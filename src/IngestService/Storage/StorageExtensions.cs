using System.Diagnostics.Metrics;

namespace IngestService.Storage;

public static class StorageExtensions
{
    /// <summary>The file system under <c>Ingest:DataPath</c> as the object store.</summary>
    public static IServiceCollection AddFileSystemStore(this IServiceCollection services)
    {
        services.AddOptions<LocalStoreOptions>().BindConfiguration(LocalStoreOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<FileSystemObjectStore>();
        return services.AddMeteredStore<FileSystemObjectStore>();
    }

    /// <summary>S3 as the object store, through the <c>AwsConnection</c> registered before.</summary>
    public static IServiceCollection AddS3Store(this IServiceCollection services)
    {
        services.AddSingleton<S3ObjectStore>();
        return services.AddMeteredStore<S3ObjectStore>();
    }

    private static IServiceCollection AddMeteredStore<TStore>(this IServiceCollection services)
        where TStore : IObjectStore
    {
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        return services.AddSingleton<IObjectStore>(sp => new MeteredObjectStore(sp.GetRequiredService<TStore>(), sp.GetRequiredService<IMeterFactory>()));
    }
}
