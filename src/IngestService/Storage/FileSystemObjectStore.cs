using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace IngestService.Storage;

/// <summary>
/// <see cref="IObjectStore"/> over the folder <c>Ingest:DataPath</c>: a key is a relative path. Objects the
/// store writes start with a small header that holds the ETag (the first 16 bytes of the content's SHA-256)
/// and the metadata, so content, ETag and metadata change together in one rename. Files written by others
/// (the local raw sink), and the fleet export under <see cref="StorageOptions.AnalyticsPrefix"/> (Parquet readers
/// find their footer by offsets from the file's start), have no header; their ETag is made from length and
/// modification time, and they hold no metadata. Keys that differ
/// only in case stay apart on a file system that folds case: the store finds out at first use and then escapes
/// cased letters in file names (<see cref="FileKeyNames"/>); on a case-sensitive one the layout is the keys.
/// </summary>
/// <remarks>
/// Conditional writes check the current ETag and rename under a <see cref="FileStripeLocks"/> lock; the header
/// format is <see cref="FileObjectHeader"/>, the key-ordered walk <see cref="FileSystemListing"/>. A listing takes size
/// and modification time from the directory walk and reads a file's header only when the file changed since it last
/// did (<see cref="FileHeaderCache"/>).
/// </remarks>
public sealed class FileSystemObjectStore : IObjectStore
{
    private const int ReadBufferBytes = 64 * 1024;

    private readonly string _root;
    private readonly FileStripeLocks _locks;
    private readonly Func<string, string> _onDisk;
    private readonly Lazy<FileKeyNames> _names;
    private readonly FileHeaderCache _headers = new();

    public FileSystemObjectStore(IOptions<LocalStoreOptions> options)
        : this(options.Value.DataPath)
    {
    }

    public FileSystemObjectStore(string root)
        : this(root, name => name)
    {
    }

    /// <summary>
    /// A store whose file system stores a relative name as <paramref name="onDisk"/> maps it: tests stand in for
    /// one that folds case with it.
    /// </summary>
    internal FileSystemObjectStore(string root, Func<string, string> onDisk)
    {
        _root = Path.GetFullPath(root);
        _locks = new FileStripeLocks(_root);
        _onDisk = onDisk;
        // Found out at first use, not construction, so a store can be made before its folder exists; a probe
        // that fails (a full disk) is tried again at the next use.
        _names = new Lazy<FileKeyNames>(() => FileKeyNames.Detect(_root, _onDisk), LazyThreadSafetyMode.PublicationOnly);
    }

    public string Root => _root;

    /// <summary>Whether file names escape cased letters because the file system folds case.</summary>
    public bool EscapesCase => _names.Value.Escaped;

    /// <summary>Files the listings have opened to read a header: each file once while it is unchanged.</summary>
    internal long FilesOpenedByListings => _headers.Misses;

    public async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        FileStream stream;
        try
        {
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous | FileOptions.SequentialScan);
            // The read buffer is allocated per open, not pooled: no larger than the file, since most objects read
            // (a raw batch, a run's index) are a few kilobytes.
            stream = new FileStream(handle, FileAccess.Read, (int)Math.Clamp(RandomAccess.GetLength(handle), 4096, ReadBufferBytes), isAsync: true);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        try
        {
            var header = await FileObjectHeader.ReadAsync(stream, withMetadata: true, cancellationToken);
            var info = new ObjectInfo(key, header.ETag, stream.Length - header.Length, File.GetLastWriteTimeUtc(stream.SafeFileHandle), header.Metadata);
            stream.Position = header.Length;
            return new StoredObject(info, stream);
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    public async Task<StoredObject?> GetRangeAsync(string key, ObjectRange range, CancellationToken cancellationToken)
    {
        var stored = await GetAsync(key, cancellationToken);
        if (stored is null)
        {
            return null;
        }

        var (start, length) = range.Within(stored.Info.Size);
        stored.Content.Seek(start, SeekOrigin.Current);
        return new StoredObject(stored.Info, new BoundedStream(stored.Content, length));
    }

    public async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        var stored = await GetAsync(key, cancellationToken);
        if (stored is null)
        {
            return null;
        }

        await stored.DisposeAsync();
        return stored.Info;
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Walk from the deepest folder the prefix names, in key order, skipping folders wholly at or before
        // startAfter so a cursor into a deep time-ordered tree does not enumerate everything behind it.
        var slash = prefix.LastIndexOf('/');
        var folderKey = slash < 0 ? "" : prefix[..(slash + 1)];
        if (folderKey.Length > 0)
        {
            ValidateKey(folderKey.TrimEnd('/'));
        }

        var names = _names.Value;
        var folder = folderKey.Length == 0 ? _root : Path.Combine(_root, _onDisk(names.PathOf(folderKey)));
        foreach (var (key, file) in FileSystemListing.Walk(folder, folderKey, prefix, startAfter, names))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await _headers.InfoAsync(key, file, cancellationToken) is { } info)
            {
                yield return info;
            }
        }
    }

    public async Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        var directory = Path.GetDirectoryName(path)!;
        DurableFile.CreateDirectory(directory);

        // The expensive part (copying and hashing) happens before taking the lock; only the check and the
        // rename are serialised.
        var temporary = $"{path}.{Guid.NewGuid():N}{DurableFile.TemporarySuffix}";
        var plain = key.StartsWith(StorageOptions.AnalyticsPrefix, StringComparison.Ordinal);
        string? etag;
        try
        {
            etag = plain ? await FileObjectHeader.WritePlainAsync(temporary, content, cancellationToken) : await FileObjectHeader.WriteAsync(temporary, content, metadata, cancellationToken);
            using (await _locks.LockAsync(key, cancellationToken))
            {
                if (condition.IfNoneMatch || condition.IfMatch is not null)
                {
                    var current = await FileObjectHeader.CurrentETagAsync(path, cancellationToken);
                    if ((condition.IfNoneMatch && current is not null) || (condition.IfMatch is not null && current != condition.IfMatch))
                    {
                        File.Delete(temporary);
                        return null;
                    }
                }

                File.Move(temporary, path, overwrite: true);
                DurableFile.SyncDirectory(directory);
                etag ??= await FileObjectHeader.CurrentETagAsync(path, cancellationToken);
            }
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }

        return etag;
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        using (await _locks.LockAsync(key, cancellationToken))
        {
            try
            {
                File.Delete(path);
                DurableFile.SyncDirectory(Path.GetDirectoryName(path)!);
            }
            catch (DirectoryNotFoundException)
            {
                // Nothing to delete, as S3 answers for a missing key.
            }
        }
    }

    public Task<string?> CheckReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            DurableFile.CreateDirectory(_root);
            return Task.FromResult<string?>(null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Task.FromResult<string?>($"data folder '{_root}' is not writable: {ex.Message}");
        }
    }

    /// <summary>The file that holds <paramref name="key"/>, for writers beside the store (the local raw sink).</summary>
    public string PathOf(string key)
    {
        ValidateKey(key);
        return Path.Combine(_root, _onDisk(_names.Value.PathOf(key)));
    }

    private static void ValidateKey(string key)
    {
        if (key.Length == 0 || key.Length > 1024 || key[0] == '/' || key.Contains('\\') || key.Contains('\0')
            || key.EndsWith(DurableFile.TemporarySuffix, StringComparison.Ordinal) || key.EndsWith(FileStripeLocks.LockSuffix, StringComparison.Ordinal)
            || key.StartsWith(FileStripeLocks.LockFolder, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{key}' cannot be a key of the file-system store.", nameof(key));
        }

        foreach (var segment in key.Split('/'))
        {
            if (segment is "" or "." or "..")
            {
                throw new ArgumentException($"'{key}' cannot be a key of the file-system store: empty, '.' or '..' segment.", nameof(key));
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // A leftover temporary file is skipped by listings and harmless.
        }
    }
}

