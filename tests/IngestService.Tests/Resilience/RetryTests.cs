using IngestService.Resilience;

namespace IngestService.Tests.Resilience;

/// <summary>
/// The one retry mechanism. Delays are asserted as the pipeline reports them before each wait; the waits are
/// milliseconds of real time, so no clock has to be stepped from outside.
/// </summary>
public sealed class RetryTests
{
    [Fact]
    public async Task Without_jitter_waits_double_from_the_initial_delay_up_to_the_maximum()
    {
        List<double> waits = [];
        var pipeline = Retry.While<int>(left => left > 0, new RetryDelays(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(8), Jitter: false),
            TimeProvider.System, onRetry: (_, _, wait) => waits.Add(wait.TotalMilliseconds));
        var left = 6;

        var result = await pipeline.ExecuteAsync(_ => ValueTask.FromResult(--left), CancellationToken.None);

        Assert.Equal(0, result);
        Assert.Equal([1, 2, 4, 8, 8], waits);
    }

    [Fact]
    public async Task Jitter_spreads_the_waits_of_many_callers_and_keeps_them_within_the_maximum()
    {
        var max = TimeSpan.FromMilliseconds(4);
        List<TimeSpan> firstWaits = [];
        for (var caller = 0; caller < 40; caller++)
        {
            var pipeline = Retry.While<bool>(again => again, new RetryDelays(TimeSpan.FromMilliseconds(1), max), TimeProvider.System,
                maxAttempts: 2, onRetry: (_, _, wait) => firstWaits.Add(wait));
            await pipeline.ExecuteAsync(_ => ValueTask.FromResult(true), CancellationToken.None);
        }

        Assert.Equal(40, firstWaits.Count);
        Assert.All(firstWaits, w => Assert.InRange(w, TimeSpan.Zero, max));
        Assert.True(firstWaits.Distinct().Count() > 10, $"only {firstWaits.Distinct().Count()} distinct waits among 40 callers");
    }

    [Fact]
    public async Task The_last_result_is_answered_when_the_attempts_are_spent()
    {
        var attempts = 0;
        var pipeline = Retry.While<int>(r => r > 0, RetryDelays.None, TimeProvider.System, maxAttempts: 3);

        var result = await pipeline.ExecuteAsync(_ => ValueTask.FromResult(++attempts), CancellationToken.None);

        Assert.Equal(3, attempts);
        Assert.Equal(3, result);
    }

    [Fact]
    public async Task An_attempt_that_throws_is_not_tried_again()
    {
        var attempts = 0;
        var pipeline = Retry.While<int>(_ => true, RetryDelays.None, TimeProvider.System);

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await pipeline.ExecuteAsync(_ => { attempts++; throw new InvalidOperationException("fatal"); }, CancellationToken.None));

        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task Cancellation_ends_the_retries()
    {
        using var cancel = new CancellationTokenSource();
        var attempts = 0;
        var pipeline = Retry.While<int>(_ => true, RetryDelays.None, TimeProvider.System);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pipeline.ExecuteAsync(_ =>
        {
            if (++attempts == 5)
            {
                cancel.Cancel();
            }

            return ValueTask.FromResult(attempts);
        }, cancel.Token));

        Assert.Equal(5, attempts);
    }

    [Fact]
    public async Task A_cancellation_during_an_attempt_that_asks_to_go_again_is_a_cancellation_not_that_attempts_result()
    {
        using var cancel = new CancellationTokenSource();
        var loop = Retry.While<int>(pending => pending > 0, RetryDelays.Sinks, TimeProvider.System);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await loop.ExecuteAsync(_ =>
        {
            cancel.Cancel();
            return ValueTask.FromResult(1);
        }, cancel.Token));
    }

    [Fact]
    public void Fewer_than_two_attempts_is_not_a_retry()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Retry.While<int>(_ => true, RetryDelays.None, TimeProvider.System, maxAttempts: 1));
    }
}
