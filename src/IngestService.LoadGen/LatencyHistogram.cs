using System.Numerics;

namespace IngestService.LoadGen;

/// <summary>
/// A log-linear histogram of microsecond latencies in the manner of HdrHistogram: values below 256 µs
/// are counted exactly, above that each power of two is split into 128 equal buckets, so any value is
/// reported within 1/128 (0.8 %) of itself. Recording is one interlocked increment into a fixed array:
/// many sensors record concurrently without locks and without allocating.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBucketHalf = 1 << SubBucketBits;

    /// <summary>About 38 hours in microseconds: anything longer is clamped here.</summary>
    public const long MaxTrackable = (1L << 37) - 1;

    private readonly long[] _counts = new long[IndexOf(MaxTrackable) + 1];
    private long _total;
    private long _max;

    public long Count => Volatile.Read(ref _total);

    public long MaxMicroseconds => Volatile.Read(ref _max);

    public void RecordMicroseconds(long value)
    {
        value = Math.Clamp(value, 0, MaxTrackable);
        Interlocked.Increment(ref _counts[IndexOf(value)]);
        Interlocked.Increment(ref _total);
        var seen = Volatile.Read(ref _max);
        while (value > seen)
        {
            var previous = Interlocked.CompareExchange(ref _max, value, seen);
            if (previous == seen)
            {
                break;
            }

            seen = previous;
        }
    }

    /// <summary>
    /// The value at or below which <paramref name="percentile"/> per cent of recordings fall, reported as the
    /// highest value its bucket stands for (never understating a latency); 0 when nothing was recorded.
    /// </summary>
    public long ValueAtPercentile(double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var total = Count;
        if (total == 0)
        {
            return 0;
        }

        var target = Math.Max(1, (long)Math.Ceiling(percentile / 100 * total));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= target)
            {
                return Math.Min(HighestEquivalent(i), MaxMicroseconds);
            }
        }

        return MaxMicroseconds;
    }

    public double PercentileMilliseconds(double percentile) => Math.Round(ValueAtPercentile(percentile) / 1000.0, 3);

    internal static int IndexOf(long value)
    {
        // Bucket b holds values whose top bit is bit b + 7 (b ≥ 1); shifting by b keeps 8 significant bits.
        var bucket = Math.Max(0, 63 - BitOperations.LeadingZeroCount((ulong)value) - SubBucketBits);
        return (bucket * SubBucketHalf) + (int)(value >> bucket);
    }

    internal static long HighestEquivalent(int index)
    {
        var bucket = Math.Max(0, (index / SubBucketHalf) - 1);
        var sub = index - (bucket * SubBucketHalf);
        return ((long)(sub + 1) << bucket) - 1;
    }
}
