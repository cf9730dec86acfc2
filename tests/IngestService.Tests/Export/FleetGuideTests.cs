using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Export;

/// <summary>A small fleet's two days, posted to the service on <c>Local</c> and flushed; the guide's DuckDB queries then read the export it wrote.</summary>
public sealed class FleetGuideTests
{
    [Fact]
    public async Task The_guides_DuckDB_fleet_queries_read_every_acknowledged_event_once_typed_and_pruned_by_day()
    {
        using var app = new IngestAppFactory();
        using var client = app.CreateClient();
        var acknowledged = 0L;
        foreach (var (sensorId, body) in FleetGuide.FleetDays())
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/x-ndjson");
            using var posted = await client.PostAsync($"/v1/sensors/{sensorId}/events", content);
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
            acknowledged += (await posted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt64();
        }

        using var flushed = await client.PostAsync("/v1/admin/flush", null);
        Assert.Equal(HttpStatusCode.OK, flushed.StatusCode);

        Assert.Equal(2 * 4 * 48 - 13, acknowledged);
        await FleetGuide.AssertGuideAnswersAsync(app.DataPath, acknowledged);
    }
}
