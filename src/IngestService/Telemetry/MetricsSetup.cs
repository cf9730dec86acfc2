using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace IngestService.Telemetry;

/// <summary>
/// The service's meter through OpenTelemetry: scraped at <c>/metrics</c> in Prometheus text, and pushed over
/// OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (how an ECS task reaches CloudWatch through the ADOT
/// collector sidecar).
/// </summary>
public static class MetricsSetup
{
    /// <summary>
    /// .NET's built-in runtime meter: gauges read at a scrape, and a counter of thrown exceptions; nothing per request.
    /// </summary>
    private const string RuntimeMeter = "System.Runtime";

    /// <summary>ASP.NET Core's own meters, left out unless <c>Metrics:AspNetCoreMeters</c> asks for them.</summary>
    private static readonly string[] AspNetCoreMeters = ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel"];

    public static IServiceCollection AddIngestMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var options = configuration.GetSection(MetricsOptions.Section).Get<MetricsOptions>() ?? new MetricsOptions();
        services.AddMetrics();
        services.AddSingleton<IngestMetrics>();
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(options.ServiceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(IngestMetrics.MeterName);
                // The runtime's own gauges (GC heap by generation, committed memory, pauses, thread pool): whether a
                // growing RSS is objects kept or the collector's slack (docs/reliability.md) shows only here.
                metrics.AddMeter(RuntimeMeter);
                if (options.AspNetCoreMeters)
                {
                    // Every request then records a duration with several tags: measured in docs/operations.md.
                    metrics.AddMeter(AspNetCoreMeters);
                }

                metrics.AddPrometheusExporter(o =>
                {
                    // A cached scrape would show a test or an operator figures up to a second old.
                    o.ScrapeResponseCacheDurationMilliseconds = 0;
                    // Without an otel_scope_name label on every series the names and labels stay those the
                    // README lists and the dashboards and alert rules query.
                    o.ScopeInfoEnabled = false;
                });
                if (OtlpRequested(configuration))
                {
                    // Endpoint, protocol, headers and interval come from the standard OTEL_* variables.
                    metrics.AddOtlpExporter();
                }
            });
        return services;
    }

    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder routes) =>
        routes.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();

    private static bool OtlpRequested(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
        || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"]);
}
