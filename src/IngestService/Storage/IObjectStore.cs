using System.Runtime.CompilerServices;

namespace IngestService.Storage;

/// <summary>An object's listing entry. <see cref="Metadata"/> is filled by head and get, not by list.</summary>
public sealed record ObjectInfo(string Key, string ETag, long Size, DateTimeOffset LastModified, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>An open object: read <see cref="Content"/> once, then dispose.</summary>
public sealed class StoredObject(ObjectInfo info, Stream content) : IAsyncDisposable
{
    public ObjectInfo Info { get; } = info;

    public Stream Content { get; } = content;

    public ValueTask DisposeAsync() => Content.DisposeAsync();
}

/// <summary>
/// Part of an object, as an HTTP <c>Range</c> says it: <see cref="Length"/> bytes from <see cref="Offset"/>, or,
/// with a negative offset, the last <c>-Offset</c> bytes (a suffix range: a footer in one request).
/// </summary>
public readonly record struct ObjectRange(long Offset, long Length)
{
    /// <summary>The last <paramref name="bytes"/> bytes, or the whole object when it is shorter.</summary>
    public static ObjectRange Suffix(long bytes) => new(-bytes, bytes);

    public bool IsSuffix => Offset < 0;

    /// <summary>Where the range starts and how long it is in an object of <paramref name="size"/> bytes.</summary>
    public (long Start, long Length) Within(long size)
    {
        var start = IsSuffix ? Math.Max(0, size + Offset) : Math.Min(Offset, size);
        return (start, Math.Min(IsSuffix ? size - start : Length, size - start));
    }
}

/// <summary>The precondition of a write, with S3's meaning.</summary>
public readonly record struct WriteCondition(string? IfMatch, bool IfNoneMatch)
{
    /// <summary>Write whatever is there.</summary>
    public static WriteCondition None => default;

    /// <summary><c>If-None-Match: *</c>: create only; fails when the key exists.</summary>
    public static WriteCondition CreateOnly => new(null, true);

    /// <summary><c>If-Match: etag</c>: replace only the version that was read.</summary>
    public static WriteCondition Replace(string etag) => new(etag, false);
}

/// <summary>
/// The one seam between the regroup and read code and where objects live: S3 in <c>Aws</c>, the file
/// system in <c>Local</c>. Both give the same semantics, including conditional writes, so the code above it
/// is written once.
/// </summary>
public interface IObjectStore
{
    /// <summary>The object with its ETag and metadata, or null when there is none.</summary>
    Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Part of the object (one ranged GET, billed as one GET), or null when there is none. The answer's
    /// <see cref="ObjectInfo.Size"/> is the whole object's size. This fallback reads the object and skips to the range.
    /// </summary>
    async Task<StoredObject?> GetRangeAsync(string key, ObjectRange range, CancellationToken cancellationToken)
    {
        var whole = await GetAsync(key, cancellationToken);
        if (whole is null)
        {
            return null;
        }

        var (start, length) = range.Within(whole.Info.Size);
        var skip = new byte[Math.Min(start, 81920)];
        for (var left = start; left > 0;)
        {
            var read = await whole.Content.ReadAsync(skip.AsMemory(0, (int)Math.Min(left, skip.Length)), cancellationToken);
            if (read == 0)
            {
                break;
            }

            left -= read;
        }

        return new StoredObject(whole.Info, new BoundedStream(whole.Content, length));
    }

    /// <summary>The object's ETag, size and metadata without its content, or null when there is none.</summary>
    Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken);

    /// <summary>Keys under <paramref name="prefix"/> in ascending order, starting after <paramref name="startAfter"/>.</summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, CancellationToken cancellationToken);

    /// <summary>
    /// The folders one level under <paramref name="prefix"/> (each key's start up to and including its next
    /// <c>/</c>), ascending, after the folder <paramref name="startAfter"/>: S3's delimiter listing. This
    /// fallback lists one key per folder and skips past the rest of it, a request per folder.
    /// </summary>
    async IAsyncEnumerable<string> ListFoldersAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var after = startAfter is null ? null : startAfter + char.MaxValue;
        while (true)
        {
            string? folder = null;
            await foreach (var info in ListAsync(prefix, after, cancellationToken))
            {
                var slash = info.Key.IndexOf('/', prefix.Length);
                if (slash >= 0)
                {
                    folder = info.Key[..(slash + 1)];
                    break;
                }
            }

            if (folder is null)
            {
                yield break;
            }

            yield return folder;
            after = folder + char.MaxValue;
        }
    }

    /// <summary>
    /// Writes <paramref name="content"/> under <paramref name="key"/> when <paramref name="condition"/> holds.
    /// Answers the new ETag, or null when the condition failed (S3's 412 and 409): the caller reads again and retries.
    /// </summary>
    Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken);

    Task DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>Null when the store is reachable, else why not (for <c>/readyz</c>).</summary>
    Task<string?> CheckReadyAsync(CancellationToken cancellationToken);
}
