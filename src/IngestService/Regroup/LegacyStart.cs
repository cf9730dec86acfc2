using System.Text;
using IngestService.Storage;

namespace IngestService.Regroup;

/// <summary>
/// The first pass over a store that the issue-12 design wrote (a cursor and done markers, no manifest): what they
/// vouch for is already in sealed sensor-days, so the new manifest starts from them instead of reading every raw
/// batch again. Read once, by a pass that finds no manifest; nothing writes them any more.
/// </summary>
public static class LegacyStart
{
    private const string CursorKey = StorageOptions.BookkeepingPrefix + "regroup/cursor";
    private const string DonePrefix = StorageOptions.BookkeepingPrefix + "done/";

    /// <summary>The old cursor as the floor and the done markers after it as consumed; null when there is no cursor.</summary>
    public static async Task<(string Floor, List<string> Consumed)?> ReadAsync(IObjectStore store, string rawPrefix, CancellationToken cancellationToken)
    {
        string cursor;
        await using (var stored = await store.GetAsync(CursorKey, cancellationToken))
        {
            if (stored is null)
            {
                return null;
            }

            using var reader = new StreamReader(stored.Content, Encoding.UTF8);
            cursor = (await reader.ReadToEndAsync(cancellationToken)).Trim();
        }

        if (!cursor.StartsWith(rawPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var consumed = new List<string>();
        await foreach (var marker in store.ListAsync(DonePrefix + rawPrefix, DonePrefix + cursor, cancellationToken))
        {
            consumed.Add(marker.Key[DonePrefix.Length..]);
        }

        return (cursor, consumed);
    }
}
