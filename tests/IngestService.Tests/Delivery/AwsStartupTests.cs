using IngestService.Tests.Infrastructure;
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
}
