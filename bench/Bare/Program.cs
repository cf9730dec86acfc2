using System.Buffers;
using System.Runtime.InteropServices;
using System.IO.Pipelines;
using System.Text.Json;

// The ceiling for the ingest benchmark: the same HTTP stack and the same JSON check as the service
// (one Utf8JsonReader pass, ts must parse), but no batcher, no sink, no wait: 200 at once.
// With --Hold=00:00:00.020 it holds every answer until the next tick of one shared timer instead: the least a node
// that answers only after a window can spend on holding a request (no event kept, nothing written), the floor
// under the service's CPU per acknowledgement (docs/performance.md). With --Write=DIR as well, each tick first writes
// the bodies its requests sent to one new file in DIR as the Local backend does (temporary file, fsync, rename, fsync
// of the folder): the floor of a node whose acknowledgement means "on disk", with no envelope, batcher or sink.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
var hold = builder.Configuration.GetValue<TimeSpan>("Hold");
var app = builder.Build();
var window = new Window(builder.Configuration["Write"]);
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
    if (!ok)
    {
        reader.AdvanceTo(read.Buffer.End);
        return Results.Problem("the event must be a JSON object with an RFC 3339 ts", statusCode: 400);
    }

    if (hold > TimeSpan.Zero)
    {
        var current = window.Keep(read.Buffer);
        reader.AdvanceTo(read.Buffer.End);
        await current;
    }
    else
    {
        reader.AdvanceTo(read.Buffer.End);
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

/// <summary>
/// One task for every request of the open window, completed at each tick (after the window's file is on disk, when
/// writing); its continuations run inline.
/// </summary>
internal sealed partial class Window(string? directory)
{
    private readonly Lock _lock = new();
    private (TaskCompletionSource Done, ArrayBufferWriter<byte> Bodies) _open = (new(), new());

    /// <summary>Keeps a request's body for the window's file (when writing) and answers the window's task.</summary>
    public Task Keep(ReadOnlySequence<byte> body)
    {
        lock (_lock)
        {
            if (directory is not null)
            {
                foreach (var segment in body)
                {
                    _open.Bodies.Write(segment.Span);
                }

                _open.Bodies.Write("\n"u8);
            }

            return _open.Done.Task;
        }
    }

    public async Task TickAsync(TimeSpan every)
    {
        using var timer = new PeriodicTimer(every);
        while (await timer.WaitForNextTickAsync())
        {
            (TaskCompletionSource Done, ArrayBufferWriter<byte> Bodies) closed;
            lock (_lock)
            {
                closed = _open;
                _open = (new(), new());
            }

            if (directory is null || closed.Bodies.WrittenCount == 0)
            {
                closed.Done.TrySetResult();
            }
            else
            {
                // Written off the timer's loop, as the service's sinks write while its next window fills.
                _ = Task.Run(() =>
                {
                    Write(closed.Bodies.WrittenMemory);
                    closed.Done.TrySetResult();
                });
            }
        }
    }

    private void Write(ReadOnlyMemory<byte> bodies)
    {
        var path = Path.Combine(directory!, $"{Guid.NewGuid():N}.ndjson");
        using (var file = File.OpenHandle(path + ".tmp", FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(file, bodies.Span, 0);
            RandomAccess.FlushToDisk(file);
        }

        File.Move(path + ".tmp", path);
        var folder = Open(directory!, 0);
        _ = Fsync(folder);
        _ = Close(folder);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
