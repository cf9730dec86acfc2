using IngestService.Storage;
using Microsoft.Extensions.Options;

namespace IngestService.Delivery;

/// <summary>
/// The <c>Local</c> backend's stand-in for Firehose: each window becomes one raw NDJSON file under
/// <c>{DataPath}/{RawPrefix}YYYY/MM/DD/HH/</c>, named like Firehose's objects, and its events are accepted
/// only once the file and its directory entry are on disk. Files are named by the store
/// (<see cref="FileSystemObjectStore.PathOf"/>), so a raw prefix with capitals is found where the store lists it
/// on a file system that folds case too.
/// </summary>
public sealed class LocalRawSink(FileSystemObjectStore store, IOptions<StorageOptions> storage, TimeProvider time) : IEventSink
{
    private readonly string _prefix = storage.Value.RawPrefix;

    public string Name => "local";

    public async Task DeliverAsync(IReadOnlyList<PendingEvent> events, bool[] accepted, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var path = store.PathOf(
            $"{_prefix}{now.ToString("yyyy/MM/dd/HH", System.Globalization.CultureInfo.InvariantCulture)}/ingest-local-{now:yyyy-MM-dd-HH-mm-ss}-{Guid.NewGuid():D}.ndjson");
        var parts = new ReadOnlyMemory<byte>[events.Count];
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = events[i].Line;
        }

        await DurableFile.WriteAsync(path, parts, cancellationToken);
        Array.Fill(accepted, true);
    }

    public Task<string?> CheckReadyAsync(CancellationToken cancellationToken)
    {
        var root = Path.Combine(store.Root, _prefix);
        try
        {
            root = store.PathOf(_prefix.TrimEnd('/'));
            DurableFile.CreateDirectory(root);
            return Task.FromResult<string?>(null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Task.FromResult<string?>($"raw folder '{root}' is not writable: {ex.Message}");
        }
    }
}
