using System.Text;

namespace IngestService.LoadGen.Tests;

public sealed class DayCheckTests
{
    private static readonly long T0 = DateTimeOffset.Parse("2026-11-21T10:00:00Z").ToUnixTimeMilliseconds();

    private static readonly Dictionary<long, long> ThreeEvents = new() { [0] = T0, [1] = T0 + 10, [2] = T0 + 20 };

    [Fact]
    public void A_complete_ordered_day_has_no_faults()
    {
        var day = Lines(("s1", 0, T0), ("s1", 1, T0 + 10), ("s1", 2, T0 + 20));

        Assert.Equal(new VerifyCounts(0, 0, 0), DayCheck.Check(day, "s1", ThreeEvents));
    }

    [Fact]
    public void An_acknowledged_event_without_a_line_is_missing()
    {
        var day = Lines(("s1", 0, T0), ("s1", 2, T0 + 20));

        Assert.Equal(new VerifyCounts(1, 0, 0), DayCheck.Check(day, "s1", ThreeEvents));
    }

    [Fact]
    public void Each_extra_copy_of_a_seq_is_a_duplicate()
    {
        var day = Lines(("s1", 0, T0), ("s1", 1, T0 + 10), ("s1", 1, T0 + 10), ("s1", 1, T0 + 10), ("s1", 2, T0 + 20));

        Assert.Equal(new VerifyCounts(0, 2, 0), DayCheck.Check(day, "s1", ThreeEvents));
    }

    [Fact]
    public void A_line_sorting_before_the_one_above_is_out_of_order()
    {
        var day = Lines(("s1", 1, T0 + 10), ("s1", 0, T0), ("s1", 2, T0 + 20));

        Assert.Equal(new VerifyCounts(0, 0, 1), DayCheck.Check(day, "s1", ThreeEvents));
    }

    [Fact]
    public void Equal_timestamps_are_ordered_by_seq()
    {
        var sameTs = new Dictionary<long, long> { [0] = T0, [1] = T0 };

        Assert.Equal(new VerifyCounts(0, 0, 0), DayCheck.Check(Lines(("s1", 0, T0), ("s1", 1, T0)), "s1", sameTs));
        Assert.Equal(new VerifyCounts(0, 0, 1), DayCheck.Check(Lines(("s1", 1, T0), ("s1", 0, T0)), "s1", sameTs));
    }

    [Fact]
    public void A_stored_but_unacknowledged_event_is_no_fault()
    {
        var day = Lines(("s1", 0, T0), ("s1", 1, T0 + 10), ("s1", 2, T0 + 20), ("s1", 3, T0 + 30));

        Assert.Equal(new VerifyCounts(0, 0, 0), DayCheck.Check(day, "s1", ThreeEvents));
    }

    [Fact]
    public void Timestamps_are_compared_as_instants_not_text()
    {
        // 10:00:00.5+01:00 is 09:00:00.5Z, before the line above it despite sorting after it as text.
        var text = """
            {"sensorId":"s1","seq":0,"ts":"2026-11-21T09:30:00.000Z","receivedAt":"2026-11-21T10:00:00.000Z","event":{"seq":0}}
            {"sensorId":"s1","seq":1,"ts":"2026-11-21T10:00:00.5+01:00","receivedAt":"2026-11-21T10:00:00.000Z","event":{"seq":1,"nested":{"ts":"x"}}}
            """;

        Assert.Equal(1, DayCheck.Check(Encoding.UTF8.GetBytes(text), "s1", new Dictionary<long, long>()).OutOfOrder);
    }

    [Fact]
    public void A_line_that_is_not_a_stored_event_is_reported_by_number()
    {
        var day = Encoding.UTF8.GetBytes("{\"sensorId\":\"s1\",\"seq\":0,\"ts\":\"2026-11-21T10:00:00Z\"}\nnot json\n");

        var error = Assert.Throws<InvalidDataException>(() => DayCheck.Check(day, "s1", ThreeEvents));
        Assert.Contains("line 2", error.Message);
    }

    [Fact]
    public void A_line_of_another_sensor_is_refused()
    {
        var error = Assert.Throws<InvalidDataException>(() => DayCheck.Check(Lines(("s2", 0, T0)), "s1", ThreeEvents));
        Assert.Contains("s2", error.Message);
    }

    internal static byte[] Lines(params (string Sensor, long Seq, long TsMs)[] events)
    {
        var text = new StringBuilder();
        foreach (var (sensor, seq, ts) in events)
        {
            var iso = DateTimeOffset.FromUnixTimeMilliseconds(ts).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
            text.Append($$$"""{"sensorId":"{{{sensor}}}","seq":{{{seq}}},"ts":"{{{iso}}}","receivedAt":"{{{iso}}}","event":{"ts":"{{{iso}}}","seq":{{{seq}}}}}""").Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
