using System.Net;
using System.Text.Json;
using System.Text;
using IngestService.Storage;
using IngestService.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Parquet;

namespace IngestService.Tests.Query;

/// <summary>The service with a store that says how current it is, as the sensor-day store will.</summary>
public sealed class FreshStoreApp() : IngestAppFactory(QueryApp.Settings, services: s => s.AddSingleton<IStoreFreshness>(new FixedFreshness(AsOf)))
{
    public static readonly DateTimeOffset AsOf = new(2026, 11, 29, 3, 0, 0, TimeSpan.Zero);

    private sealed class FixedFreshness(DateTimeOffset asOf) : IStoreFreshness
    {
        public ValueTask<DateTimeOffset?> CurrentAsOfAsync(CancellationToken cancellationToken) => ValueTask.FromResult<DateTimeOffset?>(asOf);
    }
}

public sealed class AnalystReadTests(FreshStoreApp factory) : IClassFixture<FreshStoreApp>
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));
    private readonly HttpClient _client = factory.CreateClient();

    private CancellationToken Token => _timeout.Token;

    private async Task PostBacklogAsync(string sensorId, IEnumerable<string> lines)
    {
        using var content = new StringContent(string.Join("\n", lines) + "\n", Encoding.UTF8);
        content.Headers.ContentType = new("application/x-ndjson");
        using var response = await _client.PostAsync($"/v1/sensors/{sensorId}/events", content, Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var flush = await _client.PostAsync("/v1/admin/flush", null, Token);
        Assert.Equal(HttpStatusCode.OK, flush.StatusCode);
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        return await _client.SendAsync(request, Token);
    }

    /// <summary>48 half-hourly events of a mast in Paris for its local 2026-11-21, sent with +01:00 offsets.</summary>
    internal static IEnumerable<string> ParisDay(int seqBase = 0) =>
        Enumerable.Range(0, 48).Select(i =>
            $$"""{"ts":"{{new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.FromHours(1)).AddMinutes(30 * i):yyyy-MM-dd'T'HH:mm:sszzz}}","seq":{{seqBase + i}},"windSpeed":{{(i % 2 == 0 ? "3" : "4.5")}},"ok":true,"site":"=cmd"}""");

    [Fact]
    public async Task A_site_day_in_Paris_holds_all_48_local_events_while_the_UTC_day_holds_46()
    {
        await PostBacklogAsync("paris1", ParisDay());

        using var local = await GetAsync("/v1/sensors/paris1/days/2026-11-21?tz=Europe/Paris");
        using var utc = await GetAsync("/v1/sensors/paris1/days/2026-11-21");

        Assert.Equal(HttpStatusCode.OK, local.StatusCode);
        Assert.Equal("Europe/Paris", local.Headers.GetValues("Day-Time-Zone").Single());
        Assert.Equal(48, (await local.Content.ReadAsStringAsync(Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(46, (await utc.Content.ReadAsStringAsync(Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task The_local_day_list_counts_the_events_of_each_local_day()
    {
        await PostBacklogAsync("paris2", ParisDay());

        using var response = await GetAsync("/v1/sensors/paris2/days?from=2026-11-20&to=2026-11-22&tz=Europe/Paris");

        var days = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token)).RootElement;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["2026-11-21"], days.EnumerateArray().Select(d => d.GetProperty("day").GetString()));
        Assert.Equal(48, days[0].GetProperty("events").GetInt64());
        Assert.True(days[0].GetProperty("storedBytes").GetInt64() > 0);
    }

    [Theory]
    [InlineData("/v1/sensors/paris1/days/2026-11-21?tz=Mars/Olympus")]
    [InlineData("/v1/sensors/paris1/days?from=2026-11-20&to=2026-11-22&tz=Europe/Nowhere")]
    public async Task An_unknown_zone_is_a_400_problem_that_names_an_example(string path)
    {
        using var response = await GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Europe/Paris", await response.Content.ReadAsStringAsync(Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_range_that_ends_on_the_last_representable_day_is_answered_not_a_500()
    {
        using var response = await GetAsync("/v1/sensors/paris1/events?from=9999-12-31T00:00:00Z&to=9999-12-31T23:59:59Z");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync(Token));
    }

    [Fact]
    public async Task Csv_neutralises_strings_and_names_that_a_spreadsheet_would_run_but_keeps_negative_numbers()
    {
        await PostBacklogAsync("csv1", ["""{"ts":"2026-11-21T10:00:00Z","seq":1,"f":"=1+2","g":-3.5,"h":"@x","i":"\tq","j":"ok","=k":"'=y"}"""]);

        using var response = await GetAsync("/v1/sensors/csv1/days/2026-11-21", "text/csv");

        var rows = (await response.Content.ReadAsStringAsync(Token)).Split("\r\n");
        Assert.Equal("sensorId,seq,ts,receivedAt,event.ts,event.seq,f,g,h,i,j,'=k", rows[0]);
        Assert.EndsWith(",'=1+2,-3.5,'@x,'\tq,ok,''=y", rows[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parquet_has_typed_columns_and_one_row_group_per_day_for_days_and_ranges()
    {
        await PostBacklogAsync("pq1", ParisDay().Append("""{"ts":"2026-11-22T10:00:00Z","seq":100,"windSpeed":"gusty","nested":{"a":[1,2]}}"""));

        using var day = await GetAsync("/v1/sensors/pq1/days/2026-11-21?tz=Europe/Paris", "application/vnd.apache.parquet");
        using var range = await GetAsync("/v1/sensors/pq1/events?from=2026-11-20T00:00:00Z&to=2026-11-23T00:00:00Z", "application/vnd.apache.parquet");

        Assert.Equal("application/vnd.apache.parquet", day.Content.Headers.ContentType?.MediaType);
        await using (var reader = await ParquetReader.CreateAsync(new MemoryStream(await day.Content.ReadAsByteArrayAsync(Token))))
        {
            var fields = reader.Schema.GetDataFields();
            Assert.Equal(["sensorId", "seq", "ts", "receivedAt", "event.ts", "event.seq", "windSpeed", "ok", "site"], fields.Select(f => f.Name));
            Assert.Equal([typeof(ReadOnlyMemory<char>), typeof(long), typeof(DateTime), typeof(DateTime), typeof(ReadOnlyMemory<char>), typeof(long), typeof(double), typeof(bool), typeof(ReadOnlyMemory<char>)], fields.Select(f => f.ClrType));
            Assert.Equal(1, reader.RowGroupCount);
            Assert.Equal(48, reader.OpenRowGroupReader(0).RowCount);
        }

        await using (var reader = await ParquetReader.CreateAsync(new MemoryStream(await range.Content.ReadAsByteArrayAsync(Token))))
        {
            var fields = reader.Schema.GetDataFields();
            Assert.Equal(typeof(ReadOnlyMemory<char>), fields.Single(f => f.Name == "windSpeed").ClrType);
            Assert.Equal(typeof(ReadOnlyMemory<char>), fields.Single(f => f.Name == "nested").ClrType);
            Assert.Equal(3, reader.RowGroupCount);
            Assert.Equal(49, Enumerable.Range(0, reader.RowGroupCount).Sum(i => reader.OpenRowGroupReader(i).RowCount));
        }
    }

    [Fact]
    public async Task Csv_keeps_every_value_of_fields_whose_names_collide_with_the_envelope_or_its_prefix()
    {
        await PostBacklogAsync("csv3", ["""{"ts":"2026-11-21T10:00:00Z","seq":1,"event.ts":"literal","event.seq":7,"event.event.ts":"deeper","receivedAt":"mine"}"""]);

        using var day = await GetAsync("/v1/sensors/csv3/days/2026-11-21", "text/csv");
        using var range = await GetAsync("/v1/sensors/csv3/events?from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z", "text/csv");

        foreach (var response in new[] { day, range })
        {
            var rows = (await response.Content.ReadAsStringAsync(Token)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("sensorId,seq,ts,receivedAt,event.ts,event.seq,event.event.ts,event.event.seq,event.event.event.ts,event.receivedAt", rows[0]);
            Assert.EndsWith(",2026-11-21T10:00:00Z,1,literal,7,deeper,mine", rows[1], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Parquet_keeps_every_value_of_fields_whose_names_collide_with_the_envelope_or_its_prefix()
    {
        await PostBacklogAsync("pq3", ["""{"ts":"2026-11-21T10:00:00Z","seq":1,"event.ts":"literal","event.seq":7,"event.event.ts":"deeper"}"""]);

        using var response = await GetAsync("/v1/sensors/pq3/days/2026-11-21", "application/vnd.apache.parquet");

        var file = await response.Content.ReadAsByteArrayAsync(Token);
        await using (var reader = await ParquetReader.CreateAsync(new MemoryStream(file)))
        {
            Assert.Equal(
                ["sensorId", "seq", "ts", "receivedAt", "event.ts", "event.seq", "event.event.ts", "event.event.seq", "event.event.event.ts"],
                reader.Schema.GetDataFields().Select(f => f.Name));
        }

        var row = Assert.Single(await ParquetRoundTripTests.ReadRowsAsync(file));
        Assert.Equal("2026-11-21T10:00:00Z", row["event.ts"]);
        Assert.Equal(1L, row["event.seq"]);
        Assert.Equal("literal", row["event.event.ts"]);
        Assert.Equal(7L, row["event.event.seq"]);
        Assert.Equal("deeper", row["event.event.event.ts"]);
    }

    [Fact]
    public async Task A_range_as_csv_has_one_header_with_the_columns_of_every_day()
    {
        await PostBacklogAsync("csv2", ["""{"ts":"2026-11-21T10:00:00Z","seq":1,"a":1}""", """{"ts":"2026-11-22T10:00:00Z","seq":2,"b":"x"}"""]);

        using var response = await GetAsync("/v1/sensors/csv2/events?from=2026-11-21T00:00:00Z&to=2026-11-23T00:00:00Z", "text/csv");

        var rows = (await response.Content.ReadAsStringAsync(Token)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(3, rows.Length);
        Assert.Equal("sensorId,seq,ts,receivedAt,event.ts,event.seq,a,b", rows[0]);
        Assert.EndsWith(",2026-11-22T10:00:00Z,2,,x", rows[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_number_beyond_the_range_of_a_double_makes_its_Parquet_column_text()
    {
        await PostBacklogAsync("pq2", ["""{"ts":"2026-11-21T10:00:00Z","seq":1,"big":1e400,"small":2.5}""", """{"ts":"2026-11-21T11:00:00Z","seq":2,"big":1,"small":3}"""]);

        using var response = await GetAsync("/v1/sensors/pq2/days/2026-11-21", "application/vnd.apache.parquet");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var reader = await ParquetReader.CreateAsync(new MemoryStream(await response.Content.ReadAsByteArrayAsync(Token)));
        var fields = reader.Schema.GetDataFields();
        Assert.Equal(typeof(ReadOnlyMemory<char>), fields.Single(f => f.Name == "big").ClrType);
        Assert.Equal(typeof(double), fields.Single(f => f.Name == "small").ClrType);
    }

    [Fact]
    public async Task The_sensor_list_pages_through_sensors_with_data_in_id_order()
    {
        foreach (var id in new[] { "list-a", "list-b", "list-c" })
        {
            await PostBacklogAsync(id, ["""{"ts":"2026-11-21T10:00:00Z","seq":1}""", """{"ts":"2026-11-22T10:00:00Z","seq":2}"""]);
        }

        using var first = await GetAsync("/v1/sensors?prefix=list-&limit=2");
        var page = JsonDocument.Parse(await first.Content.ReadAsStringAsync(Token)).RootElement;
        using var second = await GetAsync($"/v1/sensors?prefix=list-&limit=2&after={page.GetProperty("next").GetString()}");
        var rest = JsonDocument.Parse(await second.Content.ReadAsStringAsync(Token)).RootElement;

        Assert.Equal(["list-a", "list-b"], page.GetProperty("sensors").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(["list-c"], rest.GetProperty("sensors").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(JsonValueKind.Null, rest.GetProperty("next").ValueKind);
    }

    [Theory]
    [InlineData("/v1/sensors/paris1/days/2026-11-21")]
    [InlineData("/v1/sensors/paris1/days/2026-11-21?tz=Europe/Paris")]
    [InlineData("/v1/sensors/paris1/events?from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z")]
    [InlineData("/v1/sensors/paris1/days?from=2026-11-20&to=2026-11-22")]
    [InlineData("/v1/sensors")]
    public async Task Every_read_says_how_current_the_store_is(string path)
    {
        await PostBacklogAsync("paris1", ParisDay());

        using var response = await GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("2026-11-29T03:00:00.000Z", response.Headers.GetValues("Data-Current-As-Of").Single());
    }
}
