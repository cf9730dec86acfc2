using System.IO.Compression;
using IngestService.Events;
using IngestService.Events.Columns;
using IngestService.Storage.Runs;

namespace IngestService.Query;

/// <summary><c>GET /v1/sensors/{sensorId}/days/{day}[?tz=]</c>: one day in any of the four representations.</summary>
public static class DayRead
{
    private static readonly Format[] Offered = [Format.Ndjson, Format.Csv, Format.Json, Format.Parquet];

    public static async Task<IResult> GetAsync(
        string sensorId, string day, string? tz, HttpContext context, SensorDayReader reader, CancellationToken cancellationToken)
    {
        var request = context.Request;
        if (Check(sensorId, day, tz, request, out var date, out var zone, out var format) is { } problem)
        {
            return problem;
        }

        var response = context.Response;
        await ReadHeaders.AddCurrentAsOfAsync(context, cancellationToken);
        response.Headers[ReadHeaders.DayTimeZone] = zone?.Id ?? "UTC";
        response.Headers.Vary = "Accept, Accept-Encoding";
        if (zone is null && format == Format.Ndjson)
        {
            return await NdjsonAsync(context, reader, sensorId, date, day, cancellationToken);
        }

        var local = zone is null ? LocalDay.Utc(date) : LocalDay.In(zone, date);
        var lines = await DayLines.ReadAsync(reader, sensorId, date, local.UtcDays, local.Start.UtcTicks, local.End.UtcTicks, cancellationToken);
        if (lines is null || lines.Count == 0)
        {
            lines?.Dispose();
            return NoDay(sensorId, day, zone);
        }

        var etag = Negotiation.ETag(lines.ETags, format, gzip: false, zone?.Id);
        response.Headers.ETag = etag;
        if (Negotiation.Matches(request.Headers.IfNoneMatch, etag))
        {
            lines.Dispose();
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return Represent(lines, format, context.RequestAborted);
    }

    /// <summary>The sensor id, the day, the zone and a representation the client accepts, in that order.</summary>
    private static IResult? Check(string sensorId, string day, string? tz, HttpRequest request, out DateOnly date, out TimeZoneInfo? zone, out Format format)
    {
        zone = null;
        format = default;
        if (QueryApi.CheckSensor(sensorId) is { } badSensor)
        {
            date = default;
            return badSensor;
        }

        if (!SensorDayKey.TryParseDay(day, out date))
        {
            return QueryApi.BadRequest("Invalid day", $"'{QueryApi.Truncate(day)}' is not a day: use yyyy-MM-dd, such as 2026-11-21 (UTC, or the local day with ?tz=Area/City).");
        }

        if (!QueryApi.TryZone(tz, out zone, out var badZone))
        {
            return badZone!;
        }

        if (Negotiation.Choose(request.Headers.Accept, Offered) is not { } chosen)
        {
            return TypedResults.Problem(
                $"This resource is available as {Negotiation.Describe(Offered)}; Accept '{request.Headers.Accept}' allows none of them.",
                statusCode: StatusCodes.Status406NotAcceptable, title: "Not acceptable");
        }

        format = chosen;
        return null;
    }

    private static IResult Represent(DayLines lines, Format format, CancellationToken aborted) => format switch
    {
        Format.Csv => TypedResults.Stream(body => WriteAsync(lines, body, b => CsvWriter.WriteDayAsync(lines, b, aborted)), CsvWriter.ContentType),
        Format.Json => TypedResults.Stream(body => WriteAsync(lines, body, b => JsonArrayWriter.WriteAsync(lines, b, aborted)), JsonArrayWriter.ContentType),
        Format.Parquet => TypedResults.Stream(body => WriteAsync(lines, body, b => ParquetAsync(lines, b, aborted)), ParquetRows.ContentType),
        _ => TypedResults.Stream(body => WriteAsync(lines, body, b => b.WriteAsync(lines.Ndjson, aborted).AsTask()), Negotiation.Ndjson),
    };

    private static async Task WriteAsync(DayLines lines, Stream body, Func<Stream, Task> write)
    {
        using (lines)
        {
            await write(body);
        }
    }

    private static async Task ParquetAsync(DayLines lines, Stream body, CancellationToken cancellationToken)
    {
        var schema = new ParquetSchemaBuilder();
        foreach (var line in lines.Lines)
        {
            schema.Add(line.Span);
        }

        await using var rows = await ParquetRows.CreateAsync(body, schema.Columns, cancellationToken);
        await rows.WriteDayAsync(lines, cancellationToken);
    }

    /// <summary>
    /// A UTC day as NDJSON: a sealed day with no late runs is the stored object itself (one GET), passed through
    /// gzipped or inflated on the way; an open day is its sealed object merged with its runs, streamed as merged.
    /// </summary>
    private static async Task<IResult> NdjsonAsync(HttpContext context, SensorDayReader reader, string sensorId, DateOnly date, string day, CancellationToken cancellationToken)
    {
        var parts = await reader.PartsAsync(sensorId, date, cancellationToken);
        var stored = await reader.OpenSealedAsync(parts, cancellationToken);
        if (stored is null && parts.SealedOnly)
        {
            return NoDay(sensorId, day, null);
        }

        // An object that older merges appended to is several gzip members, which browsers cut off after the first: inflate it.
        var gzip = parts.SealedOnly && Negotiation.AcceptsGzip(context.Request.Headers.AcceptEncoding) && SensorDayKey.IsSingleGzipMember(stored!.Info.Metadata);
        var tags = stored is null ? parts.RunTags : parts.RunTags.Prepend(stored.Info.ETag);
        var etag = Negotiation.ETag(tags, Format.Ndjson, gzip, zone: null);
        var response = context.Response;
        response.Headers.ETag = etag;
        if (Negotiation.Matches(context.Request.Headers.IfNoneMatch, etag))
        {
            if (stored is not null)
            {
                await stored.DisposeAsync();
            }

            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        if (!parts.SealedOnly)
        {
            return TypedResults.Stream(async body =>
            {
                var aborted = context.RequestAborted;
                await foreach (var line in reader.ReadAsync(parts, stored, null, aborted))
                {
                    await body.WriteAsync(line.Bytes, aborted);
                }
            }, Negotiation.Ndjson);
        }

        if (gzip)
        {
            response.Headers.ContentEncoding = "gzip";
            response.ContentLength = stored!.Info.Size;
        }

        return TypedResults.Stream(async body =>
        {
            await using (stored)
            {
                if (gzip)
                {
                    await stored!.Content.CopyToAsync(body, context.RequestAborted);
                    return;
                }

                await using var plain = new GZipStream(stored!.Content, CompressionMode.Decompress);
                await plain.CopyToAsync(body, context.RequestAborted);
            }
        }, Negotiation.Ndjson);
    }

    private static IResult NoDay(string sensorId, string day, TimeZoneInfo? zone) =>
        TypedResults.Problem(
            $"Sensor '{sensorId}' has no stored events on {day} ({zone?.Id ?? "UTC"}). Events appear here after the regroup pass that follows their ingest (POST /v1/admin/flush runs one now); GET /v1/sensors/{sensorId}/days?from=…&to=… lists the days that have data.",
            statusCode: StatusCodes.Status404NotFound, title: "No events for this sensor-day");
}
