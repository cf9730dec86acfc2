using System.Globalization;
using IngestService.Storage;

namespace IngestService.Query;

/// <summary>The response headers every read carries: how current the store is, and the zone of the day asked for.</summary>
public static class ReadHeaders
{
    /// <summary>RFC 3339 UTC: every event acknowledged before it is in what this read returns.</summary>
    public const string CurrentAsOf = "Data-Current-As-Of";

    /// <summary>The IANA zone whose calendar day was read (<c>UTC</c> without <c>?tz=</c>); timestamps stay UTC.</summary>
    public const string DayTimeZone = "Day-Time-Zone";

    /// <summary>Asked before the store is read, so the answer is true of everything read after it.</summary>
    public static async Task AddCurrentAsOfAsync(HttpContext context, CancellationToken cancellationToken)
    {
        // The store owns freshness; before its first merge it cannot say, and the header is left out.
        if (await context.RequestServices.GetRequiredService<IStoreFreshness>().CurrentAsOfAsync(cancellationToken) is { } asOf)
        {
            context.Response.Headers[CurrentAsOf] = asOf.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        }
    }
}
