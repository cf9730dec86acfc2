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
    /// Creates <paramref name="directory"/> and any missing parents durably: each new folder is an entry in its
    /// parent, so every such parent is flushed (a new day's <c>DD/</c> lives in <c>MM/</c>, its <c>HH/</c> in
    /// <c>DD/</c>). Answers the folders it flushed, parents first; none when the directory existed.
    /// </summary>
    public static IReadOnlyList<string> CreateDirectory(string directory)
    {
        if (Directory.Exists(directory))
        {
            return [];
        }

        var missing = new Stack<string>();
        for (var d = Path.GetFullPath(directory); d is not null && !Directory.Exists(d); d = Path.GetDirectoryName(d))
        {
            missing.Push(d);
        }

        Directory.CreateDirectory(directory);
        var flushed = new List<string>(missing.Count);
        foreach (var created in missing)
        {
            if (Path.GetDirectoryName(created) is { } parent)
            {
                SyncDirectory(parent);
                flushed.Add(parent);
            }
        }

        return flushed;
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
