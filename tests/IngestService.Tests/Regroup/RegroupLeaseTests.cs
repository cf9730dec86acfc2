using IngestService.Regroup;
using IngestService.Storage;

namespace IngestService.Tests.Regroup;

/// <summary>The regroup lease's renewals while a pass runs.</summary>
public sealed class RegroupLeaseTests : IDisposable
{
    private static readonly TimeSpan Duration = TimeSpan.FromMinutes(10);

    private readonly RegroupFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task A_renewal_the_store_has_written_finishes_when_the_pass_ends_so_the_node_keeps_its_lease()
    {
        var store = new AnswerHeldAfterWrite(_f.Store);
        var lease = new RegroupLease(store, _f.Time, Duration);
        var other = new RegroupLease(new FileSystemObjectStore(_f.Root), _f.Time, Duration);
        Assert.True(await lease.TryHoldAsync(_f.Token));

        var keeper = lease.Keep(_f.Token);
        store.HoldNext = true;
        _f.Time.Advance(Duration * 2 / 3);
        await store.Written.Task.WaitAsync(_f.Token);
        // The pass ends while the store has made the renewal's write and its answer is still on the way.
        var stopping = keeper.DisposeAsync().AsTask();
        Assert.False(store.HeldCallToken.IsCancellationRequested, "stopping the renewals cancelled the one in flight");
        store.Answer.SetResult();
        await stopping;

        // Past the first expiry, due to renew again: the node knows its own write's ETag, so the renewal succeeds.
        _f.Time.Advance(Duration / 2);
        Assert.True(await lease.TryHoldAsync(_f.Token));
        Assert.False(await other.TryHoldAsync(_f.Token));
    }

    /// <summary>Makes the next write of the lease, then holds its answer until released (or the caller cancels).</summary>
    private sealed class AnswerHeldAfterWrite(IObjectStore inner) : PassThroughStore(inner)
    {
        public bool HoldNext { get; set; }

        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationToken HeldCallToken { get; private set; }

        public override async Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
        {
            var written = await base.PutAsync(key, content, condition, metadata, cancellationToken);
            if (key == RegroupLease.Key && HoldNext)
            {
                HoldNext = false;
                HeldCallToken = cancellationToken;
                Written.SetResult();
                await Answer.Task.WaitAsync(cancellationToken);
            }

            return written;
        }
    }
}
