using System.Collections.Concurrent;

namespace IngestService.Storage.Runs;

/// <summary>
/// Run indexes by key. Runs never change, so an index is good for as long as the run exists: kept without expiry,
/// up to <see cref="Capacity"/> of them (a node reading today's runs holds a few dozen).
/// </summary>
public sealed class RunIndexCache(IObjectStore store)
{
    public const int Capacity = 4096;

    private readonly ConcurrentDictionary<string, Lazy<Task<RunIndex?>>> _indexes = new(StringComparer.Ordinal);

    /// <summary>The run's index, or null when the run is gone.</summary>
    public async Task<RunIndex?> GetAsync(string key, CancellationToken cancellationToken)
    {
        if (_indexes.Count > Capacity)
        {
            // Rare, and the next reads fetch what they need again: cheaper than tracking recency on every read.
            _indexes.Clear();
        }

        var entry = _indexes.GetOrAdd(key, k => new Lazy<Task<RunIndex?>>(() => RunIndex.ReadAsync(store, k, CancellationToken.None)));
        try
        {
            var index = await entry.Value.WaitAsync(cancellationToken);
            if (index is null)
            {
                _indexes.TryRemove(KeyValuePair.Create(key, entry));
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
    public void Add(string key, RunIndex index) => _indexes[key] = new Lazy<Task<RunIndex?>>(Task.FromResult<RunIndex?>(index));
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
