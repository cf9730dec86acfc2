using System.IO.Enumeration;

namespace IngestService.Storage;

/// <summary>The file-system store's listing: files under a folder in key order, as S3 lists keys.</summary>
internal static class FileSystemListing
{
    // What DirectoryInfo.EnumerateFileSystemInfos lists: hidden files too, and an unreadable folder is an error.
    private static readonly EnumerationOptions AllEntries = new() { AttributesToSkip = 0, IgnoreInaccessible = false };

    /// <summary>
    /// Keys under <paramref name="prefix"/> after <paramref name="startAfter"/>, skipping temporary and lock files;
    /// <paramref name="names"/> gives the key part a file or folder name stands for.
    /// </summary>
    public static IEnumerable<(string Key, FileInfo File)> Walk(string folder, string folderKey, string prefix, string? startAfter, FileKeyNames names)
    {
        if (!Directory.Exists(folder))
        {
            yield break;
        }

        // A folder sorts as its name plus '/', the way its keys do.
        // The entries carry what the directory walk already read (size, modification time), so a listing need not
        // open the files.
        var listed = new FileSystemEnumerable<(string Name, FileSystemInfo Entry)>(folder, (ref entry) =>
        {
            var info = entry.ToFileSystemInfo();
            var name = names.KeyOf(info.Name);
            return (entry.IsDirectory ? name + "/" : name, info);
        }, AllEntries);
        // A cursor into a time-ordered folder (the raw batches of this hour) has most of the folder behind it: files
        // at or before it are skipped on their name, before anything is allocated for them. A listing every pass of
        // a folder that grows all hour would otherwise make garbage in proportion to the hour's batches. Escaped
        // names do not sort as their keys, so on a file system that folds case every entry is read.
        if (!names.Escaped && startAfter is not null && startAfter.StartsWith(folderKey, StringComparison.Ordinal))
        {
            var cursor = startAfter[folderKey.Length..];
            listed.ShouldIncludePredicate = (ref entry) => entry.IsDirectory || entry.FileName.SequenceCompareTo(cursor) > 0;
        }

        var entries = listed.ToList();
        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        foreach (var (name, entry) in entries)
        {
            var key = folderKey + name;
            if (entry is not FileInfo file)
            {
                // Keys under key/ can match the prefix only if one starts with the other.
                if (!key.StartsWith(prefix, StringComparison.Ordinal) && !prefix.StartsWith(key, StringComparison.Ordinal))
                {
                    continue;
                }

                if (key == FileStripeLocks.LockFolder || (startAfter is not null && string.CompareOrdinal(key, startAfter) < 0 && !startAfter.StartsWith(key, StringComparison.Ordinal)))
                {
                    continue;
                }

                foreach (var inner in Walk(entry.FullName, key, prefix, startAfter, names))
                {
                    yield return inner;
                }
            }
            else if (key.StartsWith(prefix, StringComparison.Ordinal)
                && (startAfter is null || string.CompareOrdinal(key, startAfter) > 0)
                && !name.EndsWith(DurableFile.TemporarySuffix, StringComparison.Ordinal)
                && !name.EndsWith(FileStripeLocks.LockSuffix, StringComparison.Ordinal))
            {
                yield return (key, file);
            }
        }
    }
}
