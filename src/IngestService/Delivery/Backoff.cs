namespace IngestService.Delivery;

/// <summary>
/// Exponential backoff with "equal jitter": attempt <c>n</c> waits between half and all of
/// <c>min(Max, Initial·2ⁿ)</c>. The random half spreads the retries of many nodes hit by the same
/// throttling; the fixed half keeps a retry from coming back at once.
/// </summary>
public sealed class Backoff(TimeSpan initial, TimeSpan max, Func<double>? random = null)
{
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;

    /// <summary>50 ms doubling to 1 s: several attempts fit in the default 10 s ack timeout.</summary>
    public static Backoff Default => new(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1));

    public TimeSpan Initial { get; } = initial;

    public TimeSpan Max { get; } = max;

    /// <summary>The wait before retry number <paramref name="attempt"/> (0 for the first retry).</summary>
    public TimeSpan Delay(int attempt)
    {
        var ceiling = Math.Min(Max.TotalMilliseconds, Initial.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds((ceiling / 2) + (_random() * ceiling / 2));
    }
}
