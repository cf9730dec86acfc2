using System.Net;
using System.Text;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Operations;

/// <summary>The opt-in OTLP push an ECS task uses to reach its ADOT collector sidecar, on a real process.</summary>
public sealed class OtlpPushTests
{
    [Fact]
    public async Task With_an_otlp_endpoint_set_a_node_pushes_its_metrics_there()
    {
        var port = ServiceNode.FreePort();
        using var collector = new HttpListener { Prefixes = { $"http://127.0.0.1:{port}/" } };
        collector.Start();
        var received = ReceiveMetricsAsync(collector);

        await using var node = await ServiceNode.StartAsync(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{port}",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        });

        // A guard against a node that never pushes, not a timing assertion.
        var body = await received.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Contains("ingest_pending_events", body);
        Assert.Contains("ingest-service", body);
    }

    /// <summary>The body of the first OTLP/HTTP metrics export that carries the service's pending gauge.</summary>
    private static async Task<string> ReceiveMetricsAsync(HttpListener collector)
    {
        while (true)
        {
            var context = await collector.GetContextAsync();
            using var reader = new StreamReader(context.Request.InputStream, Encoding.Latin1);
            var body = await reader.ReadToEndAsync();
            var path = context.Request.Url?.AbsolutePath;
            context.Response.StatusCode = 200;
            context.Response.Close();
            if (path == "/v1/metrics" && body.Contains("ingest_pending_events", StringComparison.Ordinal))
            {
                return body;
            }
        }
    }
}
