using System.Diagnostics.Metrics;
using Amazon.Runtime;
using IngestService.Aws;
using IngestService.Storage;
using Microsoft.Extensions.Options;

namespace IngestService.Delivery;

public static class DeliveryExtensions
{
    /// <summary>The <c>Local</c> backend: raw batch files for delivery, the file system as the object store.</summary>
    public static IServiceCollection AddLocalDelivery(this IServiceCollection services)
    {
        services.AddSingleton<IEventSink, LocalRawSink>();
        services.AddSingleton<FileSystemObjectStore>();
        services.AddSingleton<IObjectStore>(sp => new MeteredObjectStore(sp.GetRequiredService<FileSystemObjectStore>(), sp.GetRequiredService<IMeterFactory>()));
        return services;
    }

    /// <summary>
    /// The <c>Aws</c> backend: Firehose always, Kinesis when <c>Aws:KinesisStream</c> is set, S3 as the object
    /// store. An <see cref="AWSCredentials"/> registered before this call replaces the default chain.
    /// </summary>
    public static IServiceCollection AddAwsDelivery(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AwsOptions>().BindConfiguration(AwsOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AwsOptions>, AwsOptionsValidator>();
        services.AddSingleton(sp => new AwsConnection(sp.GetRequiredService<IOptions<AwsOptions>>(), sp.GetService<AWSCredentials>()));
        services.AddSingleton<IFirehoseClient, FirehoseClient>();
        services.AddSingleton<IKinesisClient, KinesisClient>();
        services.AddSingleton<S3ObjectStore>();
        services.AddSingleton<IObjectStore>(sp => new MeteredObjectStore(sp.GetRequiredService<S3ObjectStore>(), sp.GetRequiredService<IMeterFactory>()));
        services.AddSingleton<IEventSink, FirehoseSink>();
        if (!string.IsNullOrWhiteSpace(configuration[$"{AwsOptions.Section}:{nameof(AwsOptions.KinesisStream)}"]))
        {
            services.AddSingleton<IEventSink, KinesisSink>();
        }

        return services;
    }
}
