using Amazon;
using IngestService.Aws;

namespace IngestService.Tests.Delivery;

public sealed class AwsEndpointTests
{
    private static readonly Dictionary<string, string?> Both = new()
    {
        ["AWS_ENDPOINT_URL_KINESIS"] = "http://kinesis.local:4566",
        ["AWS_ENDPOINT_URL"] = "http://everything.local:4566",
    };

    [Fact]
    public void The_configured_service_url_wins_over_the_environment() =>
        Assert.Equal(new Uri("http://127.0.0.1:5000"), AwsConnection.ResolveEndpoint("http://127.0.0.1:5000", "kinesis", "KINESIS", RegionEndpoint.EUWest1, Env(Both)));

    [Fact]
    public void A_service_specific_variable_wins_over_the_global_one()
    {
        Assert.Equal(new Uri("http://kinesis.local:4566"), AwsConnection.ResolveEndpoint(null, "kinesis", "KINESIS", RegionEndpoint.EUWest1, Env(Both)));
        Assert.Equal(new Uri("http://everything.local:4566"), AwsConnection.ResolveEndpoint("", "firehose", "FIREHOSE", RegionEndpoint.EUWest1, Env(Both)));
    }

    [Fact]
    public void Without_overrides_the_regional_AWS_endpoint_is_used()
    {
        Assert.Equal(new Uri("https://firehose.eu-west-1.amazonaws.com"), AwsConnection.ResolveEndpoint(null, "firehose", "FIREHOSE", RegionEndpoint.EUWest1, Env([])));
        Assert.Equal(new Uri("https://kinesis.cn-north-1.amazonaws.com.cn"), AwsConnection.ResolveEndpoint(null, "kinesis", "KINESIS", RegionEndpoint.CNNorth1, Env([])));
    }

    private static Func<string, string?> Env(Dictionary<string, string?> values) => name => values.GetValueOrDefault(name);
}
