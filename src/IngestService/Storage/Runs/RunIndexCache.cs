using System.Collections.Concurrent;

namespace IngestService.Storage.Runs;

/// <summary>
/// Run indexes by key. Runs never change, so an index is good for as long as the run exists: kept without expiry,
/// up to <see cref="Capacity"/> of them and <see cref="CapacitySegments"/> segments in all (a node reading today's
/// runs holds a few dozen). Past either the cache starts again empty (cheaper than tracking recency on every read).
/// </summary>
/// <remarks>
/// The segment bound is the memory bound: a writer adds the index of every run it writes, and at the reference fleet
/// a day's runs hold about 5 million segments (3,000 per L0 run, 1,440 runs), some 650 MB of index entries that a
/// count of runs alone would have kept. The node that deletes runs forgets their indexes (<see cref="Forget"/>), so
/// its cache follows the live runs, tens of thousands of segments; on other nodes the bounds start it again.
/// </remarks>
public sealed class RunIndexCache(IObjectStore store)
{
    public const int Capacity = 4096;

    /// <summary>About 130 bytes each (the entry and its sensor id): some 35 MB.</summary>
    public const long CapacitySegments = 262_144;

    private readonly ConcurrentDictionary<string, Lazy<Task<RunIndex?>>> _indexes = new(StringComparer.Ordinal);
    private long _segments;

    /// <summary>Segments in the indexes held now (approximately, while reads race a reset).</summary>
    public long Segments => Interlocked.Read(ref _segments);

    /// <summary>The run's index, or null when the run is gone.</summary>
    public Task<RunIndex?> GetAsync(string key, CancellationToken cancellationToken) => GetAsync(key, 0, cancellationToken);

    /// <summary>
    /// The run's index, or null when the run is gone; <paramref name="indexBytes"/> is its manifest entry's
    /// <see cref="RunEntry.IndexBytes"/>, so a cold read is one GET of exactly the index (0: guessed).
    /// </summary>
    public async Task<RunIndex?> GetAsync(string key, long indexBytes, CancellationToken cancellationToken)
    {
        ResetWhenFull();
        var created = false;
        var entry = _indexes.GetOrAdd(key, k =>
        {
            created = true;
            return new Lazy<Task<RunIndex?>>(() => RunIndex.ReadAsync(store, k, indexBytes, CancellationToken.None));
        });
        try
        {
            var index = await entry.Value.WaitAsync(cancellationToken);
            if (index is null)
            {
                _indexes.TryRemove(KeyValuePair.Create(key, entry));
            }
            else if (created)
            {
                Interlocked.Add(ref _segments, index.Segments.Count);
            }

            return index;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _indexes.TryRemove(KeyValuePair.Create(key, entry));
            throw;
        }
    }

    /// <summary>Remembers the index of a run this node just wrote, saving the GET.</summary>
    public void Add(string key, RunIndex index)
    {
        ResetWhenFull();
        _indexes[key] = new Lazy<Task<RunIndex?>>(Task.FromResult<RunIndex?>(index));
        Interlocked.Add(ref _segments, index.Segments.Count);
    }

    /// <summary>Drops the indexes of runs deleted from the store: a writer's cache then holds live runs, not a day of dead ones.</summary>
    public void Forget(IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            if (_indexes.TryRemove(key, out var entry) && entry.IsValueCreated && entry.Value.IsCompletedSuccessfully && entry.Value.Result is { } index)
            {
                Interlocked.Add(ref _segments, -index.Segments.Count);
            }
        }
    }

    private void ResetWhenFull()
    {
        if (_indexes.Count > Capacity || Interlocked.Read(ref _segments) > CapacitySegments)
        {
            // Rare, and the next reads fetch what they need again.
            _indexes.Clear();
            Interlocked.Exchange(ref _segments, 0);
        }
    }
}

/// <summary>
/// Run segments read for sensor-day reads, compressed as stored, by run key and offset. Runs never change, so a
/// segment is good while the run exists: a warm read of today needs no request per run. Held up to
/// <see cref="CapacityBytes"/>; past it the cache starts again empty (cheaper than tracking recency on every read).
/// </summary>
public sealed class RunSegmentCache
{
    public const long CapacityBytes = 64L * 1024 * 1024;

    /// <summary>Segments larger than this are streamed, never held.</summary>
    public const int MaxSegmentBytes = 1024 * 1024;

    private readonly ConcurrentDictionary<(string Key, long Offset), byte[]> _segments = new();
    private long _bytes;

    public bool TryGet(string key, long offset, out byte[] segment) => _segments.TryGetValue((key, offset), out segment!);

    public void Add(string key, long offset, byte[] segment)
    {
        if (Interlocked.Add(ref _bytes, segment.Length) > CapacityBytes)
        {
            _segments.Clear();
            Interlocked.Exchange(ref _bytes, segment.Length);
        }

        _segments[(key, offset)] = segment;
    }
}
