using IngestService;
using IngestService.Ingest;
using IngestService.Operations;

// Settings ship beside the binary; relative paths such as Ingest:DataPath resolve from where it was started.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddIngestService();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapIngest();
app.MapOperations();

app.Run();

/// <summary>Visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
