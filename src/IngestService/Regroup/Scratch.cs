using System.Diagnostics;

namespace IngestService.Regroup;

/// <summary>
/// This process's scratch folder for sorting and for runs and sealed days on their way to the store. Folders of
/// processes that no longer run (a killed node) are deleted when the first regrouper of a process starts.
/// </summary>
public static class Scratch
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "ingest-regroup");
    private static readonly Lazy<string> Own = new(Create);

    public static string Folder => Own.Value;

    private static string Create()
    {
        CollectLeftovers();
        var folder = Path.Combine(Root, $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>Deletes the folders of processes that are gone; answers how many.</summary>
    public static int CollectLeftovers()
    {
        if (!Directory.Exists(Root))
        {
            return 0;
        }

        var removed = 0;
        foreach (var folder in Directory.EnumerateDirectories(Root))
        {
            var name = Path.GetFileName(folder);
            var dash = name.IndexOf('-');
            if (dash > 0 && int.TryParse(name.AsSpan(0, dash), out var pid) && (pid == Environment.ProcessId || IsRunning(pid)))
            {
                continue;
            }

            try
            {
                Directory.Delete(folder, recursive: true);
                removed++;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another process is removing it too, or it is not ours to remove.
            }
        }

        return removed;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
