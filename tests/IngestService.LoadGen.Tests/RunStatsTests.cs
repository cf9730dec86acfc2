namespace IngestService.LoadGen.Tests;

public sealed class RunStatsTests
{
    [Fact]
    public void During_warmup_answers_are_counted_but_their_latency_is_not_recorded()
    {
        var stats = new RunStats();
        stats.WarmUpUntilMeasuring();
        stats.Starting(1);
        stats.Answered(200, sentAt: 100, microseconds: 9_000_000);
        stats.Acknowledged(1);

        stats.BeginMeasuring(timestamp: 200);
        stats.Starting(1);
        stats.Answered(503, sentAt: 150, microseconds: 8_000_000);
        stats.Starting(1);
        stats.Answered(200, sentAt: 250, microseconds: 1_000);
        stats.Acknowledged(1);

        Assert.Equal(1, stats.Latency.Count);
        Assert.Equal(1_000, stats.Latency.ValueAtPercentile(100));
        Assert.Equal((200L, 1L), stats.Measurement);
        Assert.Equal([new(200, 2), new(503, 1)], stats.Statuses());
        Assert.Equal(1, stats.Errors);
        Assert.Equal(0, stats.InFlight);
    }
}
