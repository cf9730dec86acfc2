using System.Globalization;
using System.Text;
using IngestService.Storage;

namespace IngestService.Regroup;

/// <summary>
/// The cursor <c>_ingest/regroup/cursor</c> holds a raw key such that every raw key up to it is done, so a
/// listing starts after it; <c>_ingest/done/{rawKey}</c> marks a done batch the cursor has not passed yet.
/// </summary>
public static class RegroupCursor
{
    public const string DonePrefix = StorageOptions.BookkeepingPrefix + "done/";
    public const string Key = StorageOptions.BookkeepingPrefix + "regroup/cursor";

    public static async Task<(string? Cursor, string? ETag)> ReadAsync(IObjectStore store, CancellationToken cancellationToken)
    {
        await using var current = await store.GetAsync(Key, cancellationToken);
        if (current is null)
        {
            return (null, null);
        }

        using var reader = new StreamReader(current.Content, Encoding.UTF8);
        var text = (await reader.ReadToEndAsync(cancellationToken)).Trim();
        return (text.Length == 0 ? null : text, current.Info.ETag);
    }

    /// <summary>
    /// Moves the cursor over the leading run of done raw batches whose hour folder could no longer receive
    /// objects when the scan was listed (<paramref name="cursorLag"/> after the hour ended), then drops their
    /// markers: the cursor now vouches for them. Settled is judged at the listing time, not now: a batch landing
    /// in an hour after the listing is not in the scan, and the cursor must not jump over it.
    /// </summary>
    public static async Task AdvanceAsync(IObjectStore store, RawScan scan, string rawPrefix, TimeSpan cursorLag, CancellationToken cancellationToken)
    {
        var settled = scan.ListedAt.UtcDateTime - cursorLag;
        string? next = null;
        foreach (var info in scan.Raw)
        {
            if (!scan.Done.Contains(info.Key) || HourOf(rawPrefix, info.Key) is not { } hour || hour.AddHours(1) > settled)
            {
                break;
            }

            next = info.Key;
        }

        if (next is null)
        {
            return;
        }

        var (cursor, cursorETag) = (scan.Cursor, scan.CursorETag);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var written = await store.PutAsync(Key, new MemoryStream(Encoding.UTF8.GetBytes(next)),
                cursorETag is null ? WriteCondition.CreateOnly : WriteCondition.Replace(cursorETag), null, cancellationToken);
            if (written is not null)
            {
                break;
            }

            // Another node moved it: keep whichever is further along.
            (cursor, cursorETag) = await ReadAsync(store, cancellationToken);
            if (cursor is not null && string.CompareOrdinal(cursor, next) >= 0)
            {
                break;
            }
        }

        foreach (var info in scan.Raw)
        {
            if (string.CompareOrdinal(info.Key, next) > 0)
            {
                break;
            }

            await store.DeleteAsync(DonePrefix + info.Key, cancellationToken);
        }
    }

    /// <summary>The hour of a Firehose-style key <c>{RawPrefix}YYYY/MM/DD/HH/…</c>, or null for any other name.</summary>
    private static DateTime? HourOf(string rawPrefix, string key)
    {
        var rest = key.AsSpan(rawPrefix.Length);
        return rest.Length > 14 && DateTime.TryParseExact(rest[..13], "yyyy/MM/dd/HH", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var hour) && rest[13] == '/'
            ? hour
            : null;
    }
}
