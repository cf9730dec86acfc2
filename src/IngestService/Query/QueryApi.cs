using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using IngestService.Ingest;
using IngestService.Regroup;
using IngestService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace IngestService.Query;

/// <summary>The analyst's read surface: one sensor-day, a time range across days, and which days hold data.</summary>
public static class QueryApi
{
    private const string Ndjson = "application/x-ndjson";
    private const string Csv = "text/csv";
    private const string Json = "application/json";

    public static IServiceCollection AddQuery(this IServiceCollection services)
    {
        services.AddOptions<QueryOptions>().BindConfiguration(QueryOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, QueryJsonContext.Default));
        return services;
    }

    public static RouteGroupBuilder MapQuery(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/sensors/{sensorId}").WithTags("Query");
        group.MapGet("/days/{day}", GetDay)
            .WithName("GetSensorDay")
            .WithSummary("One sensor-day as NDJSON (default), CSV (Accept: text/csv) or a JSON array (Accept: application/json)")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status406NotAcceptable);
        group.MapGet("/events", GetEvents)
            .WithName("GetSensorEvents")
            .WithSummary("Every stored event with from <= ts < to, as NDJSON in stored order")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("/days", ListDays)
            .WithName("ListSensorDays")
            .WithSummary("The days from..to (inclusive) that hold events, with their counts and sizes")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return group;
    }

    private enum Format
    {
        Ndjson,
        Csv,
        Json,
    }

    internal static async Task<Results<PushStreamHttpResult, StatusCodeHttpResult, ProblemHttpResult>> GetDay(
        string sensorId, string day, HttpContext context, IObjectStore store, IOptions<StorageOptions> storage, CancellationToken cancellationToken)
    {
        if (!SensorId.IsValid(sensorId))
        {
            return BadSensor(sensorId);
        }

        if (!SensorDayKey.TryParseDay(day, out var date))
        {
            return BadRequest("Invalid day", $"'{Truncate(day)}' is not a day: use yyyy-MM-dd, such as 2026-11-21 (UTC).");
        }

        if (Negotiate(context.Request.Headers.Accept) is not { } format)
        {
            return TypedResults.Problem(
                $"This resource is available as {Ndjson} (default), {Csv} or {Json}; Accept '{context.Request.Headers.Accept}' allows none of them.",
                statusCode: StatusCodes.Status406NotAcceptable, title: "Not acceptable");
        }

        var key = SensorDayKey.For(storage.Value.SensorPrefix, sensorId, date);
        var stored = await store.GetAsync(key, cancellationToken);
        if (stored is null)
        {
            return NoDay(sensorId, day);
        }

        var gzip = format == Format.Ndjson && AcceptsGzip(context.Request.Headers.AcceptEncoding);
        var etag = RepresentationETag(stored.Info.ETag, format, gzip);
        var response = context.Response;
        response.Headers.Vary = "Accept, Accept-Encoding";
        response.Headers.ETag = etag;
        if (Matches(context.Request.Headers.IfNoneMatch, etag))
        {
            await stored.DisposeAsync();
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        switch (format)
        {
            case Format.Ndjson when gzip:
                response.Headers.ContentEncoding = "gzip";
                response.ContentLength = stored.Info.Size;
                return TypedResults.Stream(async body =>
                {
                    await using (stored)
                    {
                        await stored.Content.CopyToAsync(body, context.RequestAborted);
                    }
                }, Ndjson);
            case Format.Ndjson:
                return TypedResults.Stream(async body =>
                {
                    await using (stored)
                    {
                        await using var plain = new GZipStream(stored.Content, CompressionMode.Decompress);
                        await plain.CopyToAsync(body, context.RequestAborted);
                    }
                }, Ndjson);
            case Format.Json:
                return TypedResults.Stream(body => WriteJsonArrayAsync(stored, body, context.RequestAborted), $"{Json}; charset=utf-8");
            default:
                return TypedResults.Stream(body => WriteCsvAsync(stored, key, store, format, gzip, context, body), $"{Csv}; charset=utf-8; header=present");
        }
    }

    private static readonly byte[] ArrayStart = "[\n"u8.ToArray();
    private static readonly byte[] ArraySeparator = ",\n"u8.ToArray();
    private static readonly byte[] ArrayEnd = "\n]\n"u8.ToArray();

    private static async Task WriteJsonArrayAsync(StoredObject stored, Stream body, CancellationToken cancellationToken)
    {
        await using (stored)
        {
            // Each write to the response body is a flush; buffering makes a 10,000-line day a few writes. Not
            // disposed: that would dispose the response body.
            var buffered = new BufferedStream(body, 64 * 1024);
            await buffered.WriteAsync(ArrayStart, cancellationToken);
            var first = true;
            await foreach (var line in LineReader.ReadAsync(stored.Content, cancellationToken))
            {
                if (!first)
                {
                    await buffered.WriteAsync(ArraySeparator, cancellationToken);
                }

                await buffered.WriteAsync(line.Bytes, cancellationToken);
                first = false;
            }

            await buffered.WriteAsync(ArrayEnd, cancellationToken);
            await buffered.FlushAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Two reads of the day: the first finds the columns, the second writes rows, so no day is held in memory.
    /// Should the day change in between, both reads are made again of the new version.
    /// </summary>
    private static async Task WriteCsvAsync(StoredObject stored, string key, IObjectStore store, Format format, bool gzip, HttpContext context, Stream body)
    {
        var cancellationToken = context.RequestAborted;
        var columns = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var attempt = 0; ; attempt++)
        {
            columns.Clear();
            seen.Clear();
            var etag = stored.Info.ETag;
            await using (stored)
            {
                await foreach (var line in LineReader.ReadAsync(stored.Content, cancellationToken))
                {
                    CsvDay.CollectColumns(line.Bytes.Span, columns, seen);
                }
            }

            stored = await store.GetAsync(key, cancellationToken)
                ?? throw new InvalidOperationException($"Sensor-day '{key}' disappeared while it was read.");
            if (stored.Info.ETag == etag)
            {
                break;
            }

            // Nothing is written yet, so the header can still name the version the rows will come from.
            context.Response.Headers.ETag = RepresentationETag(stored.Info.ETag, format, gzip);
            if (attempt == 3)
            {
                break;
            }
        }

        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < columns.Count; i++)
        {
            index[columns[i]] = i;
        }

        await using (stored)
        {
            // Rows are formatted into a small buffer and written asynchronously: the server forbids blocking writes.
            await using var writer = new StreamWriter(body, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
            using var row = new StringWriter(CultureInfo.InvariantCulture);
            CsvDay.WriteHeader(row, columns);
            await foreach (var line in LineReader.ReadAsync(stored.Content, cancellationToken))
            {
                CsvDay.WriteRow(row, line.Bytes.Span, columns, index);
                if (row.GetStringBuilder().Length > 32 * 1024)
                {
                    await writer.WriteAsync(row.GetStringBuilder(), cancellationToken);
                    row.GetStringBuilder().Clear();
                }
            }

            await writer.WriteAsync(row.GetStringBuilder(), cancellationToken);
            await writer.FlushAsync(cancellationToken);
        }
    }

    internal static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> GetEvents(
        string sensorId, string? from, string? to, HttpContext context, IObjectStore store, IOptions<StorageOptions> storage, IOptions<QueryOptions> options)
    {
        if (!SensorId.IsValid(sensorId))
        {
            return BadSensor(sensorId);
        }

        if (!TryInstant(from, out var start) || !TryInstant(to, out var end))
        {
            return BadRequest("Invalid range", "from and to are both required RFC 3339 instants with a zone, such as ?from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z; events with from <= ts < to are returned.");
        }

        var limits = options.Value;
        if (end <= start)
        {
            return BadRequest("Invalid range", $"to ({to}) must be after from ({from}): the range is from <= ts < to.");
        }

        if (end - start > TimeSpan.FromDays(limits.MaxRangeDays))
        {
            return BadRequest("Range too long", $"The range spans {(end - start).TotalDays:0.###} days; at most {limits.MaxRangeDays} days (Query:MaxRangeDays) can be read at once: split it into several requests.");
        }

        var first = DateOnly.FromDateTime(start.UtcDateTime);
        var last = DateOnly.FromDateTime(end.UtcDateTime.AddTicks(-1));
        var prefix = storage.Value.SensorPrefix;
        return TypedResults.Stream(async body =>
        {
            // Days are fetched ahead in parallel (bounded) but written strictly in order.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            var ahead = new Queue<Task<MemoryStream?>>();
            var next = first;
            try
            {
                while (ahead.Count > 0 || next <= last)
                {
                    while (ahead.Count < limits.MaxParallelDays && next <= last)
                    {
                        var day = next;
                        ahead.Enqueue(Task.Run(() => ReadRangeAsync(store, SensorDayKey.For(prefix, sensorId, day), sensorId, start.UtcTicks, end.UtcTicks, stop.Token), stop.Token));
                        next = day.AddDays(1);
                    }

                    using var lines = await ahead.Dequeue();
                    if (lines is not null)
                    {
                        lines.Position = 0;
                        await lines.CopyToAsync(body, stop.Token);
                        await body.FlushAsync(stop.Token);
                    }
                }
            }
            finally
            {
                await stop.CancelAsync();
                foreach (var task in ahead)
                {
                    try
                    {
                        (await task)?.Dispose();
                    }
                    catch (Exception) when (stop.IsCancellationRequested)
                    {
                        // Read-ahead abandoned because the client left or an earlier day failed: that first
                        // failure is the one that propagates.
                    }
                }
            }
        }, Ndjson);
    }

    private static async Task<MemoryStream?> ReadRangeAsync(IObjectStore store, string key, string sensorId, long fromTicks, long toTicks, CancellationToken cancellationToken)
    {
        await using var stored = await store.GetAsync(key, cancellationToken);
        if (stored is null)
        {
            return null;
        }

        var lines = new MemoryStream();
        await foreach (var line in LineReader.ReadAsync(stored.Content, cancellationToken))
        {
            if (StoredLine.TryParse(line.Bytes.Span, sensorId) is { } parsed && parsed.TsTicks >= fromTicks && parsed.TsTicks < toTicks)
            {
                lines.Write(parsed.Bytes);
            }
        }

        return lines;
    }

    internal static async Task<Results<Ok<DayInfo[]>, ProblemHttpResult>> ListDays(
        string sensorId, string? from, string? to, IObjectStore store, IOptions<StorageOptions> storage, IOptions<QueryOptions> options, CancellationToken cancellationToken)
    {
        if (!SensorId.IsValid(sensorId))
        {
            return BadSensor(sensorId);
        }

        if (from is null || to is null || !SensorDayKey.TryParseDay(from, out var first) || !SensorDayKey.TryParseDay(to, out var last))
        {
            return BadRequest("Invalid range", "from and to are both required UTC days, yyyy-MM-dd, such as ?from=2026-11-01&to=2026-11-30 (both included).");
        }

        var maxDays = options.Value.MaxRangeDays;
        if (last < first)
        {
            return BadRequest("Invalid range", $"to ({to}) must not be before from ({from}); both days are included.");
        }

        if (last.DayNumber - first.DayNumber + 1 > maxDays)
        {
            return BadRequest("Range too long", $"The range spans {last.DayNumber - first.DayNumber + 1} days; at most {maxDays} days (Query:MaxRangeDays) can be listed at once: split it into several requests.");
        }

        var folder = SensorDayKey.FolderOf(storage.Value.SensorPrefix, sensorId);
        var startAfter = first == DateOnly.MinValue ? null : SensorDayKey.For(storage.Value.SensorPrefix, sensorId, first.AddDays(-1));
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
        return TypedResults.Ok(days.Where(d => d.Events != 0).ToArray());
    }

    private static long Number(IReadOnlyDictionary<string, string>? metadata, string name) =>
        metadata is not null && metadata.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : -1;

    private static Format? Negotiate(StringValues accept)
    {
        if (StringValues.IsNullOrEmpty(accept) || !MediaTypeHeaderValue.TryParseList(accept, out var types) || types.Count == 0)
        {
            return Format.Ndjson;
        }

        Format? best = null;
        double bestQuality = 0;
        foreach (var type in types.OrderByDescending(t => t.Quality ?? 1))
        {
            var quality = type.Quality ?? 1;
            if (quality <= 0 || quality <= bestQuality)
            {
                continue;
            }

            Format? format = type.MediaType.Value?.ToLowerInvariant() switch
            {
                Ndjson or "application/*" or "*/*" => Format.Ndjson,
                Csv or "text/*" => Format.Csv,
                Json => Format.Json,
                _ => null,
            };
            if (format is not null)
            {
                best = format;
                bestQuality = quality;
            }
        }

        return best;
    }

    private static bool AcceptsGzip(StringValues acceptEncoding) =>
        StringWithQualityHeaderValue.TryParseList(acceptEncoding, out var codings)
        && codings.Any(c => (c.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase) || c.Value.Equals("*", StringComparison.Ordinal)) && (c.Quality ?? 1) > 0);

    /// <summary>Each representation (format, and for NDJSON the encoding) has its own strong ETag.</summary>
    private static string RepresentationETag(string storedETag, Format format, bool gzip)
    {
        var inner = storedETag.Trim('"');
        var suffix = format switch
        {
            Format.Csv => "csv",
            Format.Json => "json",
            _ => gzip ? "ndjson-gzip" : "ndjson",
        };
        return $"\"{inner}-{suffix}\"";
    }

    private static bool Matches(StringValues ifNoneMatch, string etag)
    {
        foreach (var value in ifNoneMatch)
        {
            foreach (var candidate in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var tag = candidate.StartsWith("W/", StringComparison.Ordinal) ? candidate[2..] : candidate;
                if (tag == "*" || tag == etag)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool TryInstant(string? text, out DateTimeOffset value)
    {
        value = default;
        return text is not null && text.Length < 64 && Timestamp.TryParse(Encoding.UTF8.GetBytes(text), out value, out _);
    }

    private static ProblemHttpResult BadSensor(string sensorId) =>
        BadRequest("Invalid sensorId", $"'{Truncate(sensorId)}' is not a valid sensorId: {SensorId.Rule}.");

    private static ProblemHttpResult NoDay(string sensorId, string day) =>
        TypedResults.Problem(
            $"Sensor '{sensorId}' has no stored events on {day} (UTC). Events appear here after the regroup pass that follows their ingest; GET /v1/sensors/{sensorId}/days?from=…&to=… lists the days that have data.",
            statusCode: StatusCodes.Status404NotFound, title: "No events for this sensor-day");

    private static ProblemHttpResult BadRequest(string title, string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: title);

    private static string Truncate(string value) => value.Length <= 140 ? value : value[..140] + "…";
}

/// <summary>A day that holds data: its event count, its NDJSON size, and its stored (gzip) size.</summary>
public sealed record DayInfo(string Day, long Events, long Bytes, long StoredBytes);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(DayInfo[]))]
internal sealed partial class QueryJsonContext : JsonSerializerContext;
