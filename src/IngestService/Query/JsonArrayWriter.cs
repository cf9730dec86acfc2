namespace IngestService.Query;

/// <summary>Writes a day as one JSON array of the stored events, each as stored.</summary>
public static class JsonArrayWriter
{
    public const string ContentType = "application/json; charset=utf-8";

    public static async Task WriteAsync(DayLines day, Stream body, CancellationToken cancellationToken)
    {
        // Each write to the response body is a flush; buffering makes a 10,000-line day a few writes. Not
        // disposed: that would dispose the response body.
        var buffered = new BufferedStream(body, 64 * 1024);
        await buffered.WriteAsync("[\n"u8.ToArray(), cancellationToken);
        var first = true;
        foreach (var line in day.Lines)
        {
            if (!first)
            {
                await buffered.WriteAsync(",\n"u8.ToArray(), cancellationToken);
            }

            await buffered.WriteAsync(line, cancellationToken);
            first = false;
        }

        await buffered.WriteAsync("\n]\n"u8.ToArray(), cancellationToken);
        await buffered.FlushAsync(cancellationToken);
    }
}
