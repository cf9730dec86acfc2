using IngestService;
using IngestService.Auth;
using IngestService.Delivery;
using IngestService.Ingest;
using IngestService.Operations;
using IngestService.Query;
using IngestService.Regroup;

// Settings ship beside the binary; relative paths such as Ingest:DataPath resolve from where it was started.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
switch (args)
{
    case ["token", ..]:
        return TokenCommand.Run(args, builder.Configuration, Console.Out, Console.Error);
    case ["provision", ..]:
        return await Provisioning.RunAsync(builder.Configuration, Console.Out);
}

builder.AddIngestService();

var app = builder.Build();
app.UseIngestRequestLogging();
app.UseExceptionHandler();
app.UseStatusCodePagesUnlessSkipped();
app.UseIngestAuth();

app.UseAnalystViewer();
app.MapOpenApi();
app.MapIngest();
app.MapOperations();
app.MapQuery();
app.MapRegroup();

await app.RunAsync();
return 0;

/// <summary>Visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
