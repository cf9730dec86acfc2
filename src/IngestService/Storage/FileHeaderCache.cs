using System.Collections.Concurrent;

namespace IngestService.Storage;

/// <summary>
/// What the file-system store's listing needs from a file's header (its ETag and length), remembered per file while
/// the file's size and modification time stay as they were, so listing the same keys again (the late sweep lists a
/// day of raw batches) stats files instead of opening them.
/// </summary>
/// <remarks>
/// Every write replaces a file by rename, which gives it a new modification time, so a changed file is a miss. A
/// listing's ETag is informational (conditional writes read the header under the lock), so the only cost of the
/// remote chance of a replacement with the same size within the same tick is a stale ETag in one listing.
/// </remarks>
internal sealed class FileHeaderCache
{
    /// <summary>Beyond this many files the cache starts again: enough for a late window of raw batches and the runs.</summary>
    public const int Capacity = 16_384;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private readonly record struct Entry(long Length, long Ticks, string ETag, int HeaderLength);

    /// <summary>Opens and reads files only; the listing counts them.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    private long _misses;

    /// <summary>The listing entry of <paramref name="file"/> under <paramref name="key"/>, or null when the file is gone.</summary>
    public async ValueTask<ObjectInfo?> InfoAsync(string key, FileInfo file, CancellationToken cancellationToken)
    {
        long length;
        DateTime modified;
        try
        {
            (length, modified) = (file.Length, file.LastWriteTimeUtc);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        if (!_entries.TryGetValue(file.FullName, out var entry) || entry.Length != length || entry.Ticks != modified.Ticks)
        {
            Interlocked.Increment(ref _misses);
            try
            {
                await using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
                var header = await FileObjectHeader.ReadAsync(stream, withMetadata: false, cancellationToken);
                // What the open file says, in case it was replaced after the walk read its entry.
                (length, modified) = (stream.Length, File.GetLastWriteTimeUtc(stream.SafeFileHandle));
                entry = new Entry(length, modified.Ticks, header.ETag, header.Length);
            }
            catch (FileNotFoundException)
            {
                return null;
            }

            if (_entries.Count >= Capacity)
            {
                _entries.Clear();
            }

            _entries[file.FullName] = entry;
        }

        return new ObjectInfo(key, entry.ETag, entry.Length - entry.HeaderLength, new DateTimeOffset(modified, TimeSpan.Zero));
    }
}
