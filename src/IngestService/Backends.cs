using IngestService.Aws;
using IngestService.Delivery;
using IngestService.Storage;

namespace IngestService;

/// <summary>Where events go and where the store lives.</summary>
public enum Backend
{
    /// <summary>The file system under <c>Ingest:DataPath</c>: no AWS account, no emulator.</summary>
    Local,

    /// <summary>Firehose and Kinesis for delivery, S3 for the store.</summary>
    Aws,
}

/// <summary><c>Ingest:Backend</c>, read once by <see cref="Backends.Read"/> before anything is registered.</summary>
public sealed class BackendOptions
{
    public const string Section = "Ingest";

    /// <summary>Where events go. Default <c>Local</c>.</summary>
    public Backend Backend { get; set; } = Backend.Local;
}

/// <summary>The one place that turns the chosen backend into its sinks, store and options.</summary>
public static class Backends
{
    public static Backend Read(IConfiguration configuration) =>
        (configuration.GetSection(BackendOptions.Section).Get<BackendOptions>() ?? new BackendOptions()).Backend;

    public static IServiceCollection AddBackend(this IServiceCollection services, IConfiguration configuration, Backend backend)
    {
        if (backend == Backend.Local)
        {
            return services.AddFileSystemStore().AddLocalDelivery();
        }

        var kinesis = !string.IsNullOrWhiteSpace(configuration.GetSection(AwsOptions.Section).Get<AwsOptions>()?.KinesisStream);
        return services.AddAwsConnection().AddS3Store().AddAwsDelivery(kinesis);
    }
}
