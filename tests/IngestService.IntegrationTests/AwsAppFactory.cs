using Amazon.Runtime;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace IngestService.IntegrationTests;

/// <summary>The real service in process on the <c>Aws</c> backend, talking to moto (through a proxy) with the given keys.</summary>
public sealed class AwsAppFactory(MotoFixture moto, Uri serviceUrl, AWSCredentials credentials, Dictionary<string, string?>? extra = null)
    : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var settings = moto.Settings(serviceUrl);
        settings["Ingest:Backend"] = "Aws";
        settings["Ingest:DataPath"] = Path.Combine(Path.GetTempPath(), "ingest-it", Guid.NewGuid().ToString("N"));
        settings["Auth:AllowAnonymous"] = "true";
        settings["Regroup:Enabled"] = "false";
        settings["Batching:Window"] = "00:00:00.050";
        settings["Batching:AckTimeout"] = "00:00:05";
        foreach (var (k, v) in extra ?? [])
        {
            settings[k] = v;
        }

        foreach (var (k, v) in settings)
        {
            builder.UseSetting(k, v);
        }

        builder.ConfigureTestServices(services => services.AddSingleton(credentials));
    }
}
