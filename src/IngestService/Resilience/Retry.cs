using Polly;
using Polly.Retry;

namespace IngestService.Resilience;

/// <summary>
/// How long to wait between attempts: exponential from <see cref="Initial"/> up to <see cref="Max"/>, with
/// Polly's decorrelated jitter when <see cref="Jitter"/> (the random spread keeps many nodes that hit the same
/// throttling from coming back together), or exactly doubling without it.
/// </summary>
public sealed record RetryDelays(TimeSpan Initial, TimeSpan Max, bool Jitter = true)
{
    /// <summary>50 ms up to 1 s: several attempts fit in the default 10 s ack timeout.</summary>
    public static RetryDelays Sinks { get; } = new(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1));

    /// <summary>No wait at all, for tests that count attempts rather than time.</summary>
    public static RetryDelays None { get; } = new(TimeSpan.Zero, TimeSpan.Zero, Jitter: false);
}

/// <summary>
/// The service's one retry mechanism, over Polly.Core pipelines: every loop that tries again (a sink's failed
/// records, a conditional write that lost a race, a lock held elsewhere, a stream still being created) is an
/// attempt that answers a result, and the pipeline decides from it whether to wait and try again.
/// </summary>
public static class Retry
{
    /// <summary>
    /// Runs attempts until <paramref name="again"/> is false for an attempt's result, <paramref name="maxAttempts"/>
    /// (at least 2) are spent (the last result is answered), or cancellation. An attempt's exception is not retried.
    /// <paramref name="onRetry"/> hears the result that is retried, the number of the next attempt and the wait.
    /// </summary>
    public static RetryLoop<TResult> While<TResult>(
        Func<TResult, bool> again, RetryDelays delays, TimeProvider time, int maxAttempts = int.MaxValue, Action<TResult, int, TimeSpan>? onRetry = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 2);
        var options = new RetryStrategyOptions<TResult>
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is null && again(args.Outcome.Result!)),
            MaxRetryAttempts = maxAttempts == int.MaxValue ? int.MaxValue : maxAttempts - 1,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = delays.Jitter,
            Delay = delays.Initial,
            MaxDelay = delays.Max,
        };
        if (onRetry is not null)
        {
            options.OnRetry = args =>
            {
                onRetry(args.Outcome.Result!, args.AttemptNumber + 1, args.RetryDelay);
                return ValueTask.CompletedTask;
            };
        }

        return new RetryLoop<TResult>(new ResiliencePipelineBuilder<TResult> { TimeProvider = time }.AddRetry(options).Build(), again);
    }
}

/// <summary>A retry pipeline whose callers see a cancellation, never an unfinished result, once their token fired.</summary>
public sealed class RetryLoop<TResult>(ResiliencePipeline<TResult> pipeline, Func<TResult, bool> again)
{
    public ValueTask<TResult> ExecuteAsync(Func<CancellationToken, ValueTask<TResult>> attempt, CancellationToken cancellationToken) =>
        ExecuteAsync(static (attempt, ct) => attempt(ct), attempt, cancellationToken);

    public async ValueTask<TResult> ExecuteAsync<TState>(Func<TState, CancellationToken, ValueTask<TResult>> attempt, TState state, CancellationToken cancellationToken)
    {
        var result = await pipeline.ExecuteAsync(attempt, state, cancellationToken);

        // A result that asks to go again is never answered as if it were the end: a lock not taken, or records not
        // accepted, must not look like success to a caller whose token fired during that last attempt.
        if (again(result))
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        return result;
    }
}
