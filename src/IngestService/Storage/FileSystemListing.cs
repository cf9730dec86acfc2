namespace IngestService.Storage;

/// <summary>The file-system store's listing: files under a folder in key order, as S3 lists keys.</summary>
internal static class FileSystemListing
{
    /// <summary>
    /// Keys under <paramref name="prefix"/> after <paramref name="startAfter"/>, skipping temporary and lock files;
    /// <paramref name="keyOf"/> gives the key part a file or folder name stands for.
    /// </summary>
    public static IEnumerable<(string Key, FileInfo File)> Walk(string folder, string folderKey, string prefix, string? startAfter, Func<string, string> keyOf)
    {
        if (!Directory.Exists(folder))
        {
            yield break;
        }

        // A folder sorts as its name plus '/', the way its keys do.
        // The entries carry what the directory walk already read (size, modification time), so a listing need not
        // open the files.
        var entries = new List<(string Name, FileSystemInfo Entry)>();
        foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos())
        {
            var name = keyOf(entry.Name);
            entries.Add((entry is DirectoryInfo ? name + "/" : name, entry));
        }

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

                foreach (var inner in Walk(entry.FullName, key, prefix, startAfter, keyOf))
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
