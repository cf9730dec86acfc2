using System.Globalization;
using System.Text.RegularExpressions;
using IngestService.Storage;
using IngestService.Storage.Runs;

namespace IngestService.Regroup;

/// <summary>
/// Which raw batches a pass takes, and how far the manifest's floor and watermark may move after it.
/// </summary>
/// <remarks>
/// A pass lists the raw keys after <see cref="Manifest.RawFloor"/>; the floor passes a consumed key only once its
/// name time (Firehose's and the local sink's <c>-yyyy-MM-dd-HH-mm-ss-</c>; else its hour folder's end) is
/// <c>DeliveryLag</c> plus a minute behind the listing, so a batch delivered within <c>DeliveryLag</c> always
/// lands after the floor, and a listing holds minutes of keys, not the day behind. Firehose's own S3 retry (up to
/// 24 h, into the folder of the hour its records arrived) lands batches behind the floor: with
/// <c>Regroup:LateWindow</c> above zero every pass also lists that window behind the floor and takes the batches
/// that landed since the last pass later than their name says a normal delivery would.
/// </remarks>
public sealed partial class RawIntake
{
    private static readonly TimeSpan SettleMargin = TimeSpan.FromMinutes(1);

    private RawIntake(DateTimeOffset listedAt, List<ObjectInfo> listed, List<ObjectInfo> pending, List<ObjectInfo> late, bool complete, bool swept)
    {
        ListedAt = listedAt;
        Listed = listed;
        Pending = pending;
        Late = late;
        Complete = complete;
        Swept = swept;
    }

    /// <summary>The clock before the listing: every batch that landed before it is in <see cref="Listed"/> (or under the floor).</summary>
    public DateTimeOffset ListedAt { get; }

    /// <summary>Raw keys after the floor, in key order.</summary>
    public List<ObjectInfo> Listed { get; }

    /// <summary>Listed batches no run holds yet, oldest key first.</summary>
    public List<ObjectInfo> Pending { get; }

    /// <summary>Batches behind the floor that landed late (Firehose's retries).</summary>
    public List<ObjectInfo> Late { get; }

    /// <summary>False when the listing stopped early with more pending than a pass takes.</summary>
    public bool Complete { get; }

    /// <summary>
    /// Whether this listing covered the late window (or there was nothing behind the floor yet): only then may the
    /// manifest's <see cref="Manifest.SweptAt"/> move to <see cref="ListedAt"/>, or a batch landing between two sweeps
    /// would be missed.
    /// </summary>
    public bool Swept { get; }

    /// <summary>
    /// Lists the raw keys after the floor and, when the late sweep is due (<c>Regroup:LateSweepInterval</c> since the
    /// last, or <paramref name="forceSweep"/>: a flush), the late window behind it.
    /// </summary>

    public static async Task<RawIntake> ListAsync(IObjectStore store, Manifest manifest, string rawPrefix, RegroupOptions options, DateTimeOffset listedAt, bool forceSweep, CancellationToken cancellationToken)
    {
        var consumed = new HashSet<string>(manifest.Consumed, StringComparer.Ordinal);
        var listed = new List<ObjectInfo>();
        var pending = new List<ObjectInfo>();
        var complete = true;
        await foreach (var info in store.ListAsync(rawPrefix, manifest.RawFloor, cancellationToken))
        {
            listed.Add(info);
            if (!consumed.Contains(info.Key))
            {
                pending.Add(info);
                // Twice a pass's worth (at least a listing page): enough to know what is oldest, without listing a
                // backlog of days every pass.
                if (pending.Count >= Math.Max(2 * options.MaxBatchesPerPass, 1000))
                {
                    complete = false;
                    break;
                }
            }
        }

        var late = new List<ObjectInfo>();
        var swept = options.LateWindow > TimeSpan.Zero && manifest.RawFloor is null;
        if (options.LateWindow > TimeSpan.Zero && manifest.RawFloor is { } floor && (forceSweep || SweepDue(manifest, options, listedAt)))
        {
            swept = true;
            var since = (manifest.SweptAt ?? DateTimeOffset.MinValue.AddDays(1)) - SettleMargin;
            var from = rawPrefix + (listedAt - options.LateWindow).UtcDateTime.ToString("yyyy/MM/dd/HH", CultureInfo.InvariantCulture);
            await foreach (var info in store.ListAsync(rawPrefix, string.CompareOrdinal(from, floor) < 0 ? from : floor, cancellationToken))
            {
                if (string.CompareOrdinal(info.Key, floor) > 0)
                {
                    break;
                }

                var named = NameTime(rawPrefix, info.Key);
                if (info.LastModified >= since && named != DateTimeOffset.MaxValue && info.LastModified > named + FloorLag(options))
                {
                    late.Add(info);
                }
            }
        }

        return new RawIntake(listedAt, listed, pending, late, complete, swept);
    }

    /// <summary>
    /// Whether a pass at <paramref name="listedAt"/> lists the late window: the sweep is a listing of a day of keys
    /// (two LIST pages at the reference fleet), so it runs every <c>Regroup:LateSweepInterval</c>, not every pass.
    /// A batch landing late then waits at most that long longer; it is sealed again within the hour either way.
    /// </summary>
    public static bool SweepDue(Manifest manifest, RegroupOptions options, DateTimeOffset listedAt) =>
        manifest.SweptAt is not { } last || listedAt - last >= options.LateSweepInterval;

    /// <summary>How far behind the listing a key's name time must be before the floor may pass it.</summary>
    public static TimeSpan FloorLag(RegroupOptions options) => options.DeliveryLag + SettleMargin;

    /// <summary>
    /// Applies a committed pass to <paramref name="manifest"/>: the batches now in a run are consumed, the floor
    /// moves over the leading consumed keys that have settled, and the watermark moves forward to what the listing
    /// vouches for. Answers whether the watermark moved.
    /// </summary>
    public void Commit(Manifest manifest, IReadOnlyCollection<string> taken, string rawPrefix, RegroupOptions options)
    {
        var consumed = new HashSet<string>(manifest.Consumed, StringComparer.Ordinal);
        consumed.UnionWith(taken.Where(k => manifest.RawFloor is null || string.CompareOrdinal(k, manifest.RawFloor) > 0));
        var settled = ListedAt - FloorLag(options);
        var floor = manifest.RawFloor;
        foreach (var info in Listed)
        {
            if (!consumed.Contains(info.Key) || NameTime(rawPrefix, info.Key) > settled)
            {
                break;
            }

            floor = info.Key;
        }

        manifest.RawFloor = floor;
        manifest.Consumed = [.. consumed.Where(k => floor is null || string.CompareOrdinal(k, floor) > 0).Order(StringComparer.Ordinal)];

        // Every batch that landed before the listing is consumed except those left; a batch holds events acknowledged
        // at most DeliveryLag before it landed.
        var left = Pending.Where(p => !consumed.Contains(p.Key)).ToList();
        var upTo = ListedAt;
        if (left.Count > 0)
        {
            upTo = Min(upTo, left.Min(p => p.LastModified));
        }

        if (!Complete && Listed.Count > 0)
        {
            upTo = Min(upTo, NameTime(rawPrefix, Listed[^1].Key));
        }

        var watermark = upTo - options.DeliveryLag;
        if (manifest.Watermark is null || watermark > manifest.Watermark)
        {
            manifest.Watermark = watermark;
        }
    }

    /// <summary>Marks <paramref name="keys"/> consumed (a claimed unit's batches, now in its run); the floor moves at the next pass.</summary>
    public static void Consume(Manifest manifest, IEnumerable<string> keys)
    {
        var consumed = new HashSet<string>(manifest.Consumed, StringComparer.Ordinal);
        consumed.UnionWith(keys.Where(k => manifest.RawFloor is null || string.CompareOrdinal(k, manifest.RawFloor) > 0));
        manifest.Consumed = [.. consumed.Order(StringComparer.Ordinal)];
    }

    /// <summary>The time a raw key's name gives (Firehose and the local sink name objects by their oldest record's arrival), else the end of its hour folder.</summary>
    public static DateTimeOffset NameTime(string rawPrefix, string key)
    {
        var slash = key.LastIndexOf('/');
        var match = NamePattern().Match(key, slash + 1);
        if (match.Success && DateTime.TryParseExact(match.Groups[1].Value, "yyyy-MM-dd-HH-mm-ss", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var named))
        {
            return new DateTimeOffset(named, TimeSpan.Zero);
        }

        var rest = key.AsSpan(rawPrefix.Length);
        return rest.Length > 14 && DateTime.TryParseExact(rest[..13], "yyyy/MM/dd/HH", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var hour) && rest[13] == '/'
            ? new DateTimeOffset(hour.AddHours(1), TimeSpan.Zero)
            : DateTimeOffset.MaxValue;
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    [GeneratedRegex(@"-(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-")]
    private static partial Regex NamePattern();
}
