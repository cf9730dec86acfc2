using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace IngestService.Tests.Query;

public sealed class QueryApiTests : IClassFixture<QueryApp>
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));
    private readonly QueryApp _factory;
    private readonly HttpClient _client;

    public QueryApiTests(QueryApp factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    private CancellationToken Token => _timeout.Token;

    private async Task PostAsync(string sensorId, string json)
    {
        using var response = await _client.PostAsync($"/v1/sensors/{sensorId}/events", new StringContent(json, Encoding.UTF8, "application/json"), Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<JsonElement> FlushAsync()
    {
        using var response = await _client.PostAsync("/v1/admin/flush", null, Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token)).RootElement;
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string? accept = null, Action<HttpRequestHeaders>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        headers?.Invoke(request.Headers);
        return await _client.SendAsync(request, Token);
    }

    private async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailPart)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token)).RootElement;
        Assert.Contains(detailPart, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Posted_events_are_read_back_once_each_in_order_after_a_flush()
    {
        await PostAsync("nd1", """{"ts":"2026-11-21T10:00:02Z","seq":2,"t":2}""");
        await PostAsync("nd1", """{"ts":"2026-11-21T11:00:01+01:00","seq":1,"t":1}""");
        await PostAsync("nd1", """{"ts":"2026-11-21T10:00:02Z","seq":2,"t":2}""");
        await PostAsync("nd1", """{"ts":"2026-11-21T10:00:03Z","t":3}""");
        await PostAsync("nd1", """{"ts":"2026-11-21T10:00:03Z","t":3}""");

        var report = await FlushAsync();
        using var response = await GetAsync("/v1/sensors/nd1/days/2026-11-21");

        Assert.True(report.GetProperty("batchesRead").GetInt32() >= 1);
        Assert.True(report.GetProperty("duplicatesDropped").GetInt64() >= 2);
        Assert.Equal(0, report.GetProperty("badLines").GetInt64());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync(Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var events = lines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(["2026-11-21T10:00:01.000Z", "2026-11-21T10:00:02.000Z", "2026-11-21T10:00:03.000Z"], events.Select(e => e.GetProperty("ts").GetString()));
        Assert.Equal(JsonValueKind.Null, events[2].GetProperty("seq").ValueKind);
        Assert.Equal("""{"ts":"2026-11-21T11:00:01+01:00","seq":1,"t":1}""", events[0].GetProperty("event").GetRawText());
    }

    [Fact]
    public async Task Csv_has_the_envelope_columns_then_every_event_field_in_first_seen_order()
    {
        await PostAsync("csv1", """{"ts":"2026-11-21T10:00:00Z","seq":1,"t":21.5,"note":"a, \"quoted\" word"}""");
        await PostAsync("csv1", """{"ts":"2026-11-21T10:00:01Z","seq":2,"t":22,"pos":{"x":1,"y":[2,3]},"ok":true}""");
        await FlushAsync();

        using var response = await GetAsync("/v1/sensors/csv1/days/2026-11-21", "text/csv");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var rows = (await response.Content.ReadAsStringAsync(Token)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("sensorId,seq,ts,receivedAt,event.ts,event.seq,t,note,pos,ok", rows[0]);
        Assert.StartsWith("csv1,1,2026-11-21T10:00:00.000Z,", rows[1], StringComparison.Ordinal);
        Assert.EndsWith(",2026-11-21T10:00:00Z,1,21.5,\"a, \"\"quoted\"\" word\",,", rows[1], StringComparison.Ordinal);
        Assert.EndsWith(",2026-11-21T10:00:01Z,2,22,,\"{\"\"x\"\":1,\"\"y\"\":[2,3]}\",true", rows[2], StringComparison.Ordinal);
        Assert.Equal(3, rows.Length);
    }

    [Fact]
    public async Task Json_gives_one_array_of_the_stored_events()
    {
        await PostAsync("json1", """{"ts":"2026-11-21T10:00:00Z","seq":1}""");
        await PostAsync("json1", """{"ts":"2026-11-21T10:00:01Z","seq":2}""");
        await FlushAsync();

        using var response = await GetAsync("/v1/sensors/json1/days/2026-11-21", "application/json");

        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var array = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token)).RootElement;
        Assert.Equal([1L, 2L], array.EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
    }

    [Fact]
    public async Task A_client_that_accepts_gzip_gets_the_stored_object_as_is()
    {
        await PostAsync("gz1", """{"ts":"2026-11-21T10:00:00Z","seq":1}""");
        await FlushAsync();

        using var response = await GetAsync("/v1/sensors/gz1/days/2026-11-21", headers: h => h.AcceptEncoding.ParseAdd("gzip"));

        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        await using var plain = new GZipStream(await response.Content.ReadAsStreamAsync(Token), CompressionMode.Decompress);
        using var reader = new StreamReader(plain);
        Assert.Contains("\"sensorId\":\"gz1\",\"seq\":1", await reader.ReadToEndAsync(Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_day_sealed_again_with_late_events_is_still_one_gzip_member_passed_through_to_a_gzip_client()
    {
        await PostAsync("gz2", """{"ts":"2026-11-21T10:00:00Z","seq":1}""");
        await FlushAsync();
        await PostAsync("gz2", """{"ts":"2026-11-21T11:00:00Z","seq":2}""");
        await FlushAsync();

        using var response = await GetAsync("/v1/sensors/gz2/days/2026-11-21", headers: h => h.AcceptEncoding.ParseAdd("gzip"));

        // Browsers read only a gzip body's first member: a resealed day is written whole, as one.
        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        using var inflated = new StreamReader(new System.IO.Compression.GZipStream(await response.Content.ReadAsStreamAsync(Token), System.IO.Compression.CompressionMode.Decompress));
        var lines = (await inflated.ReadToEndAsync(Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([1L, 2L], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
    }

    [Fact]
    public async Task An_unchanged_day_answers_304_to_its_etag_and_200_once_it_changes()
    {
        await PostAsync("etag1", """{"ts":"2026-11-21T10:00:00Z","seq":1}""");
        await FlushAsync();
        using var first = await GetAsync("/v1/sensors/etag1/days/2026-11-21");
        var etag = first.Headers.ETag!;
        using var csv = await GetAsync("/v1/sensors/etag1/days/2026-11-21", "text/csv");

        using var again = await GetAsync("/v1/sensors/etag1/days/2026-11-21", headers: h => h.IfNoneMatch.Add(etag));
        await PostAsync("etag1", """{"ts":"2026-11-21T10:00:01Z","seq":2}""");
        await FlushAsync();
        using var changed = await GetAsync("/v1/sensors/etag1/days/2026-11-21", headers: h => h.IfNoneMatch.Add(etag));

        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.NotEqual(etag, csv.Headers.ETag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag);
    }

    [Fact]
    public async Task Missing_days_bad_ids_and_bad_dates_are_problems_that_say_what_to_do()
    {
        await AssertProblemAsync(await GetAsync("/v1/sensors/nobody/days/2026-11-21"), HttpStatusCode.NotFound, "no stored events");
        await AssertProblemAsync(await GetAsync("/v1/sensors/bad%20id/days/2026-11-21"), HttpStatusCode.BadRequest, "sensorId");
        await AssertProblemAsync(await GetAsync("/v1/sensors/s1/days/21-11-2026"), HttpStatusCode.BadRequest, "yyyy-MM-dd");
        await AssertProblemAsync(await GetAsync("/v1/sensors/s1/days/2026-02-30"), HttpStatusCode.BadRequest, "yyyy-MM-dd");
        await AssertProblemAsync(await GetAsync("/v1/sensors/s1/days/2026-11-21", "text/html"), HttpStatusCode.NotAcceptable, "text/csv");
    }

    [Fact]
    public async Task A_range_read_returns_from_inclusive_to_exclusive_across_midnight_in_order()
    {
        await PostAsync("rng1", """{"ts":"2026-11-22T00:00:00.5Z","seq":4}""");
        await PostAsync("rng1", """{"ts":"2026-11-21T23:00:00Z","seq":2}""");
        await PostAsync("rng1", """{"ts":"2026-11-21T22:00:00Z","seq":1}""");
        await PostAsync("rng1", """{"ts":"2026-11-22T00:00:00Z","seq":3}""");
        await PostAsync("rng1", """{"ts":"2026-11-23T00:00:00Z","seq":5}""");
        await FlushAsync();

        using var response = await GetAsync("/v1/sensors/rng1/events?from=2026-11-21T23:00:00Z&to=2026-11-23T00:00:00Z");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var lines = (await response.Content.ReadAsStringAsync(Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([2L, 3L, 4L], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
    }

    [Theory]
    [InlineData("from=2026-11-21T10:00:00Z&to=2026-11-21T10:00:00Z", "must be after")]
    [InlineData("from=2026-11-21T10:00:00Z&to=2026-11-20T10:00:00Z", "must be after")]
    [InlineData("from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:01Z", "Query:MaxRangeDays")]
    [InlineData("from=2026-11-21&to=2026-11-22T00:00:00Z", "RFC 3339")]
    [InlineData("to=2026-11-22T00:00:00Z", "RFC 3339")]
    public async Task Range_reads_refuse_empty_reversed_too_long_or_malformed_ranges(string query, string detailPart)
    {
        await AssertProblemAsync(await GetAsync($"/v1/sensors/s1/events?{query}"), HttpStatusCode.BadRequest, detailPart);
    }

    [Fact]
    public async Task The_day_list_shows_counts_and_sizes_of_days_with_data_from_metadata()
    {
        await PostAsync("list1", """{"ts":"2026-11-20T10:00:00Z","seq":1}""");
        await PostAsync("list1", """{"ts":"2026-11-21T10:00:00Z","seq":2}""");
        await PostAsync("list1", """{"ts":"2026-11-21T11:00:00Z","seq":3}""");
        await PostAsync("list1", """{"ts":"2026-11-17T11:00:00Z","seq":4}""");
        await FlushAsync();

        using var response = await GetAsync("/v1/sensors/list1/days?from=2026-11-18&to=2026-11-24");

        var days = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token)).RootElement.EnumerateArray().ToArray();
        Assert.Equal(["2026-11-20", "2026-11-21"], days.Select(d => d.GetProperty("day").GetString()));
        Assert.Equal([1L, 2L], days.Select(d => d.GetProperty("events").GetInt64()));
        Assert.All(days, d => Assert.True(d.GetProperty("bytes").GetInt64() > 50));
        await AssertProblemAsync(await GetAsync("/v1/sensors/list1/days?from=2026-11-24&to=2026-11-20"), HttpStatusCode.BadRequest, "must not be before");
        await AssertProblemAsync(await GetAsync("/v1/sensors/list1/days?from=2026-01-01&to=2026-11-20"), HttpStatusCode.BadRequest, "Query:MaxRangeDays");
        await AssertProblemAsync(await GetAsync("/v1/sensors/list1/days"), HttpStatusCode.BadRequest, "yyyy-MM-dd");
    }

    [Fact]
    public async Task Raw_lines_that_are_not_events_are_counted_by_the_flush_and_skipped()
    {
        var hour = Path.Combine(_factory.DataPath, "raw", "2026", "11", "21", "09");
        Directory.CreateDirectory(hour);
        await File.WriteAllTextAsync(Path.Combine(hour, "broken.ndjson"),
            "{\"sensorId\":\"bad1\",\"seq\":1,\"ts\":\"2026-11-21T09:00:00.000Z\",\"receivedAt\":\"2026-11-21T09:00:00.000Z\",\"event\":{\"ts\":\"2026-11-21T09:00:00Z\",\"seq\":1}}\n{\"sensorId\":\"bad1\",\"seq\":2,\"ts\":\"2026-11-21T09:0", Token);

        var report = await FlushAsync();
        using var response = await GetAsync("/v1/sensors/bad1/days/2026-11-21");

        Assert.True(report.GetProperty("badLines").GetInt64() >= 1);
        Assert.Single((await response.Content.ReadAsStringAsync(Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
