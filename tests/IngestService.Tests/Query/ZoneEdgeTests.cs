using System.Globalization;
using System.Net;
using IngestService.Query;

namespace IngestService.Tests.Query;

/// <summary>
/// Every zone the machine knows on the first and last representable days and on seeded random days, and names
/// that are not zones but reach the zone lookup: an answer or a 400, never a 500. Set <c>ZONES_SEED</c> to replay.
/// </summary>
public sealed class ZoneEdgeTests(QueryApp factory) : IClassFixture<QueryApp>
{
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("ZONES_SEED"), CultureInfo.InvariantCulture, out var seed) ? seed : Environment.TickCount;

    private readonly HttpClient _client = factory.CreateClient();

    public static TheoryData<string> NotZones() =>
    [
        // tzdata folders, which the lookup opened as files
        "America", "Europe", "Etc", "US", "Asia/", "posix", "right",
        // paths and files that are not zones
        "../../etc/passwd", "/etc/localtime", "Etc/../Europe/Paris", "./UTC", "zone.tab", "tzdata.zi", "iso3166.tab", "leap-seconds.list",
        "Europe/Paris\0", "Europe//Paris", "\\Europe\\Paris", ".", "..", "%",
    ];

    public static TheoryData<string, string> EdgeDays() => new()
    {
        { "Asia/Tokyo", "0001-01-01" },
        { "Pacific/Kiritimati", "0001-01-01" },
        { "Etc/GMT-14", "0001-01-01" },
        { "America/Los_Angeles", "9999-12-31" },
        { "Etc/GMT+12", "9999-12-31" },
        { "Pacific/Pago_Pago", "9999-12-30" },
        { "Asia/Tokyo", "9999-12-31" },
        { "America/Los_Angeles", "0001-01-01" },
    };

    [Theory]
    [MemberData(nameof(NotZones))]
    public async Task A_name_that_is_not_a_zone_is_a_400_problem_on_day_reads_and_listings(string tz)
    {
        foreach (var path in new[] { "/v1/sensors/z1/days/2026-11-21", "/v1/sensors/z1/days?from=2026-11-20&to=2026-11-22" })
        {
            using var response = await _client.GetAsync($"{path}{(path.Contains('?', StringComparison.Ordinal) ? '&' : '?')}tz={Uri.EscapeDataString(tz)}");

            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path} tz={tz}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Theory]
    [MemberData(nameof(EdgeDays))]
    public async Task A_zone_on_the_first_or_last_representable_day_is_answered_on_day_reads_and_listings(string tz, string day)
    {
        foreach (var accept in new[] { "application/x-ndjson", "text/csv", "application/json", "application/vnd.apache.parquet" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sensors/z1/days/{day}?tz={Uri.EscapeDataString(tz)}");
            request.Headers.Accept.ParseAdd(accept);
            using var read = await _client.SendAsync(request);
            Assert.True(read.StatusCode == HttpStatusCode.NotFound, $"{tz} {day} {accept}: {(int)read.StatusCode} {await read.Content.ReadAsStringAsync()}");
        }

        using var list = await _client.GetAsync($"/v1/sensors/z1/days?from={day}&to={day}&tz={Uri.EscapeDataString(tz)}");
        Assert.True(list.StatusCode == HttpStatusCode.OK, $"{tz} {day} listing: {(int)list.StatusCode} {await list.Content.ReadAsStringAsync()}");
        Assert.Equal("[]", await list.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Every_name_under_the_tzdata_folder_and_seeded_random_names_are_answered_or_refused_never_a_500()
    {
        var random = new Random(Seed);
        const string alphabet = "abcXYZ019_+-./\\:~% ";
        var names = Directory.Exists("/usr/share/zoneinfo")
            ? Directory.EnumerateFileSystemEntries("/usr/share/zoneinfo", "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath("/usr/share/zoneinfo", p)).ToList()
            : [];
        names.AddRange(Enumerable.Range(0, 300).Select(_ => new string([.. Enumerable.Range(0, random.Next(1, 30)).Select(_ => alphabet[random.Next(alphabet.Length)])])));
        foreach (var name in names)
        {
            foreach (var path in new[] { "/v1/sensors/z1/days/2026-11-21?tz=", "/v1/sensors/z1/days?from=2026-11-20&to=2026-11-22&tz=" })
            {
                using var response = await _client.GetAsync(path + Uri.EscapeDataString(name));

                Assert.True((int)response.StatusCode < 500, $"seed {Seed}: {path}{name} answered {(int)response.StatusCode}");
            }
        }
    }

    [Fact]
    public void Every_zone_on_edge_and_random_days_spans_a_nonempty_representable_interval_whose_UTC_days_cover_it()
    {
        var random = new Random(Seed);
        var days = new List<DateOnly> { DateOnly.MinValue, DateOnly.MinValue.AddDays(1), DateOnly.MaxValue.AddDays(-1), DateOnly.MaxValue };
        days.AddRange(Enumerable.Range(0, 40).Select(_ => DateOnly.FromDayNumber(random.Next(DateOnly.MinValue.DayNumber, DateOnly.MaxValue.DayNumber + 1))));
        foreach (var zone in TimeZoneInfo.GetSystemTimeZones())
        {
            foreach (var day in days)
            {
                var where = $"seed {Seed}: {zone.Id} {day:yyyy-MM-dd}";
                var local = LocalDay.In(zone, day);
                var utcDays = local.UtcDays.ToList();

                Assert.True(local.Start < local.End, $"{where}: {local.Start:O} .. {local.End:O}");
                Assert.True(local.End - local.Start <= TimeSpan.FromHours(50), $"{where}: {local.End - local.Start}");
                Assert.True(utcDays.Count is 1 or 2 or 3, $"{where}: {utcDays.Count} UTC days");
                Assert.Equal(DateOnly.FromDateTime(local.Start.UtcDateTime), utcDays[0]);
                Assert.Equal(TimeSpan.Zero, local.Start.Offset);
            }
        }
    }

    [Fact]
    public void A_day_east_of_UTC_at_the_start_of_time_begins_at_the_first_representable_instant()
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo");
        var tokyo = LocalDay.In(zone, DateOnly.MinValue);

        Assert.Equal(DateTimeOffset.MinValue, tokyo.Start);
        // Local mean time then: +09:18:59, so the next day begins at 14:41:01 UTC.
        Assert.Equal(new DateTimeOffset(1, 1, 2, 0, 0, 0, zone.GetUtcOffset(DateTime.MinValue)).ToUniversalTime(), tokyo.End);
        Assert.Equal([DateOnly.MinValue], tokyo.UtcDays);
    }

    [Fact]
    public void A_day_west_of_UTC_at_the_end_of_time_ends_at_the_last_representable_instant()
    {
        var losAngeles = LocalDay.In(TimeZoneInfo.FindSystemTimeZoneById("America/Los_Angeles"), DateOnly.MaxValue);

        Assert.Equal(DateTimeOffset.MaxValue, losAngeles.End);
        Assert.Equal([DateOnly.MaxValue], losAngeles.UtcDays);
    }
}
