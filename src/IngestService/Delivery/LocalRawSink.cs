using IngestService.Storage;
using Microsoft.Extensions.Options;

namespace IngestService.Delivery;

/// <summary>
/// The <c>Local</c> backend's stand-in for Firehose: each window becomes one raw NDJSON file under
/// <c>{DataPath}/{RawPrefix}YYYY/MM/DD/HH/</c>, named like Firehose's objects, and its events are accepted
/// only once the file and its directory entry are on disk.
/// </summary>
public sealed class LocalRawSink(IOptions<LocalStoreOptions> local, IOptions<StorageOptions> storage, TimeProvider time) : IEventSink
{
    private readonly string _root = Path.GetFullPath(Path.Combine(local.Value.DataPath, storage.Value.RawPrefix));

    public string Name => "local";

    public async Task DeliverAsync(IReadOnlyList<PendingEvent> events, bool[] accepted, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var path = Path.Combine(
            _root,
            now.ToString("yyyy/MM/dd/HH", System.Globalization.CultureInfo.InvariantCulture),
            $"ingest-local-{now:yyyy-MM-dd-HH-mm-ss}-{Guid.NewGuid():D}.ndjson");
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
        try
        {
            DurableFile.CreateDirectory(_root);
            return Task.FromResult<string?>(null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Task.FromResult<string?>($"raw folder '{_root}' is not writable: {ex.Message}");
        }
    }
}
