using System.Globalization;
using System.Text;
using IngestService.Storage;

namespace IngestService.Regroup;

/// <summary>
/// The regroup lease <c>_ingest/regroup/lease</c> (<c>{owner} {expiry as Unix ms}</c>), taken and renewed with
/// conditional writes, so that of many nodes one looks for work at a time and the others spend one GET per lease
/// period. It saves requests, it does not guard correctness: merges are conditional writes whoever runs them,
/// so a node that outlives its lease (or a flush on any node) merging at the same time stays correct.
/// </summary>
public sealed class RegroupLease(IObjectStore store, TimeProvider time, TimeSpan duration)
{
    public const string Key = StorageOptions.BookkeepingPrefix + "regroup/lease";

    private readonly string _owner = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";
    private string? _etag;
    private DateTimeOffset _heldUntil;
    private DateTimeOffset _otherUntil;

    /// <summary>Whether this node holds the lease now, taking or renewing it when that is due.</summary>
    public async Task<bool> TryHoldAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_etag is not null && now < _heldUntil - (duration / 2))
        {
            return true;
        }

        if (_etag is null && now < _otherUntil)
        {
            // Another node held it when last read: no request until its lease could have run out.
            return false;
        }

        string? etag = _etag;
        if (etag is null)
        {
            await using var current = await store.GetAsync(Key, cancellationToken);
            if (current is not null)
            {
                using var reader = new StreamReader(current.Content, Encoding.UTF8);
                var (owner, until) = Parse(await reader.ReadToEndAsync(cancellationToken));
                if (owner != _owner && now < until)
                {
                    _otherUntil = until;
                    return false;
                }

                etag = current.Info.ETag;
            }
        }

        var expires = now + duration;
        var body = Encoding.UTF8.GetBytes($"{_owner} {expires.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)}");
        var written = await store.PutAsync(Key, new MemoryStream(body), etag is null ? WriteCondition.CreateOnly : WriteCondition.Replace(etag), null, cancellationToken);
        if (written is null)
        {
            // Another node took or renewed it first; look again after a lease period at most.
            _etag = null;
            _otherUntil = now + duration;
            return false;
        }

        _etag = written;
        _heldUntil = expires;
        return true;
    }

    /// <summary>
    /// Renews the lease every third of its duration while a pass runs, until the handle is disposed: a pass that
    /// outlasts the lease (a long backlog against a slow store) keeps it, instead of another node taking it
    /// mid-pass and listing the same backlog again, and this node then losing it at its next look.
    /// </summary>
    public Keeper Keep(CancellationToken cancellationToken) => new(this, new PeriodicTimer(duration / 3, time), cancellationToken);

    /// <summary>The renewals of one pass; disposing it stops them.</summary>
    public sealed class Keeper : IAsyncDisposable
    {
        private readonly PeriodicTimer _ticks;
        private readonly Task _renewing;

        internal Keeper(RegroupLease lease, PeriodicTimer ticks, CancellationToken cancellationToken)
        {
            _ticks = ticks;
            _renewing = RenewAsync(lease, cancellationToken);
        }

        /// <summary>
        /// Stops the ticks, not a renewal in flight: cancelling one whose write the store has made would leave the
        /// lease's ETag unknown here, and the next look would lose the lease to its own write.
        /// </summary>
        public async ValueTask DisposeAsync()
        {
            _ticks.Dispose();
            await _renewing;
        }

        private async Task RenewAsync(RegroupLease lease, CancellationToken cancellationToken)
        {
            try
            {
                while (await _ticks.WaitForNextTickAsync(cancellationToken) && await lease.TryHoldAsync(cancellationToken))
                {
                }
            }
            catch (Exception)
            {
                // Stopping, or the store fails or times out. Either way the pass must not fail for it (the lease
                // saves requests, it does not guard correctness): renewal stops and the lease expires by itself.
            }
        }
    }

    /// <summary>Gives the lease up (an expired one in its place) so another node, or this one restarted, takes it at once.</summary>
    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        if (_etag is null)
        {
            return;
        }

        var body = Encoding.UTF8.GetBytes($"{_owner} 0");
        _ = await store.PutAsync(Key, new MemoryStream(body), WriteCondition.Replace(_etag), null, cancellationToken);
        _etag = null;
    }

    private static (string Owner, DateTimeOffset Until) Parse(string text)
    {
        var parts = text.Trim().Split(' ');
        return parts.Length == 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? (parts[0], DateTimeOffset.FromUnixTimeMilliseconds(ms))
            : ("", DateTimeOffset.MinValue);
    }
}
