using System.Diagnostics;

namespace IngestService.Operations;

/// <summary>
/// One log line per request: method, route, status and duration. Never the body, the query or headers, so
/// neither event payloads nor tokens reach the logs. Successes log at Debug: at tens of thousands of events
/// a second, a line per acknowledgement would cost more than the acknowledgement.
/// </summary>
internal sealed partial class RequestLogging(RequestDelegate next, ILogger<RequestLogging> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var status = context.Response.StatusCode;
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(no route)";
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (status >= 500)
            {
                LogServerError(context.Request.Method, route, status, elapsed);
            }
            else if (status >= 400)
            {
                LogClientError(context.Request.Method, route, status, elapsed);
            }
            else
            {
                LogSuccess(context.Request.Method, route, status, elapsed);
            }
        }
    }

    [LoggerMessage(2001, LogLevel.Debug, "{Method} {Route} answered {Status} in {ElapsedMs:0.0} ms")]
    private partial void LogSuccess(string method, string route, int status, double elapsedMs);

    [LoggerMessage(2002, LogLevel.Information, "{Method} {Route} answered {Status} in {ElapsedMs:0.0} ms")]
    private partial void LogClientError(string method, string route, int status, double elapsedMs);

    [LoggerMessage(2003, LogLevel.Warning, "{Method} {Route} answered {Status} in {ElapsedMs:0.0} ms")]
    private partial void LogServerError(string method, string route, int status, double elapsedMs);
}
