using IngestService.Query;

namespace IngestService.Tests.Query;

public sealed class LocalDayTests
{
    private static readonly TimeZoneInfo Paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

    [Theory]
    [InlineData("2026-03-29", 23)]
    [InlineData("2026-10-25", 25)]
    [InlineData("2026-11-21", 24)]
    public void A_local_day_spans_23_24_or_25_hours_around_daylight_saving(string day, int hours)
    {
        var local = LocalDay.In(Paris, DateOnly.Parse(day, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(TimeSpan.FromHours(hours), local.End - local.Start);
    }

    [Fact]
    public void A_Paris_day_in_winter_starts_at_23_00_UTC_the_day_before_and_touches_two_UTC_days()
    {
        var local = LocalDay.In(Paris, new DateOnly(2026, 11, 21));

        Assert.Equal(new DateTimeOffset(2026, 11, 20, 23, 0, 0, TimeSpan.Zero), local.Start);
        Assert.Equal([new DateOnly(2026, 11, 20), new DateOnly(2026, 11, 21)], local.UtcDays);
    }

    [Fact]
    public void The_last_representable_day_ends_without_overflowing()
    {
        Assert.Equal([DateOnly.MaxValue], LocalDay.Utc(DateOnly.MaxValue).UtcDays);
        Assert.Equal([DateOnly.MaxValue], Days.Between(DateOnly.MaxValue, DateOnly.MaxValue));
    }
}
