using System.Diagnostics.CodeAnalysis;

namespace IngestService.Query;

/// <summary>
/// A site's calendar day in an IANA zone as the UTC instants it spans: 24 hours, or 23 and 25 on DST days.
/// A local day touches one or two UTC sensor-days, which are read and filtered.
/// </summary>
public sealed record LocalDay(DateOnly Day, DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>The UTC days whose sensor-day objects hold this local day's events.</summary>
    public IEnumerable<DateOnly> UtcDays => Days.Between(DateOnly.FromDateTime(Start.UtcDateTime), DateOnly.FromDateTime(End.UtcDateTime.AddTicks(-1)));

    public static LocalDay Utc(DateOnly day)
    {
        var start = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        return new LocalDay(day, start, day == DateOnly.MaxValue ? DateTimeOffset.MaxValue : start.AddDays(1));
    }

    public static LocalDay In(TimeZoneInfo zone, DateOnly day) =>
        new(day, StartOf(zone, day), day == DateOnly.MaxValue ? DateTimeOffset.MaxValue : StartOf(zone, day.AddDays(1)));

    /// <summary>The first instant of <paramref name="day"/> in <paramref name="zone"/>: midnight, or the end of a gap that swallows it.</summary>
    private static DateTimeOffset StartOf(TimeZoneInfo zone, DateOnly day)
    {
        var local = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        // A zone may skip midnight (DST at 00:00, as in some zones): the day starts when the clock lands.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(15);
        }

        // An ambiguous midnight (clocks set back across it) begins at its first occurrence, the larger offset.
        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }
}

/// <summary>Parses <c>?tz=</c>.</summary>
public static class Zones
{
    /// <summary>An IANA zone id such as Europe/Paris; <c>UTC</c> and an absent value mean UTC.</summary>
    public static bool TryFind(string? id, [NotNullWhen(true)] out TimeZoneInfo? zone)
    {
        zone = null;
        if (string.IsNullOrWhiteSpace(id) || id.Length > 64)
        {
            return false;
        }

        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(id);
            return true;
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return false;
        }
    }
}

public static class Days
{
    /// <summary>Every day from <paramref name="first"/> to <paramref name="last"/>, both included, without overflowing at 9999-12-31.</summary>
    public static IEnumerable<DateOnly> Between(DateOnly first, DateOnly last)
    {
        for (var n = first.DayNumber; n <= last.DayNumber; n++)
        {
            yield return DateOnly.FromDayNumber(n);
        }
    }
}
