using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Serialization;
using IngestService.Delivery;
using IngestService.Ingest;
using IngestService.Operations;
using IngestService.Operations.Auth;
using IngestService.Query;
using IngestService.Regroup;
using IngestService.Storage;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Serilog;

namespace IngestService;

public static class IngestServiceExtensions
{
    /// <summary>Registers everything the service needs, chosen by <c>Ingest:Backend</c>.</summary>
    public static WebApplicationBuilder AddIngestService(this WebApplicationBuilder builder)
    {
        // The contract's port, unless --urls or ASPNETCORE_URLS chose another.
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls("http://localhost:5080");
        }

        var services = builder.Services;

        // Slow clients must not hold connections: a sensor's headers are tiny, so 10 s is generous. The
        // Kestrel section can still override it, and the body's minimum data rate (240 B/s) stays default.
        services.Configure<KestrelServerOptions>(o => o.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10));
        services.Configure<KestrelServerOptions>(builder.Configuration.GetSection("Kestrel"));
        services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BatchingOptions>().BindConfiguration(BatchingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateDataAnnotations().ValidateOnStart();

        builder.Logging.ClearProviders().AddSerilog(new LoggerConfiguration().ReadFrom.Configuration(builder.Configuration).CreateLogger(), dispose: true);
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, IngestJsonContext.Default));
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<PrometheusExporter>();
        // The exporter must listen before the first measurement, or what was measured before the first
        // scrape would be lost.
        services.AddSingleton(sp =>
        {
            sp.GetRequiredService<PrometheusExporter>();
            return new IngestMetrics(sp.GetRequiredService<IMeterFactory>());
        });
        services.AddIngestAuth(builder.Configuration);
        services.AddOpenApi(o => o.AddDocumentTransformer<OpenApiSecurity>());

        services.AddSingleton<Batcher>();
        services.AddHostedService(sp => sp.GetRequiredService<Batcher>());

        var backend = builder.Configuration.GetValue($"{IngestOptions.Section}:{nameof(IngestOptions.Backend)}", Backend.Local);
        if (backend == Backend.Local)
        {
            services.AddSingleton<IEventSink, LocalRawSink>();
            services.AddSingleton<IObjectStore, FileSystemObjectStore>();
        }
        else
        {
            services.AddAwsDelivery(builder.Configuration);
        }

        services.AddRegroup();
        services.AddQuery();

        // Held events are answered before exit: give the batcher the ack timeout and a margin to finish.
        var ackTimeout = builder.Configuration.GetValue($"{BatchingOptions.Section}:{nameof(BatchingOptions.AckTimeout)}", new BatchingOptions().AckTimeout);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = ackTimeout + TimeSpan.FromSeconds(10));
        services.AddHostedService<DrainOnStop>();
        return builder;
    }
}

/// <summary>
/// Stops new events the moment shutdown begins, while the server still finishes the requests it holds and
/// the batcher still delivers them.
/// </summary>
internal sealed class DrainOnStop(IHostApplicationLifetime lifetime, Batcher batcher) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(batcher.BeginDrain);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(StoredEvent))]
[JsonSerializable(typeof(StoredBatch))]
[JsonSerializable(typeof(Readiness))]
internal sealed partial class IngestJsonContext : JsonSerializerContext;
