using IngestService.Delivery;

namespace IngestService.Tests.Delivery;

public sealed class BackoffTests
{
    [Fact]
    public void Delays_double_from_the_initial_delay_up_to_the_maximum()
    {
        var highest = new Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), () => 1.0);

        Assert.Equal([50, 100, 200, 400, 800, 1000, 1000], Enumerable.Range(0, 7).Select(a => highest.Delay(a).TotalMilliseconds));
    }

    [Fact]
    public void Jitter_keeps_each_delay_between_half_and_all_of_its_ceiling()
    {
        var lowest = new Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), () => 0.0);
        var random = new Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1));

        Assert.Equal([25, 50, 100, 200, 400, 500], Enumerable.Range(0, 6).Select(a => lowest.Delay(a).TotalMilliseconds));
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var ceiling = Math.Min(1000, 50 * Math.Pow(2, Math.Min(attempt, 30)));
            Assert.InRange(random.Delay(attempt).TotalMilliseconds, ceiling / 2, ceiling);
        }
    }

    [Fact]
    public void Many_retries_spread_out_instead_of_coming_back_together()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), new Random(1).NextDouble);

        var delays = Enumerable.Range(0, 100).Select(_ => backoff.Delay(3)).Distinct().Count();

        Assert.True(delays > 50);
    }

    [Fact]
    public void Very_high_attempt_numbers_stay_at_the_maximum()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), () => 1.0);

        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Delay(int.MaxValue));
    }
}
