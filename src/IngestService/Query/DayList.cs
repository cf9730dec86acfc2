using System.Globalization;
using IngestService.Events;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Query;

/// <summary><c>GET /v1/sensors/{sensorId}/days?from&amp;to[&amp;tz]</c>: the days that hold data.</summary>
public static class DayList
{
    public static async Task<IResult> GetAsync(
        string sensorId, string? from, string? to, string? tz, HttpContext context, IObjectStore store, IOptions<StorageOptions> storage, SensorDayReader reader, IOptions<QueryOptions> options, CancellationToken cancellationToken)
    {
        if (QueryApi.CheckSensor(sensorId) is { } badSensor)
        {
            return badSensor;
        }

        if (CheckRange(from, to, options.Value.MaxRangeDays, out var first, out var last) is { } badRange)
        {
            return badRange;
        }

        if (!QueryApi.TryZone(tz, out var zone, out var badZone))
        {
            return badZone!;
        }

        await ReadHeaders.AddCurrentAsOfAsync(context, cancellationToken);
        context.Response.Headers[ReadHeaders.DayTimeZone] = zone?.Id ?? "UTC";
        var parallel = options.Value.MaxParallelDays;
        return TypedResults.Ok(zone is null
            ? await UtcDaysAsync(store, reader, storage.Value.SensorPrefix, sensorId, first, last, parallel, cancellationToken)
            : await LocalDaysAsync(reader, sensorId, zone, first, last, parallel, cancellationToken));
    }

    /// <summary>Both days given, in order, and no more of them than <c>Query:MaxRangeDays</c>.</summary>
    private static IResult? CheckRange(string? from, string? to, int maxDays, out DateOnly first, out DateOnly last)
    {
        last = default;
        if (from is null || to is null || !SensorDayKey.TryParseDay(from, out first) || !SensorDayKey.TryParseDay(to, out last))
        {
            first = default;
            return QueryApi.BadRequest("Invalid range", "from and to are both required days, yyyy-MM-dd, such as ?from=2026-11-01&to=2026-11-30 (both included; UTC, or local with ?tz=Area/City).");
        }

        if (last < first)
        {
            return QueryApi.BadRequest("Invalid range", $"to ({to}) must not be before from ({from}); both days are included.");
        }

        var span = last.DayNumber - first.DayNumber + 1;
        return span > maxDays
            ? QueryApi.BadRequest("Range too long", $"The range spans {span} days; at most {maxDays} days (Query:MaxRangeDays) can be listed at once: split it into several requests.")
            : null;
    }

    /// <summary>
    /// Local days: object metadata counts UTC days, so a local day's figures need its events; its one or two UTC
    /// days are read, days ahead in parallel as a range read does.
    /// </summary>
    private static async Task<DayInfo[]> LocalDaysAsync(
        SensorDayReader reader, string sensorId, TimeZoneInfo zone, DateOnly first, DateOnly last, int parallel, CancellationToken cancellationToken)
    {
        var days = new List<DayInfo>();
        await foreach (var lines in ReadAhead.ReadAsync(Days.Between(first, last), ReadLocalAsync, parallel, cancellationToken))
        {
            using (lines)
            {
                if (lines.Count > 0)
                {
                    days.Add(new DayInfo(lines.Day.ToString(SensorDayKey.DayFormat, CultureInfo.InvariantCulture), lines.Count, lines.Ndjson.Length, lines.StoredBytes));
                }
            }
        }

        return [.. days];

        Task<DayLines?> ReadLocalAsync(DateOnly day, CancellationToken ct)
        {
            var local = LocalDay.In(zone, day);
            return DayLines.ReadAsync(reader, sensorId, day, local.UtcDays, local.Start.UtcTicks, local.End.UtcTicks, ct);
        }
    }

    /// <summary>
    /// UTC days: sealed days from one listing and a HEAD per day, no download; days that live runs hold (today, late
    /// data) are read merged, since only a merge can say how many events the sealed object and the runs share.
    /// </summary>
    private static async Task<DayInfo[]> UtcDaysAsync(IObjectStore store, SensorDayReader reader, string prefix, string sensorId, DateOnly first, DateOnly last, int parallel, CancellationToken cancellationToken)
    {
        var open = await reader.OpenDaysAsync(sensorId, first, last, cancellationToken);
        var sealedDays = await FromMetadataAsync(store, prefix, sensorId, first, last, cancellationToken);
        var days = sealedDays.Where(d => !open.Contains(SensorDayKey.TryParseDay(d.Day, out var day) ? day : default)).ToList();
        await foreach (var lines in ReadAhead.ReadAsync(open, (day, ct) => DayLines.ReadAsync(reader, sensorId, day, [day], long.MinValue, long.MaxValue, ct), parallel, cancellationToken))
        {
            using (lines)
            {
                if (lines.Count > 0)
                {
                    days.Add(new DayInfo(lines.Day.ToString(SensorDayKey.DayFormat, CultureInfo.InvariantCulture), lines.Count, lines.Ndjson.Length, lines.StoredBytes));
                }
            }
        }

        return [.. days.OrderBy(d => d.Day, StringComparer.Ordinal)];
    }

    /// <summary>Sealed UTC days: one listing and a HEAD per day that has an object, no download.</summary>
    private static async Task<DayInfo[]> FromMetadataAsync(IObjectStore store, string prefix, string sensorId, DateOnly first, DateOnly last, CancellationToken cancellationToken)
    {
        var folder = SensorDayKey.FolderOf(prefix, sensorId);
        var startAfter = first == DateOnly.MinValue ? null : SensorDayKey.For(prefix, sensorId, first.AddDays(-1));
        var keys = new List<(string Key, DateOnly Day)>();
        await foreach (var info in store.ListAsync(folder, startAfter, cancellationToken))
        {
            if (!SensorDayKey.TryParseKey(folder, info.Key, out var day) || day < first)
            {
                continue;
            }

            if (day > last)
            {
                break;
            }

            keys.Add((info.Key, day));
        }

        var days = new DayInfo[keys.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, keys.Count),
            new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var head = await store.HeadAsync(keys[i].Key, ct);
                days[i] = new DayInfo(
                    keys[i].Day.ToString(SensorDayKey.DayFormat, CultureInfo.InvariantCulture),
                    Number(head?.Metadata, SensorDayKey.EventsMetadata),
                    Number(head?.Metadata, SensorDayKey.BytesMetadata),
                    head?.Size ?? 0);
            });
        return days.Where(d => d.Events != 0).ToArray();
    }

    private static long Number(IReadOnlyDictionary<string, string>? metadata, string name) =>
        metadata is not null && metadata.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : -1;
}
