namespace IngestService.LoadGen.Tests;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void An_empty_histogram_reports_zero()
    {
        var histogram = new LatencyHistogram();

        Assert.Equal(0, histogram.ValueAtPercentile(50));
        Assert.Equal(0, histogram.ValueAtPercentile(99.9));
    }

    [Fact]
    public void Small_values_are_counted_exactly()
    {
        var histogram = new LatencyHistogram();
        foreach (var value in new long[] { 5, 7, 7, 200, 255 })
        {
            histogram.RecordMicroseconds(value);
        }

        Assert.Equal(5, histogram.ValueAtPercentile(0));
        Assert.Equal(7, histogram.ValueAtPercentile(40));
        Assert.Equal(7, histogram.ValueAtPercentile(60));
        Assert.Equal(200, histogram.ValueAtPercentile(80));
        Assert.Equal(255, histogram.ValueAtPercentile(100));
    }

    [Fact]
    public void Percentiles_of_a_uniform_spread_are_within_one_percent()
    {
        var histogram = new LatencyHistogram();
        for (long us = 1; us <= 100_000; us++)
        {
            histogram.RecordMicroseconds(us);
        }

        AssertClose(50_000, histogram.ValueAtPercentile(50));
        AssertClose(99_000, histogram.ValueAtPercentile(99));
        AssertClose(99_900, histogram.ValueAtPercentile(99.9));
        Assert.Equal(100_000, histogram.ValueAtPercentile(100));
        Assert.Equal(50.0, histogram.PercentileMilliseconds(50), 0.5);
    }

    [Fact]
    public void A_rare_slow_request_shows_in_p999_but_not_in_p99()
    {
        var histogram = new LatencyHistogram();
        for (var i = 0; i < 998; i++)
        {
            histogram.RecordMicroseconds(1_000);
        }

        histogram.RecordMicroseconds(2_000_000);
        histogram.RecordMicroseconds(2_000_000);

        AssertClose(1_000, histogram.ValueAtPercentile(99));
        AssertClose(2_000_000, histogram.ValueAtPercentile(99.9));
    }

    [Fact]
    public void Every_value_falls_in_a_bucket_whose_top_is_within_a_128th_of_it()
    {
        var random = new Random(7);
        for (var i = 0; i < 100_000; i++)
        {
            var value = (long)Math.Pow(2, random.NextDouble() * 37);
            var index = LatencyHistogram.IndexOf(value);
            var top = LatencyHistogram.HighestEquivalent(index);

            Assert.InRange(top, value, value + (value / 128));
            Assert.True(index == 0 || LatencyHistogram.HighestEquivalent(index - 1) < value, $"{value} belongs to a lower bucket than {index}");
        }
    }

    [Fact]
    public void Values_beyond_the_range_are_clamped_not_lost()
    {
        var histogram = new LatencyHistogram();
        histogram.RecordMicroseconds(long.MaxValue);
        histogram.RecordMicroseconds(-5);

        Assert.Equal(2, histogram.Count);
        Assert.Equal(0, histogram.ValueAtPercentile(50));
        Assert.Equal(LatencyHistogram.MaxTrackable, histogram.ValueAtPercentile(100));
    }

    [Fact]
    public async Task Concurrent_recordings_are_all_counted()
    {
        var histogram = new LatencyHistogram();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                histogram.RecordMicroseconds(1000 + t);
            }
        })));

        Assert.Equal(80_000, histogram.Count);
        Assert.Equal(1007, histogram.MaxMicroseconds);
    }

    private static void AssertClose(long expected, long actual) =>
        Assert.InRange(actual, expected, expected + (expected / 100));
}
