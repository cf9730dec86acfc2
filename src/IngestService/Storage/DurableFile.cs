using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace IngestService.Storage;

/// <summary>
/// Crash-safe file replacement: write a temporary file, flush it to the device, rename it over the final
/// name, then flush the directory so the rename itself survives a power cut. .NET has no API for the last
/// step, so it calls <c>fsync</c> on the directory through libc.
/// </summary>
public static partial class DurableFile
{
    /// <summary>Suffix of files still being written; readers skip them.</summary>
    public const string TemporarySuffix = ".tmp";

    /// <summary>Writes <paramref name="parts"/> to <paramref name="path"/>, durably and all at once or not at all.</summary>
    public static async Task WriteAsync(string path, IReadOnlyList<ReadOnlyMemory<byte>> parts, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(path)!;
        CreateDirectory(directory);
        var temporary = $"{path}.{Guid.NewGuid():N}{TemporarySuffix}";
        try
        {
            using (var handle = File.OpenHandle(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous))
            {
                await RandomAccess.WriteAsync(handle, parts, 0, cancellationToken);
                RandomAccess.FlushToDisk(handle);
            }

            File.Move(temporary, path, overwrite: true);
            SyncDirectory(directory);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>
    /// The folders this process knows to be durable, each set only once its entry is flushed in its parent. A
    /// folder that another window is still creating is here before it exists on disk, so a second window waits
    /// for the first one's flush instead of taking the folder's existence for durability.
    /// </summary>
    private static readonly ConcurrentDictionary<string, Lazy<bool>> DurableFolders = new(StringComparer.Ordinal);

    /// <summary>
    /// Creates <paramref name="directory"/> and any missing parents durably: each new folder is an entry in its
    /// parent, so every such parent is flushed (a new day's <c>DD/</c> lives in <c>MM/</c>, its <c>HH/</c> in
    /// <c>DD/</c>). Returns only once every folder on the path is durable, also when another thread is creating
    /// one of them. Answers the folders this call flushed, parents first; none when the directory was durable.
    /// A folder that existed before this process first looked at it is taken to be durable.
    /// </summary>
    public static IReadOnlyList<string> CreateDirectory(string directory) => CreateDirectory(directory, SyncDirectory);

    /// <summary><see cref="CreateDirectory(string)"/> with the directory flush given, so tests can hold it mid-way.</summary>
    internal static IReadOnlyList<string> CreateDirectory(string directory, Action<string> syncDirectory)
    {
        var flushed = new List<string>();
        EnsureDurable(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)), syncDirectory, flushed);
        return flushed;
    }

    private static void EnsureDurable(string directory, Action<string> syncDirectory, List<string> flushed)
    {
        while (true)
        {
            var mine = new Lazy<bool>(() => MakeDurable(directory, syncDirectory, flushed));
            var state = DurableFolders.GetOrAdd(directory, mine);
            try
            {
                // Whoever runs the factory first creates and flushes; everyone else blocks here until it is done.
                _ = state.Value;
            }
            catch
            {
                // A failed flush is not remembered: the next window tries again.
                DurableFolders.TryRemove(new KeyValuePair<string, Lazy<bool>>(directory, state));
                throw;
            }

            if (Directory.Exists(directory))
            {
                return;
            }

            // Deleted since it was made durable (a test's temporary folder): make it again.
            DurableFolders.TryRemove(new KeyValuePair<string, Lazy<bool>>(directory, state));
        }
    }

    private static bool MakeDurable(string directory, Action<string> syncDirectory, List<string> flushed)
    {
        if (Directory.Exists(directory))
        {
            return true;
        }

        var parent = Path.GetDirectoryName(directory);
        if (parent is not null)
        {
            EnsureDurable(parent, syncDirectory, flushed);
        }

        Directory.CreateDirectory(directory);
        if (parent is not null)
        {
            syncDirectory(parent);
            flushed.Add(parent);
        }

        return true;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary file is ignored by readers and harmless.
        }
    }

    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        var fd = Open(directory, 0);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory '{directory}' to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"Cannot flush directory '{directory}' (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
