using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace IngestService.Tests.Query;

/// <summary>The whole service on the Local backend over a temp folder, with background regrouping off so tests flush.</summary>
public class StoreAppFactory : WebApplicationFactory<Program>
{
    private readonly TempFolder _folder = new();

    public string DataPath => _folder.Path;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Ingest:DataPath", _folder.Path);
        builder.UseSetting("Regroup:Enabled", "false");
        builder.UseSetting("Batching:Window", "00:00:00.010");
        builder.UseSetting("Query:MaxRangeDays", "31");
        // The tests' events sit in November 2026 whatever the clock of the machine that runs them.
        builder.UseSetting("Ingest:MaxFutureSkew", "365.00:00:00");
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _folder.Dispose();
        }
    }
}
