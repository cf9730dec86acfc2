using IngestService.IntegrationTests;

namespace IngestService.ReliabilityTests.Infrastructure;

/// <summary>Environment for a node on the <c>Aws</c> backend against the suite's moto server, signing with the fixture's service key.</summary>
public static class AwsNodes
{
    /// <summary>Every AWS call to <paramref name="serviceUrl"/>.</summary>
    public static Dictionary<string, string> Settings(MotoFixture moto, Uri serviceUrl, Dictionary<string, string>? extra = null) =>
        Settings(moto, serviceUrl, serviceUrl, extra);

    /// <summary>
    /// Firehose and Kinesis calls to <paramref name="streamsUrl"/> (a fault proxy), S3 calls straight to moto:
    /// the faults are the streams' own, and the regroup pass behind <c>--verify</c> reads S3 undisturbed.
    /// </summary>
    public static Dictionary<string, string> Settings(MotoFixture moto, Uri streamsUrl, Uri s3Url, Dictionary<string, string>? extra = null)
    {
        var credentials = moto.Service.GetCredentials();
        var settings = new Dictionary<string, string>
        {
            ["Ingest__Backend"] = "Aws",
            ["Aws__ServiceUrl"] = "",
            ["AWS_ENDPOINT_URL_FIREHOSE"] = streamsUrl.ToString(),
            ["AWS_ENDPOINT_URL_KINESIS"] = streamsUrl.ToString(),
            ["AWS_ENDPOINT_URL_S3"] = s3Url.ToString(),
            ["Aws__Region"] = MotoFixture.Region,
            ["Aws__Bucket"] = moto.Bucket,
            ["Aws__DeliveryStream"] = moto.DeliveryStream,
            ["Aws__KinesisStream"] = moto.KinesisStream,
            ["AWS_ACCESS_KEY_ID"] = credentials.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = credentials.SecretKey,
            ["AWS_EC2_METADATA_DISABLED"] = "true",
            ["Auth__AllowAnonymous"] = "true",
            ["Regroup__Enabled"] = "false",
            ["Batching__Window"] = "00:00:00.050",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>A short run id keeps sensor ids (<c>lg-{id}-{n}</c>) and proxy markers of one scenario apart.</summary>
    public static string RunId(string scenario) => $"{scenario}{Guid.NewGuid():N}"[..12];
}

[CollectionDefinition(Name)]
public sealed class ReliabilityCollection : ICollectionFixture<OpenMotoFixture>
{
    public const string Name = "reliability";
}
