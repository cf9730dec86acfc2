using System.ComponentModel.DataAnnotations;

namespace IngestService.Telemetry;

public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>
    /// Whether ASP.NET Core's per-request meters (<c>http_server_request_duration_seconds</c>, Kestrel's
    /// connection meters) are exported too. Default <c>false</c>: they cost ingest throughput (docs/operations.md).
    /// </summary>
    public bool AspNetCoreMeters { get; set; }

    /// <summary>The OpenTelemetry <c>service.name</c> of pushed metrics. Default <c>ingest-service</c>.</summary>
    [Required]
    public string ServiceName { get; set; } = "ingest-service";
}
