using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Query;

/// <summary>The service with the query tests' settings, as a type: what an xUnit class fixture needs.</summary>
public sealed class QueryApp() : IngestAppFactory(Settings)
{
    /// <summary>Ranges of a month at most, and events dated November 2026 whatever the clock of the machine that runs them.</summary>
    public static Dictionary<string, string?> Settings => new()
    {
        ["Query:MaxRangeDays"] = "31",
        ["Ingest:MaxFutureSkew"] = "365.00:00:00",
    };
}
