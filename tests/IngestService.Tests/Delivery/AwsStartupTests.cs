using Amazon.Runtime;
using IngestService.Delivery;
using IngestService.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace IngestService.Tests.Delivery;

public sealed class AwsStartupTests
{
    [Theory]
    [InlineData("Aws:Bucket")]
    [InlineData("Aws:DeliveryStream")]
    [InlineData("Aws:ServiceUrl", "not a url")]
    public async Task The_Aws_backend_does_not_start_without_a_required_key_and_names_it(string missing, string? replacement = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Aws:Region"] = "us-east-1",
            ["Aws:ServiceUrl"] = "http://127.0.0.1:9",
            ["Aws:Bucket"] = "b",
            ["Aws:DeliveryStream"] = "d",
        };
        settings.Remove(missing);
        if (replacement is not null)
        {
            settings[missing] = replacement;
        }

        using var app = new IngestAppFactory(settings, backend: TestBackend.Aws);

        var error = Assert.IsType<OptionsValidationException>(await app.StartupFailureAsync());

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Provision_without_credentials_says_so_instead_of_throwing()
    {
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aws:Region"] = "us-east-1",
            ["Aws:ServiceUrl"] = "http://127.0.0.1:9",
            ["Aws:Bucket"] = "b",
            ["Aws:DeliveryStream"] = "d",
        }).Build();
        using var output = new StringWriter();

        var code = await Provisioning.RunAsync(settings, output, new NoCredentials());

        Assert.Equal(1, code);
        Assert.StartsWith("provision failed: no credentials in this test", output.ToString(), StringComparison.Ordinal);
    }

    /// <summary>What the standard chain does when it finds nothing: it throws when asked.</summary>
    private sealed class NoCredentials : AWSCredentials
    {
        public override ImmutableCredentials GetCredentials() => throw new AmazonClientException("no credentials in this test");
    }
}
