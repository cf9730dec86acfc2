using Serilog;
using Serilog.Events;

namespace IngestService.Operations;

/// <summary>
/// One log line per request through Serilog's request logging: method, path, status and duration, never the
/// body, the query string or headers, so neither event payloads nor tokens reach the logs. Successes log at
/// Debug: at tens of thousands of events a second, a line per acknowledgement would cost more than the
/// acknowledgement.
/// </summary>
public static class RequestLogSetup
{
    public static IApplicationBuilder UseIngestRequestLogging(this IApplicationBuilder app) =>
        app.UseSerilogRequestLogging(o =>
        {
            // The host's logger, not the static Log.Logger that AddSerilog leaves untouched.
            o.Logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>();
            o.GetLevel = (context, _, exception) =>
                exception is not null || context.Response.StatusCode >= 500 ? LogEventLevel.Warning
                : context.Response.StatusCode >= 400 ? LogEventLevel.Information
                : LogEventLevel.Debug;
        });
}
