using System.Buffers.Text;
using IngestService.Events;

namespace IngestService.Ingest;

/// <summary>
/// The 200 answer, <c>{"status":"stored","sensorId":…,"seq":…,"ts":…}</c> or <c>{"status":"stored","count":N}</c>,
/// written straight into the response: it is sent once per event, and the serializer's machinery cost more
/// than the answer. The sensor id is validated ASCII that JSON never escapes.
/// </summary>
internal static class StoredResult
{
    public static Task WriteEventAsync(HttpContext context, string sensorId, EventHeader header) => WriteAsync(context, sensorId, header, 1);

    public static Task WriteBatchAsync(HttpContext context, int count) => WriteAsync(context, string.Empty, default, count);

    private static Task WriteAsync(HttpContext httpContext, string sensorId, EventHeader header, int count)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        var writer = response.BodyWriter;
        var d = writer.GetSpan(64 + sensorId.Length + Timestamp.MaxFormattedLength);
        var n = Append(d, 0, "{\"status\":\"stored\","u8);
        if (sensorId.Length == 0)
        {
            n = Append(d, n, "\"count\":"u8);
            Utf8Formatter.TryFormat(count, d[n..], out var written);
            n += written;
        }
        else
        {
            n = Envelope.WriteIdentity(d, n, sensorId, header);
            n = Append(d, n, "\""u8);
        }

        n = Append(d, n, "}"u8);
        response.ContentLength = n;
        writer.Advance(n);
        return writer.FlushAsync(httpContext.RequestAborted).AsTask();
    }

    private static int Append(Span<byte> d, int n, ReadOnlySpan<byte> s) => Envelope.Append(d, n, s);
}
