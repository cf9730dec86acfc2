using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;

// The ceiling for the ingest benchmark: the same HTTP stack and the same JSON check as the service
// (one Utf8JsonReader pass, ts must parse), but no batcher, no sink, no wait: 200 at once.
// With --Hold=00:00:00.020 it holds every answer until the next tick of one shared timer instead: the least a node
// that answers only after a window can spend on holding a request (no event kept, nothing written), the floor
// under the service's CPU per acknowledgement (docs/performance.md).
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
var hold = builder.Configuration.GetValue<TimeSpan>("Hold");
var app = builder.Build();
var window = new Window();
if (hold > TimeSpan.Zero)
{
    _ = window.TickAsync(hold);
}

app.MapGet("/healthz", () => "ok");
app.MapPost("/v1/sensors/{sensorId}/events", async (string sensorId, HttpContext context) =>
{
    var reader = context.Request.BodyReader;
    ReadResult read;
    while (true)
    {
        read = await reader.ReadAsync(context.RequestAborted);
        if (read.IsCompleted)
        {
            break;
        }

        reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
    }

    var (ok, seq) = Check(read.Buffer);
    reader.AdvanceTo(read.Buffer.End);
    if (!ok)
    {
        return Results.Problem("the event must be a JSON object with an RFC 3339 ts", statusCode: 400);
    }

    if (hold > TimeSpan.Zero)
    {
        await window.Current;
    }

    context.Response.ContentType = "application/json";
    await context.Response.WriteAsync($$"""{"status":"stored","sensorId":"{{sensorId}}","seq":{{seq}}}""");
    return Results.Empty;
});

app.Run();

static (bool Ok, long Seq) Check(ReadOnlySequence<byte> body)
{
    try
    {
        var json = new Utf8JsonReader(body);
        if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
        {
            return (false, 0);
        }

        var hasTs = false;
        long seq = -1;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            if (json.ValueTextEquals("ts"u8))
            {
                json.Read();
                hasTs = json.TryGetDateTimeOffset(out _);
            }
            else if (json.ValueTextEquals("seq"u8))
            {
                json.Read();
                json.TryGetInt64(out seq);
            }
            else
            {
                json.Read();
                json.Skip();
            }
        }

        while (json.Read())
        {
        }

        return (hasTs, seq);
    }
    catch (JsonException)
    {
        return (false, 0);
    }
}

/// <summary>One task for every request of the open window, completed at each tick; its continuations run inline.</summary>
internal sealed class Window
{
    private TaskCompletionSource _open = new();

    public Task Current => Volatile.Read(ref _open).Task;

    public async Task TickAsync(TimeSpan every)
    {
        using var timer = new PeriodicTimer(every);
        while (await timer.WaitForNextTickAsync())
        {
            Interlocked.Exchange(ref _open, new TaskCompletionSource()).TrySetResult();
        }
    }
}
