using IngestService;
using IngestService.Delivery;
using IngestService.Ingest;
using IngestService.Operations;

// Settings ship beside the binary; relative paths such as Ingest:DataPath resolve from where it was started.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
if (args is ["provision", ..])
{
    return await Provisioning.RunAsync(builder.Configuration, Console.Out);
}

builder.AddIngestService();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapIngest();
app.MapOperations();

app.Run();
return 0;

/// <summary>Visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
