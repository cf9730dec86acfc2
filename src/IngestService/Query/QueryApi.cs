using System.Text.Json;
using System.Text.Json.Serialization;
using IngestService.Auth;
using IngestService.Events;
using IngestService.Storage.Runs;

namespace IngestService.Query;

/// <summary>
/// The analyst's read surface: the sensors with data, one sensor-day (in UTC or a site's zone), a time range
/// across days, and which days hold data. Negotiation lives in <see cref="Negotiation"/>, each representation in
/// its own writer.
/// </summary>
public static class QueryApi
{
    public static IServiceCollection AddQuery(this IServiceCollection services)
    {
        services.AddRunStore();
        services.AddOptions<QueryOptions>().BindConfiguration(QueryOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, QueryJsonContext.Default));
        return services;
    }

    public static RouteGroupBuilder MapQuery(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/v1/sensors", SensorList.GetAsync)
            .WithTags("Query").RequireScope(routes, Scopes.Read)
            .WithName("ListSensors")
            .WithSummary("The sensors that have stored data, in id order, paged with ?prefix=, ?limit= and ?after=")
            .Produces<SensorPage>()
            .ProducesProblem(StatusCodes.Status400BadRequest);
        var group = routes.MapGroup("/v1/sensors/{sensorId}").WithTags("Query").RequireScope(routes, Scopes.Read);
        group.MapGet("/days/{day}", DayRead.GetAsync)
            .WithName("GetSensorDay")
            .WithSummary("One sensor-day (UTC, or the local day with ?tz=Area/City) as NDJSON (default), CSV, a JSON array or Parquet")
            .Produces(StatusCodes.Status200OK, contentType: Negotiation.Ndjson, additionalContentTypes: [Negotiation.Csv, Negotiation.Json, Negotiation.Parquet])
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status406NotAcceptable);
        group.MapGet("/events", RangeRead.GetAsync)
            .WithName("GetSensorEvents")
            .WithSummary("Every stored event with from <= ts < to in stored order, as NDJSON (default), CSV, or Parquet with one row group per day")
            .Produces(StatusCodes.Status200OK, contentType: Negotiation.Ndjson, additionalContentTypes: [Negotiation.Csv, Negotiation.Parquet])
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("/days", DayList.GetAsync)
            .WithName("ListSensorDays")
            .WithSummary("The days from..to (inclusive; UTC, or local with ?tz=) that hold events, with their counts and sizes")
            .Produces<DayInfo[]>()
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return group;
    }

    internal static IResult? CheckSensor(string sensorId) =>
        SensorId.IsValid(sensorId) ? null : BadRequest("Invalid sensorId", $"'{Truncate(sensorId)}' is not a valid sensorId: {SensorId.Rule}.");

    /// <summary>Null zone for UTC (no <c>?tz=</c>, or <c>UTC</c>); a problem for an unknown zone.</summary>
    internal static bool TryZone(string? tz, out TimeZoneInfo? zone, out IResult? problem)
    {
        zone = null;
        problem = null;
        if (tz is null or "" or "UTC" or "Etc/UTC")
        {
            return true;
        }

        if (Zones.TryFind(tz, out zone))
        {
            return true;
        }

        problem = BadRequest("Unknown time zone", $"'{Truncate(tz)}' is not a known IANA time zone: use an Area/City name such as Europe/Paris or America/New_York, or leave tz out for UTC days.");
        return false;
    }

    internal static IResult BadRequest(string title, string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: title);

    internal static string Truncate(string value) => value.Length <= 140 ? value : value[..140] + "…";
}

/// <summary>A day that holds data: its event count, its NDJSON size, and its stored (gzip) size.</summary>
public sealed record DayInfo(string Day, long Events, long Bytes, long StoredBytes);

/// <summary>A page of sensors; <c>next</c> is the <c>?after=</c> of the following page, null on the last.</summary>
public sealed record SensorPage(string[] Sensors, string? Next);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(DayInfo[]))]
[JsonSerializable(typeof(SensorPage))]
internal sealed partial class QueryJsonContext : JsonSerializerContext;
