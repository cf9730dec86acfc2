namespace IngestService.Storage;

/// <summary>The file-system store's listing: files under a folder in key order, as S3 lists keys.</summary>
internal static class FileSystemListing
{
    /// <summary>
    /// Keys under <paramref name="prefix"/> after <paramref name="startAfter"/>, skipping temporary and lock files;
    /// <paramref name="keyOf"/> gives the key part a file or folder name stands for.
    /// </summary>
    public static IEnumerable<(string Key, string Path)> Walk(string folder, string folderKey, string prefix, string? startAfter, Func<string, string> keyOf)
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
            var name = keyOf(entry.Name);
            entries.Add((isFolder ? name + "/" : name, isFolder, entry.FullName));
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

                if (key == FileStripeLocks.LockFolder || (startAfter is not null && string.CompareOrdinal(key, startAfter) < 0 && !startAfter.StartsWith(key, StringComparison.Ordinal)))
                {
                    continue;
                }

                foreach (var inner in Walk(path, key, prefix, startAfter, keyOf))
                {
                    yield return inner;
                }
            }
            else if (key.StartsWith(prefix, StringComparison.Ordinal)
                && (startAfter is null || string.CompareOrdinal(key, startAfter) > 0)
                && !name.EndsWith(DurableFile.TemporarySuffix, StringComparison.Ordinal)
                && !name.EndsWith(FileStripeLocks.LockSuffix, StringComparison.Ordinal))
            {
                yield return (key, path);
            }
        }
    }
}
