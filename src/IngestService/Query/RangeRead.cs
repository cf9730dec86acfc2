using System.Text;
using IngestService.Events;
using IngestService.Events.Columns;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

namespace IngestService.Query;

/// <summary><c>GET /v1/sensors/{sensorId}/events?from&amp;to</c>: NDJSON, CSV, or Parquet with one row group per day.</summary>
public static class RangeRead
{
    private static readonly Format[] Offered = [Format.Ndjson, Format.Csv, Format.Parquet];

    /// <summary>Both instants given, <c>from</c> before <c>to</c>, at most <c>Query:MaxRangeDays</c> apart.</summary>
    private static IResult? CheckRange(string? from, string? to, int maxDays, out DateTimeOffset start, out DateTimeOffset end)
    {
        end = default;
        if (!TryInstant(from, out start) || !TryInstant(to, out end))
        {
            return QueryApi.BadRequest("Invalid range", "from and to are both required RFC 3339 instants with a zone, such as ?from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z; events with from <= ts < to are returned.");
        }

        if (end <= start)
        {
            return QueryApi.BadRequest("Invalid range", $"to ({to}) must be after from ({from}): the range is from <= ts < to.");
        }

        return end - start > TimeSpan.FromDays(maxDays)
            ? QueryApi.BadRequest("Range too long", $"The range spans {(end - start).TotalDays:0.###} days; at most {maxDays} days (Query:MaxRangeDays) can be read at once: split it into several requests.")
            : null;
    }

    public static async Task<IResult> GetAsync(
        string sensorId, string? from, string? to, HttpContext context, SensorDayReader reader, IOptions<QueryOptions> options, CancellationToken cancellationToken)
    {
        if (QueryApi.CheckSensor(sensorId) is { } badSensor)
        {
            return badSensor;
        }

        var limits = options.Value;
        if (CheckRange(from, to, limits.MaxRangeDays, out var start, out var end) is { } badRange)
        {
            return badRange;
        }

        // Anything else gets NDJSON, as before CSV and Parquet were offered.
        var format = Negotiation.Choose(context.Request.Headers.Accept, Offered) ?? Format.Ndjson;
        await ReadHeaders.AddCurrentAsOfAsync(context, cancellationToken);
        context.Response.Headers.Vary = "Accept";
        var days = Days.Between(DateOnly.FromDateTime(start.UtcDateTime), DateOnly.FromDateTime(end.UtcDateTime.AddTicks(-1)));
        IAsyncEnumerable<DayLines> Read(CancellationToken ct) => ReadAhead.ReadAsync(
            days, (day, c) => DayLines.ReadAsync(reader, sensorId, day, [day], start.UtcTicks, end.UtcTicks, c), limits.MaxParallelDays, ct);

        switch (format)
        {
            case Format.Parquet:
                return TypedResults.Stream(body => ParquetAsync(Read, body, context.RequestAborted), ParquetRows.ContentType);
            case Format.Csv:
                return TypedResults.Stream(body => CsvAsync(Read, body, context.RequestAborted), CsvWriter.ContentType);
        }

        return TypedResults.Stream(async body =>
        {
            await foreach (var lines in Read(context.RequestAborted))
            {
                using (lines)
                {
                    await body.WriteAsync(lines.Ndjson, context.RequestAborted);
                    await body.FlushAsync(context.RequestAborted);
                }
            }
        }, Negotiation.Ndjson);
    }

    /// <summary>
    /// A Parquet file has one schema, written before the first row group: a first read of the range infers it,
    /// a second writes each day as it arrives, so at most the read-ahead days are held.
    /// </summary>
    private static async Task ParquetAsync(Func<CancellationToken, IAsyncEnumerable<DayLines>> read, Stream body, CancellationToken cancellationToken)
    {
        var schema = new ParquetSchemaBuilder();
        await foreach (var lines in read(cancellationToken))
        {
            using (lines)
            {
                foreach (var line in lines.Lines)
                {
                    schema.Add(line.Span);
                }
            }
        }

        await using var rows = await ParquetRows.CreateAsync(body, schema.Columns, cancellationToken);
        await foreach (var lines in read(cancellationToken))
        {
            using (lines)
            {
                if (lines.Count > 0)
                {
                    await rows.WriteDayAsync(lines, cancellationToken);
                }
            }
        }
    }

    /// <summary>CSV has one header: a first read of the range finds the columns, a second writes the rows.</summary>
    private static async Task CsvAsync(Func<CancellationToken, IAsyncEnumerable<DayLines>> read, Stream body, CancellationToken cancellationToken)
    {
        await using var csv = new CsvWriter(body);
        await foreach (var lines in read(cancellationToken))
        {
            using (lines)
            {
                csv.Collect(lines);
            }
        }

        csv.WriteHeader();
        await foreach (var lines in read(cancellationToken))
        {
            using (lines)
            {
                await csv.WriteRowsAsync(lines, cancellationToken);
            }
        }
    }

    private static bool TryInstant(string? text, out DateTimeOffset value)
    {
        value = default;
        return text is not null && text.Length < 64 && Timestamp.TryParse(Encoding.UTF8.GetBytes(text), out value, out _);
    }
}
