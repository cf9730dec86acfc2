using System.Security.Cryptography;
using System.Text;
using IngestService.Events;
using IngestService.Storage;
using IngestService.Storage.Runs;

namespace IngestService.Regroup;

/// <summary>A run written to the store (or found there, written by an earlier try of the same work).</summary>
public sealed record WrittenRun(string Key, int Level, RunIndex Index, long Size, bool Adopted)
{
    public RunEntry ToEntry(IEnumerable<DateOnly> liveDays, DateTimeOffset createdAt) => new()
    {
        Key = Key,
        Level = Level,
        Days = [.. Index.Segments.Select(s => s.Day).Distinct().Where(liveDays.Contains).Order().Select(Manifest.DayText)],
        Events = Index.Events,
        Size = Size,
        IndexBytes = Size - Index.DataLength,
        CreatedAt = createdAt,
    };
}

/// <summary>Writes runs: sorted lines to a scratch file, then one PUT with <c>If-None-Match: *</c> under a key made from the inputs.</summary>
public static class RunOutput
{
    /// <summary>
    /// The key of the run made of <paramref name="inputs"/> at <paramref name="level"/>: a hash of the input keys,
    /// so a retried pass or compaction writes the same key and adopts what an earlier try left there.
    /// </summary>
    public static string KeyFor(int level, IEnumerable<string> inputs)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', inputs.Order(StringComparer.Ordinal))));
        return $"{Manifest.RunPrefix}L{level}/{Convert.ToHexStringLower(hash.AsSpan(0, 16))}.run";
    }

    /// <summary>Writes the run; null when <paramref name="lines"/> holds none.</summary>
    public static Task<WrittenRun?> WriteAsync(
        IObjectStore store, RunIndexCache indexes, string key, int level, IAsyncEnumerable<StoredLine> lines, CancellationToken cancellationToken) =>
        WriteAsync(store, indexes, key, level, async writer =>
        {
            await foreach (var line in lines.WithCancellation(cancellationToken))
            {
                writer.Add(line);
            }
        }, cancellationToken);

    /// <summary>Writes the run <paramref name="fill"/> gives its writer; null when it holds no line.</summary>
    public static async Task<WrittenRun?> WriteAsync(
        IObjectStore store, RunIndexCache indexes, string key, int level, Func<RunWriter, Task> fill, CancellationToken cancellationToken)
    {
        await using var writer = new RunWriter(Scratch.Folder);
        await fill(writer);
        if (writer.Events == 0)
        {
            return null;
        }

        var content = writer.Finish();
        var size = content.Length;
        var index = new RunIndex([.. writer.Segments], writer.DataLength);
        if (await store.PutAsync(key, content, WriteCondition.CreateOnly, null, cancellationToken) is null)
        {
            // An earlier try of the same inputs wrote it: the same lines, so the same run.
            var existing = await indexes.GetAsync(key, cancellationToken) ?? throw new IOException($"Run {key} exists but its index cannot be read.");
            var head = await store.HeadAsync(key, cancellationToken);
            return new WrittenRun(key, level, existing, head?.Size ?? size, Adopted: true);
        }

        indexes.Add(key, index);
        return new WrittenRun(key, level, index, size, Adopted: false);
    }
}
