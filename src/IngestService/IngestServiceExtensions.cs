using IngestService.Auth;
using IngestService.Ingest;
using IngestService.Operations;
using IngestService.Query;
using IngestService.Regroup;
using IngestService.Telemetry;
using Serilog;
using Serilog.Events;

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

        // The static Log.Logger is left alone so in-process test hosts do not share one. ASP.NET Core's hosting log and
        // Kestrel's are off whatever the configuration says. While the hosting log is enabled at any level, every
        // request gets an Activity and a log scope (async-locals, so a new execution context), a third of the bytes an
        // acknowledgement allocated; RequestLogSetup writes the request lines, with the request id the hosting scope
        // carried. While Kestrel's is, every connection runs in a log scope, an execution context that every
        // continuation of every request on it restores (1–5 % of the CPU per acknowledgement, docs/performance.md); what
        // it warns of (application errors, a starved thread pool) the exception handler, the request log and
        // dotnet_thread_pool_queue_length_total at /metrics report.
        builder.Services.AddSerilog((_, logger) => logger.ReadFrom.Configuration(builder.Configuration)
            .MinimumLevel.Override("Microsoft.AspNetCore.Hosting.Diagnostics", LevelAlias.Off)
            .MinimumLevel.Override("Microsoft.AspNetCore.Server.Kestrel", LevelAlias.Off), preserveStaticLogger: true);

        var configuration = builder.Configuration;
        var backend = Backends.Read(configuration);
        var services = builder.Services;
        services.AddIngestMetrics(configuration);
        services.AddIngestAuth(configuration, anonymousNeedsConsent: backend == Backend.Aws);
        services.AddOperations(configuration);
        services.AddBackend(configuration, backend);
        services.AddIngest(configuration);
        services.AddRegroup(local: backend == Backend.Local);
        services.AddQuery();
        return builder;
    }
}
