using IngestService.Events;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Query;

/// <summary><c>GET /v1/sensors?prefix=&amp;limit=&amp;after=</c>: the sensors that have stored data, in id order.</summary>
public static class SensorList
{
    private const int MaxLimit = 1000;

    public static async Task<IResult> GetAsync(
        string? prefix, int? limit, string? after, HttpContext context, IObjectStore store, IOptions<StorageOptions> storage, SensorDayReader reader, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxLimit)
        {
            return QueryApi.BadRequest("Invalid limit", $"limit is how many sensors one page holds: 1 to {MaxLimit} (default 100).");
        }

        if (!string.IsNullOrEmpty(prefix) && !SensorId.IsValid(prefix) || !string.IsNullOrEmpty(after) && !SensorId.IsValid(after))
        {
            return QueryApi.BadRequest("Invalid prefix", $"prefix and after are the start of a sensorId and a whole sensorId: {SensorId.Rule}.");
        }

        await ReadHeaders.AddCurrentAsOfAsync(context, cancellationToken);
        var root = storage.Value.SensorPrefix;
        var take = limit ?? 100;
        var sensors = new List<string>(take + 1);
        // One delimiter listing on S3 (a request per 1,000 sensors), never a scan of the sensors' days, merged with the
        // sensors that so far have data only in runs (new today), in the listing's order (the id and its slash).
        var startAfter = string.IsNullOrEmpty(after) ? null : $"{root}{after}/";
        var open = new Queue<string>((await reader.OpenSensorsAsync(prefix ?? "", cancellationToken))
            .Where(id => startAfter is null || string.CompareOrdinal($"{root}{id}/", startAfter) > 0)
            .OrderBy(id => id + "/", StringComparer.Ordinal));
        await foreach (var folder in store.ListFoldersAsync(root + prefix, startAfter, cancellationToken))
        {
            while (open.Count > 0 && string.CompareOrdinal(open.Peek() + "/", folder[root.Length..]) < 0 && sensors.Count <= take)
            {
                sensors.Add(open.Dequeue());
            }

            if (open.Count > 0 && open.Peek() + "/" == folder[root.Length..])
            {
                open.Dequeue();
            }

            var id = folder[root.Length..^1];
            if (SensorId.IsValid(id) && sensors.Count <= take)
            {
                sensors.Add(id);
            }

            if (sensors.Count > take)
            {
                break;
            }
        }

        while (open.Count > 0 && sensors.Count <= take)
        {
            sensors.Add(open.Dequeue());
        }

        var more = sensors.Count > take;
        var page = more ? sensors[..take] : sensors;
        return TypedResults.Ok(new SensorPage([.. page], more ? page[^1] : null));
    }
}
