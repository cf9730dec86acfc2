using System.Diagnostics.CodeAnalysis;
using System.Security;
using System.Text.RegularExpressions;

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

    /// <summary>
    /// The first instant of <paramref name="day"/> in <paramref name="zone"/>: midnight, or the end of a gap that
    /// swallows it. East of UTC, 0001-01-01 begins before the first representable instant, which is where it is
    /// taken to begin: no stored event can be earlier.
    /// </summary>
    private static DateTimeOffset StartOf(TimeZoneInfo zone, DateOnly day)
    {
        var local = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        // A zone may skip midnight (DST at 00:00, as in some zones): the day starts when the clock lands.
        while (zone.IsInvalidTime(local) && local.TimeOfDay < TimeSpan.FromHours(23))
        {
            local = local.AddMinutes(15);
        }

        // An ambiguous midnight (clocks set back across it) begins at its first occurrence, the larger offset.
        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        var utcTicks = Math.Clamp(local.Ticks - offset.Ticks, DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks);
        return new DateTimeOffset(utcTicks, TimeSpan.Zero);
    }
}

/// <summary>Parses <c>?tz=</c>.</summary>
public static partial class Zones
{
    /// <summary>
    /// An IANA zone id such as Europe/Paris. Only names shaped like IANA ids reach the lookup, which on Linux opens
    /// the file of that name under the tzdata folder: a path (<c>../x</c>, <c>/etc/x</c>, <c>a//b</c>) is refused
    /// before it touches the disk, and a tzdata folder (<c>America</c>, <c>Etc</c>) or non-zone file
    /// (<c>zone.tab</c>) that the lookup cannot read is not a zone either.
    /// </summary>
    public static bool TryFind(string? id, [NotNullWhen(true)] out TimeZoneInfo? zone)
    {
        zone = null;
        if (id is null || id.Length > 64 || !IanaShape().IsMatch(id))
        {
            return false;
        }

        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(id);
            return true;
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException or SecurityException or UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    /// <summary>Letters, digits, <c>_ + -</c>, in parts separated by single slashes (Etc/GMT+12, America/Argentina/Salta).</summary>
    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex IanaShape();
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
