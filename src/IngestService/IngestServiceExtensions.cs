using IngestService.Delivery;
using IngestService.Ingest;
using IngestService.Operations;
using IngestService.Query;
using IngestService.Regroup;
using Serilog;

namespace IngestService;

public static class IngestServiceExtensions
{
    /// <summary>Registers everything the service needs, the sinks and store chosen by <c>Ingest:Backend</c>.</summary>
    public static WebApplicationBuilder AddIngestService(this WebApplicationBuilder builder)
    {
        // The contract's port, unless --urls or ASPNETCORE_URLS chose another.
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls("http://localhost:5080");
        }

        // Services.AddSerilog also registers the diagnostic context that request logging needs; the static
        // Log.Logger is left alone so in-process test hosts do not share one.
        builder.Services.AddSerilog((_, logger) => logger.ReadFrom.Configuration(builder.Configuration), preserveStaticLogger: true);

        var configuration = builder.Configuration;
        var services = builder.Services;
        services.AddOperations(configuration);
        services.AddIngest(configuration);
        if (configuration.GetValue($"{IngestOptions.Section}:{nameof(IngestOptions.Backend)}", Backend.Local) == Backend.Local)
        {
            services.AddLocalDelivery();
        }
        else
        {
            services.AddAwsDelivery(configuration);
        }

        services.AddRegroup();
        services.AddQuery();
        return builder;
    }
}
