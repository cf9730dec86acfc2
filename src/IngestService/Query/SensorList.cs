using IngestService.Ingest;
using IngestService.Storage;
using Microsoft.Extensions.Options;

namespace IngestService.Query;

/// <summary><c>GET /v1/sensors?prefix=&amp;limit=&amp;after=</c>: the sensors that have stored data, in id order.</summary>
public static class SensorList
{
    private const int MaxLimit = 1000;

    public static async Task<IResult> GetAsync(
        string? prefix, int? limit, string? after, HttpContext context, IObjectStore store, IOptions<StorageOptions> storage, CancellationToken cancellationToken)
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
        var sensors = new List<string>(take);
        // Sensor folders are skipped over, not scanned: each listing starts after the last sensor's days ('~'
        // sorts after every character of a day key) and only its first key is used, so a page costs one
        // listing per sensor whatever the number of days each holds.
        var startAfter = string.IsNullOrEmpty(after) ? null : $"{root}{after}/~";
        if (startAfter is null && !string.IsNullOrEmpty(prefix))
        {
            startAfter = null;
        }

        while (sensors.Count <= take)
        {
            string? id = null;
            await foreach (var info in store.ListAsync(root + (prefix ?? ""), startAfter, cancellationToken))
            {
                var slash = info.Key.IndexOf('/', root.Length);
                if (slash > root.Length)
                {
                    id = info.Key[root.Length..slash];
                }

                break;
            }

            if (id is null)
            {
                break;
            }

            if (SensorId.IsValid(id))
            {
                sensors.Add(id);
            }

            startAfter = $"{root}{id}/~";
        }

        var more = sensors.Count > take;
        var page = more ? sensors[..take] : sensors;
        return TypedResults.Ok(new SensorPage([.. page], more ? page[^1] : null));
    }
}
