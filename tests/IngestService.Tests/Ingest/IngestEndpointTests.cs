using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Ingest;

public sealed class IngestEndpointTests
{
    private const string Event = "{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1,\"t\":21.5}";

    [Fact]
    public async Task A_valid_event_is_answered_with_its_identity_and_is_in_a_raw_file_byte_for_byte()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();

        using var response = await client.PostAsync("/v1/sensors/s1/events", Json("{\"ts\":\"2026-11-21T11:00:00.5+01:00\",\"seq\":42,\"t\":21.50}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("stored", body.RootElement.GetProperty("status").GetString());
        Assert.Equal("s1", body.RootElement.GetProperty("sensorId").GetString());
        Assert.Equal(42, body.RootElement.GetProperty("seq").GetInt64());
        Assert.Equal("2026-11-21T10:00:00.500Z", body.RootElement.GetProperty("ts").GetString());
        var line = Assert.Single(app.RawLines());
        Assert.StartsWith("{\"sensorId\":\"s1\",\"seq\":42,\"ts\":\"2026-11-21T10:00:00.500Z\",\"receivedAt\":\"", line);
        Assert.EndsWith(",\"event\":{\"ts\":\"2026-11-21T11:00:00.5+01:00\",\"seq\":42,\"t\":21.50}}", line);
    }

    [Fact]
    public async Task An_event_without_seq_is_stored_with_a_null_seq()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();

        using var response = await client.PostAsync("/v1/sensors/s1/events", Json("{\"ts\":\"2026-11-21T10:00:00Z\"}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("{\"sensorId\":\"s1\",\"seq\":null,", Assert.Single(app.RawLines()));
    }

    [Fact]
    public async Task Many_sensors_share_windows_and_every_acknowledged_event_is_stored_exactly_as_sent()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();
        const int sensors = 200;
        const int perSensor = 50;

        var statuses = await Task.WhenAll(Enumerable.Range(0, sensors).Select(async s =>
        {
            var acked = 0;
            for (var seq = 0; seq < perSensor; seq++)
            {
                // One event in flight per sensor, as the protocol has it.
                using var response = await client.PostAsync($"/v1/sensors/sensor-{s}/events", Json($"{{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":{seq},\"v\":{s}}}"));
                acked += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
            }

            return acked;
        }));

        Assert.Equal(sensors * perSensor, statuses.Sum());
        var lines = app.RawLines();
        Assert.Equal(sensors * perSensor, lines.Count);
        var events = lines.Select(l => JsonDocument.Parse(l).RootElement).Select(e =>
            (Sensor: e.GetProperty("sensorId").GetString(), Seq: e.GetProperty("seq").GetInt64(), Event: e.GetProperty("event").GetRawText())).ToList();
        Assert.Equal(sensors * perSensor, events.Select(e => (e.Sensor, e.Seq)).Distinct().Count());
        Assert.All(events, e => Assert.Equal($"{{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":{e.Seq},\"v\":{e.Sensor!["sensor-".Length..]}}}", e.Event));
        Assert.True(app.RawFiles().Count < sensors * perSensor / 10, $"{app.RawFiles().Count} raw files for {sensors * perSensor} events");
    }

    [Fact]
    public async Task A_backlog_batch_is_stored_whole()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();

        using var response = await client.PostAsync("/v1/sensors/s1/events", Ndjson(
            "{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1}\r\n\n{\"ts\":\"2026-11-21T10:00:01Z\",\"seq\":2}\n{\"ts\":\"2026-11-21T10:00:02Z\",\"seq\":3}\n"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        Assert.Equal(3, app.RawLines().Count);
    }

    [Fact]
    public async Task A_backlog_batch_with_one_bad_line_stores_nothing_and_names_the_line()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();

        using var response = await client.PostAsync("/v1/sensors/s1/events", Ndjson(
            "{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1}\n{\"seq\":2}\n{\"ts\":\"2026-11-21T10:00:02Z\",\"seq\":3}\n"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.StartsWith("line 2:", problem.GetProperty("detail").GetString());
        Assert.Empty(app.RawLines());
    }

    public static TheoryData<string, string, string, string, HttpStatusCode> BadRequests() => new()
    {
        { "malformed JSON", "s1", "application/json", "{\"ts\":\"2026-11-21T10:00:00Z\",", HttpStatusCode.BadRequest },
        { "not an object", "s1", "application/json", "[1,2]", HttpStatusCode.BadRequest },
        { "trailing garbage", "s1", "application/json", Event + "x", HttpStatusCode.BadRequest },
        { "missing ts", "s1", "application/json", "{\"seq\":1}", HttpStatusCode.BadRequest },
        { "ts without zone", "s1", "application/json", "{\"ts\":\"2026-11-21T10:00:00\"}", HttpStatusCode.BadRequest },
        { "ts as number", "s1", "application/json", "{\"ts\":1763719200}", HttpStatusCode.BadRequest },
        { "ts impossible date", "s1", "application/json", "{\"ts\":\"2026-02-30T10:00:00Z\"}", HttpStatusCode.BadRequest },
        { "ts leap second", "s1", "application/json", "{\"ts\":\"2016-12-31T23:59:60Z\"}", HttpStatusCode.BadRequest },
        { "ts far future", "s1", "application/json", "{\"ts\":\"2999-01-01T00:00:00Z\"}", HttpStatusCode.BadRequest },
        { "ts twice", "s1", "application/json", "{\"ts\":\"2026-11-21T10:00:00Z\",\"ts\":\"2026-11-21T10:00:01Z\"}", HttpStatusCode.BadRequest },
        { "negative seq", "s1", "application/json", "{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":-1}", HttpStatusCode.BadRequest },
        { "fractional seq", "s1", "application/json", "{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1.5}", HttpStatusCode.BadRequest },
        { "seq above 2^63-1", "s1", "application/json", "{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":9223372036854775808}", HttpStatusCode.BadRequest },
        { "seq as string", "s1", "application/json", "{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":\"1\"}", HttpStatusCode.BadRequest },
        { "sensorId starting with a dot", ".hidden", "application/json", Event, HttpStatusCode.BadRequest },
        { "sensorId with an encoded slash", "a%2Fb", "application/json", Event, HttpStatusCode.BadRequest },
        { "sensorId with unicode", "s%C3%A9", "application/json", Event, HttpStatusCode.BadRequest },
        { "sensorId of 129 characters", new string('a', 129), "application/json", Event, HttpStatusCode.BadRequest },
        { "text/plain", "s1", "text/plain", Event, HttpStatusCode.UnsupportedMediaType },
        { "another charset", "s1", "application/json; charset=iso-8859-1", Event, HttpStatusCode.UnsupportedMediaType },
        { "over the size limit", "s1", "application/json", "{\"ts\":\"2026-11-21T10:00:00Z\",\"pad\":\"" + new string('x', 70_000) + "\"}", HttpStatusCode.RequestEntityTooLarge },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_input_gets_a_problem_with_an_actionable_detail_and_stores_nothing(string because, string sensorId, string contentType, string body, HttpStatusCode expected)
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        using var response = await client.PostAsync($"/v1/sensors/{sensorId}/events", content);

        var problem = await AssertProblemAsync(response, expected);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), because);
        Assert.Empty(app.RawLines());
        using var ready = await client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task A_body_without_a_content_type_is_unsupported()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();

        using var response = await client.PostAsync("/v1/sensors/s1/events", new ByteArrayContent(Encoding.UTF8.GetBytes(Event)));

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task A_failing_sink_answers_503_with_retry_after_and_the_resend_succeeds_once_it_recovers()
    {
        var sink = new SwitchableSink { Failing = true };
        using var app = new IngestAppFactory(sinks: [sink]);
        using var client = app.CreateClient();

        using var failed = await client.PostAsync("/v1/sensors/s1/events", Json(Event));
        await AssertProblemAsync(failed, HttpStatusCode.ServiceUnavailable);
        Assert.NotNull(failed.Headers.RetryAfter);

        sink.Failing = false;
        using var resent = await client.PostAsync("/v1/sensors/s1/events", Json(Event));
        Assert.Equal(HttpStatusCode.OK, resent.StatusCode);
    }

    [Fact]
    public async Task Over_the_pending_cap_a_sensor_gets_429_at_once_with_retry_after()
    {
        var sink = new ScriptedSink();
        using var app = new IngestAppFactory(new() { ["Batching:MaxPendingEvents"] = "1" }, [sink]);
        using var client = app.CreateClient();

        var first = client.PostAsync("/v1/sensors/s1/events", Json(Event));
        var window = await sink.NextWindowAsync();
        using var refused = await client.PostAsync("/v1/sensors/s2/events", Json(Event));

        await AssertProblemAsync(refused, (HttpStatusCode)429);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.False(first.IsCompleted);
        window.Accept();
        using var accepted = await first;
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        return problem;
    }

    private static ByteArrayContent Json(string body) => Content(body, "application/json");

    private static ByteArrayContent Ndjson(string body) => Content(body, "application/x-ndjson");

    private static ByteArrayContent Content(string body, string type)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }
}
