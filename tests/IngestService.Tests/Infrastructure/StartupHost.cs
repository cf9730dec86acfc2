using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace IngestService.Tests.Infrastructure;

/// <summary>
/// Builds and starts the service the way Program does, for tests of start-up itself. WebApplicationFactory's
/// deferred host can report its own disposed service provider instead of the start-up failure when the machine
/// is loaded, so these tests do not use it.
/// </summary>
public static class StartupHost
{
    /// <summary>What start-up threw with these settings on top of a Local test node's.</summary>
    public static async Task<Exception> FailureAsync(IReadOnlyDictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ingest:DataPath"] = Path.Combine(Path.GetTempPath(), "ingest-tests", Guid.NewGuid().ToString("N")),
            ["Regroup:Enabled"] = "false",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddIngestService();
        await using var app = builder.Build();

        var error = await Record.ExceptionAsync(() => app.StartAsync());

        Assert.True(error is not null, "start-up should have failed");
        return error;
    }
}
