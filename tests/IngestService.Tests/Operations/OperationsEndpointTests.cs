using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using IngestService.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace IngestService.Tests.Operations;

/// <summary>
/// OpenTelemetry listens to meters by name across the whole process, so an in-process host's /metrics also
/// counts what other test hosts measure at the same time (a deployed node is one host per process). These
/// tests count exactly, so they run alone.
/// </summary>
[Collection(nameof(MetricsCollection))]
public sealed class OperationsEndpointTests
{
    [Fact]
    public async Task Metrics_are_prometheus_text_from_the_opentelemetry_exporter_and_move_as_events_are_accepted_and_rejected()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();
        // A counter appears with its first measurement.
        Assert.Null(MetricsText.Value(await client.GetStringAsync("/metrics"), "ingest_events_accepted_total"));

        await client.PostAsync("/v1/sensors/s1/events", Json("{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1}"));
        await client.PostAsync("/v1/sensors/s1/events", Json("{\"seq\":2}"));
        using var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("telemetry_sdk_name=\"opentelemetry\"", text);
        Assert.Equal(1, MetricsText.Value(text, "ingest_events_accepted_total"));
        Assert.Equal(1, MetricsText.Value(text, "ingest_events_rejected_total", "reason=\"bad_event\""));
        Assert.Equal(1, MetricsText.Value(text, "ingest_ack_latency_seconds_count"));
        Assert.Equal(1, MetricsText.Value(text, "ingest_window_events_count"));
        Assert.Equal(1, MetricsText.Value(text, "ingest_flush_duration_seconds_count", "sink=\"local\""));
        Assert.Equal(0, MetricsText.Value(text, "ingest_pending_events"));
        Assert.True(MetricsText.Value(text, "process_resident_memory_bytes") > 0);
        Assert.DoesNotContain("otel_scope_name", text);
    }

    [Fact]
    public async Task Metrics_carry_the_runtime_gauges_that_tell_live_heap_from_the_collectors_commitment()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();
        GC.Collect();

        var text = await client.GetStringAsync("/metrics");

        Assert.True(MetricsText.Value(text, "dotnet_gc_last_collection_memory_committed_size_bytes") > 0);
        Assert.True(MetricsText.Value(text, "dotnet_gc_last_collection_heap_size_bytes", "gc_heap_generation=\"gen2\"") > 0);
        Assert.NotNull(MetricsText.Value(text, "dotnet_gc_last_collection_heap_fragmentation_size_bytes", "gc_heap_generation=\"gen1\""));
        Assert.True(MetricsText.Value(text, "dotnet_gc_collections_total", "gc_heap_generation=\"gen2\"") >= 1);
    }

    [Fact]
    public async Task Metrics_leave_out_aspnetcore_request_meters_unless_asked_for()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();
        using var withMeters = new IngestAppFactory(new() { ["Metrics:AspNetCoreMeters"] = "true" });
        using var withMetersClient = withMeters.CreateClient();
        await client.GetAsync("/healthz");
        await withMetersClient.GetAsync("/healthz");

        Assert.DoesNotContain("http_server_request_duration_seconds", await client.GetStringAsync("/metrics"));
        Assert.Contains("http_server_request_duration_seconds", await withMetersClient.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task Readiness_is_503_problem_naming_the_sink_without_its_resources_or_error_text()
    {
        var sink = new ScriptedSink("kinesis") { ReadyProblem = "ResourceNotFoundException: Stream secret-stream-name under account 123456789012 not found" };
        using var app = new IngestAppFactory(sinks: [sink]);
        using var client = app.CreateClient();

        using var response = await client.GetAsync("/readyz");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("kinesis", body);
        Assert.DoesNotContain("secret-stream-name", body);
        Assert.DoesNotContain("123456789012", body);
        Assert.DoesNotContain("ResourceNotFound", body);
        Assert.Equal(0, MetricsText.Value(await client.GetStringAsync("/metrics"), "ingest_sink_ready", "sink=\"kinesis\""));

        sink.ReadyProblem = null;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
        Assert.Equal(1, MetricsText.Value(await client.GetStringAsync("/metrics"), "ingest_sink_ready", "sink=\"kinesis\""));
    }

    [Fact]
    public async Task The_api_reference_at_docs_is_served_over_the_openapi_document_from_the_node()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();

        using var page = await client.GetAsync("/docs");
        var html = await page.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("openapi/v1.json", html);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/docs/scalar.js")).StatusCode);
        // That the page then calls nothing outside the node is seen in a browser: AnalystToolsTests.
    }

    [Fact]
    public async Task The_openapi_document_lists_the_ingest_and_operations_endpoints()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var paths = document.RootElement.GetProperty("paths");

        Assert.True(paths.TryGetProperty("/v1/sensors/{sensorId}/events", out var events));
        Assert.True(events.GetProperty("post").GetProperty("responses").TryGetProperty("429", out _));
        Assert.True(paths.TryGetProperty("/readyz", out _));
    }

    [Theory]
    [InlineData("Ingest:Backend", "Aws", "Auth:AllowAnonymous")]
    [InlineData("Batching:Window", "00:05:00", "Window")]
    [InlineData("Ingest:MaxEventBytes", "0", "MaxEventBytes")]
    [InlineData("Auth:Mode", "Jwt", "Auth:SigningKey")]
    public async Task Invalid_configuration_stops_start_up_naming_the_key(string key, string value, string named)
    {
        using var app = new IngestAppFactory(new()
        {
            ["Aws:Region"] = "eu-west-1",
            ["Aws:Bucket"] = "bucket",
            ["Aws:DeliveryStream"] = "stream",
            [key] = value,
        });

        var error = await app.StartupFailureAsync();

        var messages = string.Join(" | ", Flatten(error).Select(e => e.Message));
        Assert.Contains(named, messages);
    }

    private static IEnumerable<Exception> Flatten(Exception e) =>
        e is AggregateException a ? a.InnerExceptions.SelectMany(Flatten).Prepend(e)
        : e is OptionsValidationException o ? [o, .. o.Failures.Select(f => new InvalidOperationException(f))]
        : e.InnerException is null ? [e] : Flatten(e.InnerException).Prepend(e);

    private static ByteArrayContent Json(string body)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}
