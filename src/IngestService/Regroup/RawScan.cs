using IngestService.Storage;

namespace IngestService.Regroup;

/// <summary>
/// What one listing found: the raw batches after the cursor, which of them are done, and when it was taken.
/// The cursor may move only over hours that were settled at <see cref="ListedAt"/>: a batch landing after the
/// listing is not in <see cref="Raw"/>, so an hour that could still receive one must not be passed.
/// </summary>
public sealed class RawScan
{
    private RawScan(DateTimeOffset listedAt, DateTimeOffset fullAt, string? cursor, string? cursorETag, List<ObjectInfo> raw, HashSet<string> done, string? newest)
    {
        Newest = raw.Count > 0 && string.CompareOrdinal(raw[^1].Key, newest) > 0 ? raw[^1].Key : newest;
        ListedAt = listedAt;
        FullAt = fullAt;
        Cursor = cursor;
        CursorETag = cursorETag;
        Raw = raw;
        Done = done;
    }

    /// <summary>The clock before the listing started: every batch that landed before it is in <see cref="Raw"/>.</summary>
    public DateTimeOffset ListedAt { get; }

    /// <summary>When the raw batches were last listed from the cursor rather than from the newest key seen.</summary>
    public DateTimeOffset FullAt { get; }

    /// <summary>Whether <see cref="Raw"/> is every raw key after the cursor at <see cref="ListedAt"/>.</summary>
    public bool Full => FullAt == ListedAt;

    public string? Cursor { get; }

    /// <summary>The newest raw key listed so far (or the cursor): where the next <see cref="ExtendAsync"/> lists from.</summary>
    public string? Newest { get; }

    public string? CursorETag { get; }

    /// <summary>Raw batches after the cursor, in key order.</summary>
    public List<ObjectInfo> Raw { get; }

    /// <summary>Keys of raw batches known to have all their events in their sensor-days.</summary>
    public HashSet<string> Done { get; }

    public IEnumerable<ObjectInfo> Pending => Raw.Where(r => !Done.Contains(r.Key));

    public static async Task<RawScan> TakeAsync(IObjectStore store, string rawPrefix, TimeProvider time, CancellationToken cancellationToken)
    {
        var listedAt = time.GetUtcNow();
        var (cursor, cursorETag) = await RegroupCursor.ReadAsync(store, cancellationToken);
        var raw = new List<ObjectInfo>();
        await foreach (var info in store.ListAsync(rawPrefix, cursor, cancellationToken))
        {
            raw.Add(info);
        }

        return new RawScan(listedAt, listedAt, cursor, cursorETag, raw, new HashSet<string>(StringComparer.Ordinal), cursor);
    }

    /// <summary>
    /// This scan plus the keys after the newest one it holds: one listing page, no cursor read. A batch that lands
    /// behind the newest key (a late Firehose retry) is not seen until the next full scan.
    /// </summary>
    public async Task<RawScan> ExtendAsync(IObjectStore store, string rawPrefix, TimeProvider time, CancellationToken cancellationToken)
    {
        var listedAt = time.GetUtcNow();
        var raw = Raw.Where(r => !Done.Contains(r.Key)).ToList();
        await foreach (var info in store.ListAsync(rawPrefix, Newest, cancellationToken))
        {
            raw.Add(info);
        }

        return new RawScan(listedAt, FullAt, Cursor, CursorETag, raw, new HashSet<string>(StringComparer.Ordinal), Newest);
    }

    /// <summary>Lists the done markers after the cursor into <see cref="Done"/> (skipped when nothing was listed).</summary>
    public async Task LoadDoneAsync(IObjectStore store, string rawPrefix, CancellationToken cancellationToken)
    {
        if (Raw.Count == 0)
        {
            return;
        }

        await foreach (var info in store.ListAsync(RegroupCursor.DonePrefix + rawPrefix, Cursor is null ? null : RegroupCursor.DonePrefix + Cursor, cancellationToken))
        {
            Done.Add(info.Key[RegroupCursor.DonePrefix.Length..]);
        }
    }
}
