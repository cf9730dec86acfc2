using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using IngestService.Telemetry;

namespace IngestService.Storage;

/// <summary>
/// Counts the requests the store makes, in S3's billing units (a listing is one request per 1,000 keys),
/// by operation and by who asked: the regroup worker or the read API. The cost model in the benchmarks
/// reads these counts rather than estimating them.
/// </summary>
public sealed class MeteredObjectStore : IObjectStore
{
    private const int KeysPerListRequest = 1000;
    private static readonly AsyncLocal<string?> CurrentCaller = new();
    private readonly IObjectStore _inner;
    private readonly Counter<long> _requests;

    public MeteredObjectStore(IObjectStore inner, IMeterFactory meterFactory)
    {
        _inner = inner;
        _requests = meterFactory.Create(IngestMetrics.MeterName)
            .CreateCounter<long>("ingest_store_requests", "{request}", "Object store requests (S3 billing units), by operation and caller");
    }

    /// <summary>Attributes the requests made in the current async flow to <paramref name="caller"/> until disposed.</summary>
    public static IDisposable Attribute(string caller)
    {
        var previous = CurrentCaller.Value;
        CurrentCaller.Value = caller;
        return new Restore(previous);
    }

    public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        Count("get");
        return _inner.GetAsync(key, cancellationToken);
    }

    public Task<StoredObject?> GetRangeAsync(string key, ObjectRange range, CancellationToken cancellationToken)
    {
        Count("get");
        return _inner.GetRangeAsync(key, range, cancellationToken);
    }

    public Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        Count("head");
        return _inner.HeadAsync(key, cancellationToken);
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var keys = 0;
        Count("list");
        await foreach (var info in _inner.ListAsync(prefix, startAfter, cancellationToken))
        {
            if (++keys % KeysPerListRequest == 0)
            {
                Count("list");
            }

            yield return info;
        }
    }

    public async IAsyncEnumerable<string> ListFoldersAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var folders = 0;
        Count("list");
        await foreach (var folder in _inner.ListFoldersAsync(prefix, startAfter, cancellationToken))
        {
            if (++folders % KeysPerListRequest == 0)
            {
                Count("list");
            }

            yield return folder;
        }
    }

    public Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        Count("put");
        return _inner.PutAsync(key, content, condition, metadata, cancellationToken);
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        Count("delete");
        return _inner.DeleteAsync(key, cancellationToken);
    }

    public Task<string?> CheckReadyAsync(CancellationToken cancellationToken) => _inner.CheckReadyAsync(cancellationToken);

    private void Count(string operation) =>
        _requests.Add(1, new KeyValuePair<string, object?>("op", operation), new KeyValuePair<string, object?>("caller", CurrentCaller.Value ?? "read"));

    private sealed class Restore(string? previous) : IDisposable
    {
        public void Dispose() => CurrentCaller.Value = previous;
    }
}
