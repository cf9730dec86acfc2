using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using IngestService.Ingest;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;

namespace IngestService.Storage;

/// <summary>
/// <see cref="IObjectStore"/> over the folder <c>Ingest:DataPath</c>: a key is a relative path. Objects the
/// store writes start with a small header that holds the ETag (the first 16 bytes of the content's SHA-256)
/// and the metadata, so content, ETag and metadata change together in one rename. Files written by others
/// (the local raw sink) have no header; their ETag is made from length and modification time.
/// </summary>
/// <remarks>
/// Conditional writes check the current ETag and rename under a lock: an exclusive <c>flock</c> on one of a
/// fixed set of lock files under <c>_ingest/locks/</c>, taken both by .NET (<see cref="FileShare.None"/>) and
/// explicitly (a runtime switch can turn the former off). The kernel drops it when a process dies, so a crash
/// never leaves a stale lock (an O_EXCL lock file would, and would need timeouts to break it), and unlike a <c>link()</c>-based create
/// it also serialises replace-if-unchanged. Lock files are never deleted: deleting one while another process
/// waits on it would let two processes each lock a different inode. A semaphore per stripe keeps this
/// process's own threads from spinning on the file lock.
/// </remarks>
public sealed partial class FileSystemObjectStore : IObjectStore
{
    private const int Stripes = 64;
    private const int WouldBlockLinux = 11;
    private const int WouldBlockMac = 35;
    private const string LockFolder = StorageOptions.BookkeepingPrefix + "locks/";
    private const string LockSuffix = ".lock";

    // The header travels in the extra field (subfield "IS") of an empty gzip member placed before the content:
    // gzip readers skip such a member, so a sensor-day file on disk is still a plain .ndjson.gz to zcat.
    // Inside: "\0ios1 " + 32 hex ETag + " " + 8 hex length of the whole prefix + "\n" + metadata JSON + "\n".
    private static readonly byte[] GzipMemberStart = [0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff];
    private static readonly byte[] GzipMemberEnd = [0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
    private const int HeaderOffset = 16;
    private static readonly byte[] Magic = "\0ios1 "u8.ToArray();
    private const int EtagOffset = HeaderOffset + 6;
    private const int EtagLength = 32;
    private const int FirstLineLength = EtagOffset + EtagLength + 1 + 8 + 1;

    private readonly string _root;
    private readonly SemaphoreSlim[] _stripes = [.. Enumerable.Range(0, Stripes).Select(_ => new SemaphoreSlim(1, 1))];

    public FileSystemObjectStore(IOptions<IngestOptions> options)
        : this(options.Value.DataPath)
    {
    }

    public FileSystemObjectStore(string root) => _root = Path.GetFullPath(root);

    public string Root => _root;

    public async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        try
        {
            var header = await ReadHeaderAsync(stream, withMetadata: true, cancellationToken);
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

        var folder = folderKey.Length == 0 ? _root : Path.Combine(_root, folderKey);
        foreach (var (key, path) in Walk(folder, folderKey, prefix, startAfter))
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectInfo info;
            try
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous);
                var header = await ReadHeaderAsync(stream, withMetadata: false, cancellationToken);
                info = new ObjectInfo(key, header.ETag, stream.Length - header.Length, File.GetLastWriteTimeUtc(stream.SafeFileHandle));
            }
            catch (FileNotFoundException)
            {
                continue;
            }

            yield return info;
        }
    }

    private static IEnumerable<(string Key, string Path)> Walk(string folder, string folderKey, string prefix, string? startAfter)
    {
        if (!Directory.Exists(folder))
        {
            yield break;
        }

        // A folder sorts as its name plus '/', the way its keys do.
        var entries = new List<(string Name, bool IsFolder, string Path)>();
        foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos())
        {
            var isFolder = entry is DirectoryInfo;
            entries.Add((isFolder ? entry.Name + "/" : entry.Name, isFolder, entry.FullName));
        }

        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        foreach (var (name, isFolder, path) in entries)
        {
            var key = folderKey + name;
            if (isFolder)
            {
                // Keys under key/ can match the prefix only if one starts with the other.
                if (!key.StartsWith(prefix, StringComparison.Ordinal) && !prefix.StartsWith(key, StringComparison.Ordinal))
                {
                    continue;
                }

                if (key == LockFolder || (startAfter is not null && string.CompareOrdinal(key, startAfter) < 0 && !startAfter.StartsWith(key, StringComparison.Ordinal)))
                {
                    continue;
                }

                foreach (var inner in Walk(path, key, prefix, startAfter))
                {
                    yield return inner;
                }
            }
            else if (key.StartsWith(prefix, StringComparison.Ordinal)
                && (startAfter is null || string.CompareOrdinal(key, startAfter) > 0)
                && !name.EndsWith(DurableFile.TemporarySuffix, StringComparison.Ordinal)
                && !name.EndsWith(LockSuffix, StringComparison.Ordinal))
            {
                yield return (key, path);
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
        string etag;
        try
        {
            etag = await WriteTemporaryAsync(temporary, content, metadata, cancellationToken);
            using (await LockAsync(key, cancellationToken))
            {
                if (condition.IfNoneMatch || condition.IfMatch is not null)
                {
                    var current = await CurrentETagAsync(path, cancellationToken);
                    if ((condition.IfNoneMatch && current is not null) || (condition.IfMatch is not null && current != condition.IfMatch))
                    {
                        File.Delete(temporary);
                        return null;
                    }
                }

                File.Move(temporary, path, overwrite: true);
                DurableFile.SyncDirectory(directory);
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
        using (await LockAsync(key, cancellationToken))
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
            Directory.CreateDirectory(_root);
            return Task.FromResult<string?>(null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Task.FromResult<string?>($"data folder '{_root}' is not writable: {ex.Message}");
        }
    }

    private string PathOf(string key)
    {
        ValidateKey(key);
        return Path.Combine(_root, key);
    }

    private static void ValidateKey(string key)
    {
        if (key.Length == 0 || key.Length > 1024 || key[0] == '/' || key.Contains('\\') || key.Contains('\0')
            || key.EndsWith(DurableFile.TemporarySuffix, StringComparison.Ordinal) || key.EndsWith(LockSuffix, StringComparison.Ordinal)
            || key.StartsWith(LockFolder, StringComparison.Ordinal))
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

    private static async Task<string> WriteTemporaryAsync(string temporary, Stream content, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        var metadataLine = JsonSerializer.SerializeToUtf8Bytes(metadata ?? new Dictionary<string, string>(), StoreJsonContext.Default.IReadOnlyDictionaryStringString);
        var subfieldLength = FirstLineLength - HeaderOffset + metadataLine.Length + 1;
        var headerLength = HeaderOffset + subfieldLength + GzipMemberEnd.Length;
        var header = new byte[headerLength];
        GzipMemberStart.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(10), checked((ushort)(subfieldLength + 4)));
        header[12] = (byte)'I';
        header[13] = (byte)'S';
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(14), (ushort)subfieldLength);
        Magic.CopyTo(header, HeaderOffset);
        header.AsSpan(EtagOffset, EtagLength).Fill((byte)'0');
        header[EtagOffset + EtagLength] = (byte)' ';
        Encoding.ASCII.GetBytes(headerLength.ToString("x8", System.Globalization.CultureInfo.InvariantCulture), header.AsSpan(EtagOffset + EtagLength + 1));
        header[FirstLineLength - 1] = (byte)'\n';
        metadataLine.CopyTo(header, FirstLineLength);
        header[FirstLineLength + metadataLine.Length] = (byte)'\n';
        GzipMemberEnd.CopyTo(header, headerLength - GzipMemberEnd.Length);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var handle = File.OpenHandle(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous);
        await RandomAccess.WriteAsync(handle, header, 0, cancellationToken);
        long offset = headerLength;
        var buffer = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            int read;
            while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await RandomAccess.WriteAsync(handle, buffer.AsMemory(0, read), offset, cancellationToken);
                offset += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var hex = Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, EtagLength / 2));
        await RandomAccess.WriteAsync(handle, Encoding.ASCII.GetBytes(hex), EtagOffset, cancellationToken);
        RandomAccess.FlushToDisk(handle);
        return Quote(hex);
    }

    private static async Task<string?> CurrentETagAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous);
            return (await ReadHeaderAsync(stream, withMetadata: false, cancellationToken)).ETag;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private readonly record struct Header(string ETag, int Length, IReadOnlyDictionary<string, string>? Metadata);

    private static async Task<Header> ReadHeaderAsync(FileStream stream, bool withMetadata, CancellationToken cancellationToken)
    {
        var first = new byte[FirstLineLength];
        var read = await stream.ReadAtLeastAsync(first, first.Length, throwOnEndOfStream: false, cancellationToken);
        if (read < FirstLineLength || !first.AsSpan(0, 4).SequenceEqual(GzipMemberStart.AsSpan(0, 4)) || first[12] != 'I' || first[13] != 'S'
            || !first.AsSpan(HeaderOffset, Magic.Length).SequenceEqual(Magic))
        {
            // Written by someone else: no header, no metadata.
            var modified = File.GetLastWriteTimeUtc(stream.SafeFileHandle).Ticks;
            return new Header(Quote($"{stream.Length:x}-{modified:x}"), 0, withMetadata ? new Dictionary<string, string>() : null);
        }

        var etag = Quote(Encoding.ASCII.GetString(first, EtagOffset, EtagLength));
        var length = int.Parse(first.AsSpan(EtagOffset + EtagLength + 1, 8), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
        IReadOnlyDictionary<string, string>? metadata = null;
        if (withMetadata)
        {
            var line = new byte[length - FirstLineLength - GzipMemberEnd.Length];
            await stream.ReadExactlyAsync(line, cancellationToken);
            metadata = JsonSerializer.Deserialize(line.AsSpan(0, line.Length - 1), StoreJsonContext.Default.DictionaryStringString);
        }

        return new Header(etag, length, metadata);
    }

    private static string Quote(string value) => $"\"{value}\"";

    private async Task<IDisposable> LockAsync(string key, CancellationToken cancellationToken)
    {
        var stripe = (int)((uint)StableHash(key) % Stripes);
        var local = _stripes[stripe];
        await local.WaitAsync(cancellationToken);
        try
        {
            var lockPath = Path.Combine(_root, LockFolder, $"{stripe:x2}{LockSuffix}");
            DurableFile.CreateDirectory(Path.GetDirectoryName(lockPath)!);
            var delay = 1;
            while (true)
            {
                // .NET itself flocks a FileShare.None handle (and refuses to open one another process locked);
                // the explicit flock holds even where that is switched off.
                SafeFileHandle? file = null;
                try
                {
                    file = File.OpenHandle(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                }
                catch (IOException ex) when (ex.HResult is WouldBlockLinux or WouldBlockMac)
                {
                    // Locked by another process: wait below and try again.
                }

                if (file is not null && TryLock(file))
                {
                    return new Release(file, local);
                }

                file?.Dispose();
                // Another process holds this stripe, only for a check and a rename: poll rather than block a thread.
                await Task.Delay(delay, cancellationToken);
                delay = Math.Min(delay * 2, 20);
            }
        }
        catch
        {
            local.Release();
            throw;
        }
    }

    private static bool TryLock(SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            // Elsewhere only this process's semaphores apply: one writer process per data folder.
            return true;
        }

        const int LockExclusive = 2, LockNonBlocking = 4;
        if (Flock((int)file.DangerousGetHandle(), LockExclusive | LockNonBlocking) == 0)
        {
            return true;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno is WouldBlockLinux or WouldBlockMac
            ? false
            : throw new IOException($"Cannot lock a file of the object store (errno {errno}).");
    }

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    private sealed class Release(SafeFileHandle file, SemaphoreSlim local) : IDisposable
    {
        public void Dispose()
        {
            file.Dispose();
            local.Release();
        }
    }

    private static int StableHash(string key)
    {
        // FNV-1a: the same stripe in every process, unlike string.GetHashCode.
        var hash = 2166136261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)hash;
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

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class StoreJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
