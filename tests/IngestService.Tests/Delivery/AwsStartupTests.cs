using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;

namespace IngestService.Tests.Delivery;

public sealed class AwsStartupTests
{
    [Theory]
    [InlineData("Aws:Bucket")]
    [InlineData("Aws:DeliveryStream")]
    [InlineData("Aws:ServiceUrl", "not a url")]
    public void The_Aws_backend_does_not_start_without_a_required_key_and_names_it(string missing, string? replacement = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Ingest:Backend"] = "Aws",
            ["Auth:AllowAnonymous"] = "true",
            ["Regroup:Enabled"] = "false",
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

        using var app = new SettingsFactory(settings);

        var error = Assert.Throws<OptionsValidationException>(() => app.CreateClient());

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    private sealed class SettingsFactory(Dictionary<string, string?> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (k, v) in settings)
            {
                builder.UseSetting(k, v);
            }
        }
    }
}
