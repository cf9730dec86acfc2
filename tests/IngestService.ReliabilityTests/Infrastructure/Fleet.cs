using IngestService.IntegrationTests;
using IngestService.Tests.Infrastructure;

namespace IngestService.ReliabilityTests.Infrastructure;

/// <summary>
/// The nodes of one scenario: processes on the <c>Aws</c> backend against the suite's moto server, signing with the
/// fixture's service key, logging warnings and worse, started together and stopped together.
/// </summary>
public sealed class Fleet : IAsyncDisposable
{
    private Fleet(IReadOnlyList<ServiceNode> nodes) => Nodes = nodes;

    public IReadOnlyList<ServiceNode> Nodes { get; }

    /// <summary>The node of a one-node fleet.</summary>
    public ServiceNode Node => Assert.Single(Nodes);

    /// <summary>
    /// Nodes whose Firehose and Kinesis calls go to <paramref name="streamsUrl"/>, and S3 calls to
    /// <paramref name="s3Url"/> when given: with a fault proxy for the streams, the faults are the streams' own and
    /// the regroup pass behind <c>--verify</c> reads S3 undisturbed.
    /// </summary>
    public static async Task<Fleet> StartAsync(MotoFixture moto, Uri streamsUrl, Uri? s3Url = null, Dictionary<string, string>? extra = null, int nodes = 1)
    {
        var settings = Settings(moto, streamsUrl, s3Url ?? streamsUrl, extra);
        var fleet = new Fleet([.. Enumerable.Range(1, nodes).Select(i => new ServiceNode(nodes == 1 ? "node" : $"node{i}", settings))]);
        try
        {
            await Task.WhenAll(fleet.Nodes.Select(n => n.StartAsync()));
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    /// <summary>A short run id keeps sensor ids (<c>lg-{id}-{n}</c>) and proxy markers of one scenario apart.</summary>
    public static string RunId(string scenario) => $"{scenario}{Guid.NewGuid():N}"[..12];

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    private static Dictionary<string, string> Settings(MotoFixture moto, Uri streamsUrl, Uri s3Url, Dictionary<string, string>? extra)
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
            // The fault tests time their sensors against the window; filling Firehose records (up to 750 ms at low
            // rates) is a billing matter that the Batcher tests and bench/cost.sh cover.
            ["Batching__FillWindow"] = "00:00:00.050",
            ["Serilog__MinimumLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }
}

[CollectionDefinition(Name)]
public sealed class ReliabilityCollection : ICollectionFixture<OpenMotoFixture>
{
    public const string Name = "reliability";
}
