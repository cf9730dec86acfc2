using System.Globalization;
using System.Text;
using IngestService.Storage;

namespace IngestService.Regroup;

/// <summary>
/// <c>_ingest/regroup/watermark</c>: an instant (RFC 3339) such that every event acknowledged before it is in its
/// sensor-day. Written once per merging pass (and, when nothing is pending, at most once per freshness period),
/// only forward; read by <see cref="StoreFreshness"/>.
/// </summary>
public static class StoreWatermark
{
    public const string Key = StorageOptions.BookkeepingPrefix + "regroup/watermark";

    public static async Task<(DateTimeOffset? At, string? ETag)> ReadAsync(IObjectStore store, CancellationToken cancellationToken)
    {
        await using var current = await store.GetAsync(Key, cancellationToken);
        if (current is null)
        {
            return (null, null);
        }

        using var reader = new StreamReader(current.Content, Encoding.UTF8);
        var text = (await reader.ReadToEndAsync(cancellationToken)).Trim();
        return (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null, current.Info.ETag);
    }

    /// <summary>Moves the watermark forward to <paramref name="at"/> (never back); answers what it holds afterwards.</summary>
    public static async Task<DateTimeOffset> AdvanceAsync(IObjectStore store, DateTimeOffset at, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var (current, etag) = await ReadAsync(store, cancellationToken);
            if (current >= at)
            {
                return current.Value;
            }

            var body = Encoding.UTF8.GetBytes(at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            if (await store.PutAsync(Key, new MemoryStream(body), etag is null ? WriteCondition.CreateOnly : WriteCondition.Replace(etag), null, cancellationToken) is not null)
            {
                return at;
            }
        }

        // Raced three times: another node is writing it forward as well, which serves the same purpose.
        return at;
    }
}
