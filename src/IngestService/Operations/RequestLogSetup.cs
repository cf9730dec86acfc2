using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace IngestService.Operations;

public sealed class RequestLogOptions
{
    public const string Section = "RequestLog";

    /// <summary>A request that took at least this long is logged whatever its status. Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SlowRequest { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// One in this many successful requests is logged at Information (all of them when Debug is on); 0 logs none.
    /// Default 1000: at tens of thousands of acknowledgements a second, a line each cost more than the acknowledgement.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int SampleEvery { get; set; } = 1000;
}

/// <summary>
/// One log line per failed or slow request, and a sample of the rest: method, path, request id, status and duration,
/// never the body, the query string or headers, so neither event payloads nor tokens reach the logs.
/// </summary>
/// <remarks>
/// Serilog's request logging did this for every request: it opened a diagnostic context (an async-local, so a new
/// execution context for every request) and asked the level of each one before dropping the successes. This
/// middleware keeps the line's properties (<c>RequestMethod</c>, <c>RequestPath</c>, <c>StatusCode</c>,
/// <c>Elapsed</c>) and decides with the status, a clock reading and, for a success, one random draw.
/// </remarks>
public static partial class RequestLogSetup
{
    public static IServiceCollection AddRequestLog(this IServiceCollection services)
    {
        services.AddOptions<RequestLogOptions>().BindConfiguration(RequestLogOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        return services;
    }

    public static IApplicationBuilder UseIngestRequestLogging(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("IngestService.Operations.RequestLog");
        var options = app.ApplicationServices.GetRequiredService<IOptions<RequestLogOptions>>().Value;
        return app.Use((context, next) => LogAsync(context, next, logger, options));
    }

    private static async Task LogAsync(HttpContext context, RequestDelegate next, ILogger logger, RequestLogOptions options)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        catch (Exception ex)
        {
            LogFailed(logger, ex, context.Request.Method, context.Request.Path.Value, context.TraceIdentifier, StatusCodes.Status500InternalServerError, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            throw;
        }

        var status = context.Response.StatusCode;
        var elapsed = Stopwatch.GetElapsedTime(started);
        if (status >= 500)
        {
            LogFailed(logger, null, context.Request.Method, context.Request.Path.Value, context.TraceIdentifier, status, elapsed.TotalMilliseconds);
        }
        else if (status >= 400)
        {
            LogRejected(logger, context.Request.Method, context.Request.Path.Value, context.TraceIdentifier, status, elapsed.TotalMilliseconds);
        }
        else if (elapsed >= options.SlowRequest)
        {
            LogSlow(logger, context.Request.Method, context.Request.Path.Value, context.TraceIdentifier, status, elapsed.TotalMilliseconds);
        }
        else if (logger.IsEnabled(LogLevel.Debug))
        {
            LogSucceeded(logger, context.Request.Method, context.Request.Path.Value, context.TraceIdentifier, status, elapsed.TotalMilliseconds);
        }
        else if (options.SampleEvery > 0 && Random.Shared.Next(options.SampleEvery) == 0)
        {
            LogSampled(logger, context.Request.Method, context.Request.Path.Value, context.TraceIdentifier, status, elapsed.TotalMilliseconds, options.SampleEvery);
        }
    }

    [LoggerMessage(4101, LogLevel.Warning, "HTTP {RequestMethod} {RequestPath} ({RequestId}) responded {StatusCode} in {Elapsed:0.0000} ms")]
    private static partial void LogFailed(ILogger logger, Exception? exception, string requestMethod, string? requestPath, string requestId, int statusCode, double elapsed);

    [LoggerMessage(4102, LogLevel.Information, "HTTP {RequestMethod} {RequestPath} ({RequestId}) responded {StatusCode} in {Elapsed:0.0000} ms")]
    private static partial void LogRejected(ILogger logger, string requestMethod, string? requestPath, string requestId, int statusCode, double elapsed);

    [LoggerMessage(4103, LogLevel.Information, "HTTP {RequestMethod} {RequestPath} ({RequestId}) responded {StatusCode} in {Elapsed:0.0000} ms, slower than RequestLog:SlowRequest")]
    private static partial void LogSlow(ILogger logger, string requestMethod, string? requestPath, string requestId, int statusCode, double elapsed);

    [LoggerMessage(4104, LogLevel.Debug, "HTTP {RequestMethod} {RequestPath} ({RequestId}) responded {StatusCode} in {Elapsed:0.0000} ms")]
    private static partial void LogSucceeded(ILogger logger, string requestMethod, string? requestPath, string requestId, int statusCode, double elapsed);

    [LoggerMessage(4105, LogLevel.Information, "HTTP {RequestMethod} {RequestPath} ({RequestId}) responded {StatusCode} in {Elapsed:0.0000} ms (one success in {SampleEvery} is logged)")]
    private static partial void LogSampled(ILogger logger, string requestMethod, string? requestPath, string requestId, int statusCode, double elapsed, int sampleEvery);
}
