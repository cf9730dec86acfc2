using Amazon.Runtime;
using Microsoft.Extensions.Options;

namespace IngestService.Aws;

public static class AwsExtensions
{
    /// <summary>
    /// <c>Aws</c> options, checked at start, and the one signed connection that Firehose, Kinesis and S3 share.
    /// An <see cref="AWSCredentials"/> registered before this call replaces the default chain.
    /// </summary>
    public static IServiceCollection AddAwsConnection(this IServiceCollection services)
    {
        services.AddOptions<AwsOptions>().BindConfiguration(AwsOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AwsOptions>, AwsOptionsValidator>();
        services.AddSingleton(sp => new AwsConnection(sp.GetRequiredService<IOptions<AwsOptions>>(), sp.GetService<AWSCredentials>()));
        services.AddSingleton<IFirehoseClient, FirehoseClient>();
        services.AddSingleton<IKinesisClient, KinesisClient>();
        return services;
    }
}
