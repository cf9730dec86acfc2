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
        var acknowledged = await FleetGuide.PostAndFlushAsync(client);

        Assert.Equal(2 * 4 * 48 - 13, acknowledged);
        await FleetGuide.AssertGuideAnswersAsync(app.DataPath, acknowledged);
    }
}
