using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using IngestService.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace IngestService.Tests.Operations;

public sealed class OperationsEndpointTests
{
    [Fact]
    public async Task Metrics_are_prometheus_text_and_move_as_events_are_accepted_and_rejected()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();
        Assert.Contains("ingest_events_accepted_total 0\n", await client.GetStringAsync("/metrics"));

        await client.PostAsync("/v1/sensors/s1/events", Json("{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1}"));
        await client.PostAsync("/v1/sensors/s1/events", Json("{\"seq\":2}"));
        using var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("ingest_events_accepted_total 1\n", text);
        Assert.Contains("ingest_events_rejected_total{reason=\"bad_event\"} 1\n", text);
        Assert.Contains("ingest_ack_latency_seconds_count 1\n", text);
        Assert.Contains("ingest_window_events_count 1\n", text);
        Assert.Contains("ingest_pending_events 0\n", text);
        Assert.Contains("process_resident_memory_bytes ", text);
    }

    [Fact]
    public async Task Readiness_is_503_problem_when_a_sink_is_unreachable()
    {
        var sink = new ScriptedSink { ReadyProblem = "stream not found" };
        using var app = new IngestAppFactory(sink: sink);
        using var client = app.CreateClient();

        using var response = await client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("stream not found", await response.Content.ReadAsStringAsync());
        sink.ReadyProblem = null;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
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
        Assert.True(paths.TryGetProperty("/metrics", out _));
    }

    [Theory]
    [InlineData("Ingest:Backend", "Aws", "Auth:AllowAnonymous")]
    [InlineData("Batching:Window", "00:05:00", "Window")]
    [InlineData("Ingest:MaxEventBytes", "0", "MaxEventBytes")]
    [InlineData("Auth:Mode", "Jwt", "Auth:SigningKey")]
    public async Task Invalid_configuration_stops_start_up_naming_the_key(string key, string value, string named)
    {
        var error = await StartupHost.FailureAsync(new Dictionary<string, string?>
        {
            ["Aws:Region"] = "eu-west-1",
            ["Aws:Bucket"] = "bucket",
            ["Aws:DeliveryStream"] = "stream",
            [key] = value,
        });

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
