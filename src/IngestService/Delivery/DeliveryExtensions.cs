namespace IngestService.Delivery;

public static class DeliveryExtensions
{
    /// <summary>The <c>Local</c> backend's sink: raw batch files under <c>Ingest:DataPath</c>.</summary>
    public static IServiceCollection AddLocalDelivery(this IServiceCollection services) =>
        services.AddSingleton<IEventSink, LocalRawSink>();

    /// <summary>Firehose always, and Kinesis when <paramref name="kinesis"/> (<c>Aws:KinesisStream</c> is set).</summary>
    public static IServiceCollection AddAwsDelivery(this IServiceCollection services, bool kinesis)
    {
        services.AddSingleton<IEventSink, FirehoseSink>();
        if (kinesis)
        {
            services.AddSingleton<IEventSink, KinesisSink>();
        }

        return services;
    }
}
