using System.Buffers;
using IngestService.Resilience;

namespace IngestService.Storage.Runs;

/// <summary>
/// Reads the manifest (cached for <see cref="CacheFor"/> for reads, so a busy read path adds about one GET a
/// second) and commits changes to it with <c>If-Match</c>, reading again and reapplying the change on every
/// conflict, through one Polly pipeline.
/// </summary>
public sealed class ManifestStore(IObjectStore store, TimeProvider time)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private Snapshot _last = new(new Manifest(), null, DateTimeOffset.MinValue);

    // A lost If-Match race: another node committed first; read again and reapply. The pause spreads racing nodes
    // apart in real time, whatever clock drives the store.
    private readonly RetryLoop<bool> _conflicts = Retry.While<bool>(
        committed => !committed, new RetryDelays(TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(1)), TimeProvider.System, maxAttempts: 50);

    /// <summary>The newest manifest this node has read or committed, however old: what its own next steps build on.</summary>
    public Manifest Latest => Volatile.Read(ref _last).Manifest;

    /// <summary>The manifest as stored now, with its ETag (null: none yet).</summary>
    public async Task<(Manifest Manifest, string? ETag)> ReadAsync(CancellationToken cancellationToken)
    {
        var (manifest, copy, etag) = await ReadStoredAsync(keepCopy: true, cancellationToken);
        if (etag is not null)
        {
            Remember(copy!, etag);
        }

        return (manifest, etag);
    }

    /// <summary>
    /// The stored manifest, and with <paramref name="keepCopy"/> a second one parsed from the same bytes for the cache,
    /// which the caller's changes must not reach.
    /// </summary>
    private async Task<(Manifest Manifest, Manifest? Copy, string? ETag)> ReadStoredAsync(bool keepCopy, CancellationToken cancellationToken)
    {
        await using var stored = await store.GetAsync(Manifest.Key, cancellationToken);
        if (stored is null)
        {
            return (new Manifest(), null, null);
        }

        // Read into a pooled buffer of the stored size: a manifest is read at every pass and passes the large-object
        // threshold (85 KB) on a busy store, and arrays of that size left for gen 2 at every read grew the heap.
        var length = checked((int)stored.Info.Size);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            var read = await stored.Content.ReadAtLeastAsync(buffer.AsMemory(0, length), length, throwOnEndOfStream: false, cancellationToken);
            var json = buffer.AsSpan(0, read);
            return (Manifest.Deserialize(json), keepCopy ? Manifest.Deserialize(json) : null, stored.Info.ETag);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The manifest as read at most <see cref="CacheFor"/> ago; callers must not change it.</summary>
    public async ValueTask<Manifest> CurrentAsync(CancellationToken cancellationToken)
    {
        var last = Volatile.Read(ref _last);
        if (time.GetUtcNow() - last.ReadAt < CacheFor)
        {
            return last.Manifest;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            last = Volatile.Read(ref _last);
            if (time.GetUtcNow() - last.ReadAt < CacheFor)
            {
                return last.Manifest;
            }

            var (manifest, _, etag) = await ReadStoredAsync(keepCopy: false, cancellationToken);
            Volatile.Write(ref _last, new Snapshot(manifest, etag, time.GetUtcNow()));
            return manifest;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Forgets the cached manifest, so the next read sees the store (a read that found a run gone).</summary>
    public void Invalidate() => Volatile.Write(ref _last, _last with { ReadAt = DateTimeOffset.MinValue });

    /// <summary>
    /// Applies <paramref name="change"/> to the current manifest and writes it with <c>If-Match</c>; on a conflict,
    /// reads again and applies it again. <paramref name="change"/> answers false when there is nothing to write
    /// (then nothing is). Answers the manifest as committed (or as read, when nothing was written).
    /// </summary>
    public async Task<Manifest> CommitAsync(Func<Manifest, bool> change, CancellationToken cancellationToken)
    {
        Manifest result = new();
        var committed = await _conflicts.ExecuteAsync(async ct =>
        {
            // Read as ReadAsync does: with nothing to write, Latest must still be what was read. A flush whose pass found
            // its batches published by another node meanwhile waited for the units of the manifest it had before them.
            var (manifest, etag) = await ReadAsync(ct);
            result = manifest;
            if (!change(manifest))
            {
                return true;
            }

            manifest.Generation++;
            using var json = manifest.SerializePooled();
            var written = await store.PutAsync(Manifest.Key, new MemoryStream(json.WrittenSegment.Array!, 0, json.WrittenSegment.Count, writable: false),
                etag is null ? WriteCondition.CreateOnly : WriteCondition.Replace(etag), null, ct);
            if (written is null)
            {
                return false;
            }

            Remember(manifest, written);
            return true;
        }, cancellationToken);
        if (!committed)
        {
            throw new IOException("The manifest kept changing under this node's commits (50 conflicts in a row); the next pass tries again.");
        }

        return result;
    }

    private void Remember(Manifest manifest, string etag)
    {
        var last = Volatile.Read(ref _last);
        if (last.ETag is null || manifest.Generation >= last.Manifest.Generation)
        {
            Volatile.Write(ref _last, new Snapshot(manifest, etag, time.GetUtcNow()));
        }
    }

    private sealed record Snapshot(Manifest Manifest, string? ETag, DateTimeOffset ReadAt);
}
