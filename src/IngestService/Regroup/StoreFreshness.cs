using IngestService.Storage;

namespace IngestService.Regroup;

/// <summary>
/// Answers how current reads are from the watermark object, read at most once per <see cref="CacheFor"/> so a
/// busy read path adds about one GET a second, not one per read.
/// </summary>
public sealed class StoreFreshness(IObjectStore store, TimeProvider time) : IStoreFreshness
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _gate = new(1, 1);

    // One reference, swapped whole, so a reader outside the gate never sees a value from one read with the time of another.
    private Snapshot _last = new(null, DateTimeOffset.MinValue);

    public async ValueTask<DateTimeOffset?> CurrentAsOfAsync(CancellationToken cancellationToken)
    {
        var last = Volatile.Read(ref _last);
        if (time.GetUtcNow() - last.ReadAt < CacheFor)
        {
            return last.Value;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            var now = time.GetUtcNow();
            if (now - _last.ReadAt >= CacheFor)
            {
                var (value, _) = await StoreWatermark.ReadAsync(store, cancellationToken);
                Volatile.Write(ref _last, new Snapshot(value, now));
            }

            return _last.Value;
        }
        finally
        {
            _gate.Release();
        }
    }

    private sealed record Snapshot(DateTimeOffset? Value, DateTimeOffset ReadAt);
}
