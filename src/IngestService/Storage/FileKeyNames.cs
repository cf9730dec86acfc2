using System.Globalization;
using System.Text;

namespace IngestService.Storage;

/// <summary>
/// How the file-system store names keys on disk. On a case-sensitive file system (Linux) a key is its relative
/// path, the contract's layout. On one that folds case (macOS and Windows by default) <c>sensors/S1/…</c> and
/// <c>sensors/s1/…</c> would be one file, so there every cased letter is escaped, as Go's module cache does:
/// <c>A</c>–<c>Z</c> become <c>!a</c>–<c>!z</c>, <c>!</c> becomes <c>!!</c>, and a cased letter beyond ASCII
/// becomes <c>!~</c> and its four hex digits. Escaped names hold no upper-case letter, so the file system keeps
/// every key apart; lower-case keys (days, raw batches, bookkeeping) are written as they are either way.
/// </summary>
internal sealed class FileKeyNames
{
    private const char Escape = '!';
    private const char Wide = '~';

    private FileKeyNames(bool escaped) => Escaped = escaped;

    /// <summary>Keys as they are: the file system tells names that differ only in case apart.</summary>
    public static FileKeyNames Plain { get; } = new(escaped: false);

    /// <summary>Cased letters escaped: the file system folds case.</summary>
    public static FileKeyNames CaseEscaped { get; } = new(escaped: true);

    public bool Escaped { get; }

    /// <summary>
    /// Probes <paramref name="root"/>: writes a lower-case file under <c>_ingest/</c> and looks for it by its
    /// upper-case name. <paramref name="onDisk"/> maps a relative name to the one the file system stores (tests
    /// stand in for a file system that folds case with it).
    /// </summary>
    public static FileKeyNames Detect(string root, Func<string, string> onDisk)
    {
        var probe = $"{StorageOptions.BookkeepingPrefix}case-probe-{Guid.NewGuid():N}";
        var lower = Path.Combine(root, onDisk(probe));
        DurableFile.CreateDirectory(Path.GetDirectoryName(lower)!);
        File.WriteAllBytes(lower, []);
        try
        {
            return File.Exists(Path.Combine(root, onDisk(probe.ToUpperInvariant()))) ? CaseEscaped : Plain;
        }
        finally
        {
            File.Delete(lower);
        }
    }

    /// <summary>The relative path of <paramref name="key"/> (or of a folder key).</summary>
    public string PathOf(string key) => Escaped ? Encode(key) : key;

    /// <summary>The key part a file or folder name stands for.</summary>
    public string KeyOf(string name) => Escaped ? Decode(name) : name;

    private static string Encode(string key)
    {
        if (!NeedsEscape(key))
        {
            return key;
        }

        var name = new StringBuilder(key.Length + 8);
        foreach (var c in key)
        {
            if (c == Escape)
            {
                name.Append(Escape).Append(Escape);
            }
            else if (char.IsAsciiLetterUpper(c))
            {
                name.Append(Escape).Append(char.ToLowerInvariant(c));
            }
            else if (c > 0x7f && (char.ToLowerInvariant(c) != c || char.ToUpperInvariant(c) != c))
            {
                name.Append(Escape).Append(Wide).Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                name.Append(c);
            }
        }

        return name.ToString();
    }

    private static bool NeedsEscape(string key)
    {
        foreach (var c in key)
        {
            if (c == Escape || char.IsAsciiLetterUpper(c) || (c > 0x7f && (char.ToLowerInvariant(c) != c || char.ToUpperInvariant(c) != c)))
            {
                return true;
            }
        }

        return false;
    }

    private static string Decode(string name)
    {
        var escape = name.IndexOf(Escape, StringComparison.Ordinal);
        if (escape < 0)
        {
            return name;
        }

        var key = new StringBuilder(name.Length);
        key.Append(name, 0, escape);
        for (var i = escape; i < name.Length; i++)
        {
            if (name[i] != Escape || i + 1 == name.Length)
            {
                key.Append(name[i]);
                continue;
            }

            var next = name[++i];
            if (next == Wide && i + 4 < name.Length && int.TryParse(name.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
            {
                key.Append((char)code);
                i += 4;
            }
            else
            {
                key.Append(next == Escape ? Escape : char.ToUpperInvariant(next));
            }
        }

        return key.ToString();
    }
}
