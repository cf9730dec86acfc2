namespace IngestService.Query;

/// <summary>The analyst viewer: static files from <c>wwwroot</c>, served only on its own paths.</summary>
public static class ViewerApi
{
    /// <summary>
    /// The static-file middleware runs only for the viewer's paths, so ingest and read requests never pay for
    /// a file-system lookup.
    /// </summary>
    public static WebApplication UseAnalystViewer(this WebApplication app)
    {
        app.UseWhen(c => IsViewerPath(c.Request.Path), viewer =>
        {
            viewer.UseDefaultFiles();
            viewer.UseStaticFiles();
        });
        return app;
    }

    internal static bool IsViewerPath(PathString path) =>
        path == "/" || path == "/index.html" || path == "/app.js" || path == "/app.css" || path.StartsWithSegments("/lib");
}
