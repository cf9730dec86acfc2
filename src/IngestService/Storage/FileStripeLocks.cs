using System.Runtime.InteropServices;
using IngestService.Resilience;
using Microsoft.Win32.SafeHandles;

namespace IngestService.Storage;

/// <summary>
/// The file-system store's write locks: an exclusive <c>flock</c> on one of a fixed set of lock files under
/// <c>_ingest/locks/</c>, taken both by .NET (<see cref="FileShare.None"/>) and explicitly (a runtime switch can
/// turn the former off). The kernel drops it when a process dies, so a crash never leaves a stale lock (an
/// O_EXCL lock file would, and would need timeouts to break it), and unlike a <c>link()</c>-based create it also
/// serialises replace-if-unchanged. Lock files are never deleted: deleting one while another process waits on it
/// would let two processes each lock a different inode. A semaphore per stripe keeps this process's own threads
/// from spinning on the file lock.
/// </summary>
internal sealed partial class FileStripeLocks(string root)
{
    public const string LockFolder = StorageOptions.BookkeepingPrefix + "locks/";
    public const string LockSuffix = ".lock";

    private const int Stripes = 64;
    private const int WouldBlockLinux = 11;
    private const int WouldBlockMac = 35;

    // Another process holds a stripe only for a check and a rename: poll from 1 ms up to 20 ms rather than block a thread.
    private static readonly RetryLoop<SafeFileHandle?> UntilLocked =
        Retry.While<SafeFileHandle?>(file => file is null, new RetryDelays(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(20), Jitter: false), TimeProvider.System);

    private readonly SemaphoreSlim[] _stripes = [.. Enumerable.Range(0, Stripes).Select(_ => new SemaphoreSlim(1, 1))];

    public async Task<IDisposable> LockAsync(string key, CancellationToken cancellationToken)
    {
        var stripe = (int)((uint)StableHash(key) % Stripes);
        var local = _stripes[stripe];
        await local.WaitAsync(cancellationToken);
        try
        {
            var lockPath = Path.Combine(root, LockFolder, $"{stripe:x2}{LockSuffix}");
            DurableFile.CreateDirectory(Path.GetDirectoryName(lockPath)!);
            var file = await UntilLocked.ExecuteAsync(static (path, _) => ValueTask.FromResult(TryOpenLocked(path)), lockPath, cancellationToken);
            return new Release(file!, local);
        }
        catch
        {
            local.Release();
            throw;
        }
    }

    /// <summary>The lock file's handle with the lock held, or null while another process holds it.</summary>
    private static SafeFileHandle? TryOpenLocked(string lockPath)
    {
        // .NET itself flocks a FileShare.None handle (and refuses to open one another process locked);
        // the explicit flock holds even where that is switched off.
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (ex.HResult is WouldBlockLinux or WouldBlockMac)
        {
            return null;
        }

        if (TryLock(file))
        {
            return file;
        }

        file.Dispose();
        return null;
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
}
