using IngestService;
using IngestService.Ingest;
using IngestService.Operations;
using IngestService.Query;
using IngestService.Regroup;

// Settings ship beside the binary; relative paths such as Ingest:DataPath resolve from where it was started.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddIngestService();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapIngest();
app.MapOperations();
app.MapQuery();
app.MapRegroup();

app.Run();

/// <summary>Visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
