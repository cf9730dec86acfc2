using IngestService.Aws;
using IngestService.Resilience;
using IngestService.Telemetry;

namespace IngestService.Delivery;

/// <summary>
/// What Firehose and Kinesis delivery share: pack the events not yet accepted, send the calls in parallel,
/// mark each event whose record the service took, and retry only the rest with backoff until they are all
/// in, a non-retryable error ends the attempt, or the ack deadline cancels it.
/// </summary>
public abstract partial class AwsRecordSink : IEventSink
{
    private readonly IngestMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RetryLoop<int> _untilAllAccepted;

    protected AwsRecordSink(IngestMetrics metrics, TimeProvider time, RetryDelays delays, ILogger logger)
    {
        _metrics = metrics;
        _time = time;
        _logger = logger;
        // An attempt answers how many events are still not accepted; while any are, wait and send only those.
        _untilAllAccepted = Retry.While<int>(pending => pending > 0, delays, time, onRetry: (pending, attempt, wait) => LogRetrying(Name, pending, attempt, wait.TotalMilliseconds));
    }

    public abstract string Name { get; }

    protected TimeProvider Time => _time;

    protected abstract PackingLimits Limits { get; }

    /// <summary>The size AWS rounds each record up to when billing: Firehose 5 KB, Kinesis 25 KB PUT payload units.</summary>
    protected abstract int BillingUnitBytes { get; }

    public abstract Task<string?> CheckReadyAsync(CancellationToken cancellationToken);

    /// <inheritdoc cref="IEventSink.EnvelopeBytesToFill"/>
    public virtual long EnvelopeBytesToFill(int recordBytes) => 0;

    public async Task DeliverAsync(IReadOnlyList<PendingEvent> events, bool[] accepted, CancellationToken cancellationToken)
    {
        List<int> pending = [];
        for (var i = 0; i < events.Count; i++)
        {
            if (!accepted[i])
            {
                pending.Add(i);
            }
        }

        if (pending.Count == 0)
        {
            return;
        }

        var attempt = 0;
        await _untilAllAccepted.ExecuteAsync(async ct =>
        {
            using var packing = await PackAsync(events, pending, ct);
            AwsServiceException? fatal = null;
            if (packing.TooLarge.Count > 0)
            {
                _metrics.SinkError(Name, "RecordTooLarge", packing.TooLarge.Count);
                fatal = new AwsServiceException("RecordTooLarge", $"{packing.TooLarge.Count} events exceed one {Name} record", null);
            }

            var calls = new Task<AwsServiceException?>[packing.Calls.Count];
            for (var c = 0; c < calls.Length; c++)
            {
                calls[c] = SendCallAsync(events, accepted, packing, packing.Calls[c], attempt > 0, ct);
            }

            // Each call marks what it got accepted itself, so a deadline that cancels one call keeps the rest.
            // Every call has ended before the packing (and its encoded records) is disposed.
            foreach (var outcome in await Task.WhenAll(calls))
            {
                fatal ??= outcome;
            }

            // The batcher logs and counts the window's failure; what was marked still counts.
            if (fatal is not null)
            {
                throw fatal;
            }

            pending.RemoveAll(i => accepted[i]);
            attempt++;
            return pending.Count;
        }, cancellationToken);
    }

    /// <summary>Lays out the events not yet accepted in records and calls.</summary>
    protected virtual ValueTask<Packing> PackAsync(IReadOnlyList<PendingEvent> events, List<int> pending, CancellationToken cancellationToken) =>
        ValueTask.FromResult(RecordPacker.Pack(pending, i => events[i].Length, i => RecordOverhead(events[i]), Limits));

    /// <summary>What a record adds to its call's cost besides its data (framing, partition key).</summary>
    protected abstract int RecordOverhead(PendingEvent first);

    /// <summary>Sends one call and answers one result entry per record, in order, checked by <see cref="Checked"/>.</summary>
    protected abstract Task<PutRecordResultEntry[]> PutAsync(IReadOnlyList<PendingEvent> events, Packing packing, PackedCall call, CancellationToken cancellationToken);

    /// <summary>
    /// A put answer is trusted only when it accounts for every record: one entry per record, each either refused
    /// (<c>ErrorCode</c>) or carrying the id the service gives what it took (Firehose's <c>RecordId</c>, Kinesis's
    /// <c>SequenceNumber</c>), and as many refused as its failed count says. Anything else (a proxy or emulator
    /// that lost part of the body, a service change) is a non-retryable <c>MalformedResponse</c>: none of the call's
    /// events is acknowledged and the window fails, so its sensors get 503 and resend, rather than being
    /// acknowledged on an answer that may not mean their records were stored.
    /// </summary>
    protected static PutRecordResultEntry[] Checked(string service, int failedCount, PutRecordResultEntry[] entries, int records)
    {
        if (entries.Length != records)
        {
            throw Malformed(service, $"{entries.Length} result entries for {records} records");
        }

        var refused = 0;
        for (var r = 0; r < entries.Length; r++)
        {
            if (!entries[r].Succeeded)
            {
                refused++;
            }
            else if (string.IsNullOrEmpty(entries[r].Id))
            {
                throw Malformed(service, $"result entry {r} has neither an error code nor the id of an accepted record");
            }
        }

        return refused == failedCount ? entries : throw Malformed(service, $"the failed count is {failedCount} but {refused} entries were refused");
    }

    private static AwsServiceException Malformed(string service, string detail) =>
        new("MalformedResponse", $"{service} answered a put that does not account for its records: {detail}", null);

    /// <summary>Answers the non-retryable error that ends delivery, or null when retrying can still help.</summary>
    private async Task<AwsServiceException?> SendCallAsync(
        IReadOnlyList<PendingEvent> events, bool[] accepted, Packing packing, PackedCall call, bool retry, CancellationToken cancellationToken)
    {
        _metrics.SinkCall(Name, retry);
        PutRecordResultEntry[] results;
        try
        {
            results = await PutAsync(events, packing, call, cancellationToken);
        }
        catch (AwsServiceException ex)
        {
            _metrics.SinkError(Name, ex.ErrorCode, call.RecordCount);
            LogCallFailed(Name, ex.ErrorCode, ex.IsRetryable, ex.Message);
            return ex.IsRetryable ? null : ex;
        }

        long records = 0;
        long bytes = 0;
        long units = 0;
        AwsServiceException? fatal = null;
        for (var r = 0; r < call.RecordCount; r++)
        {
            var record = packing.Records[call.FirstRecord + r];
            var result = results[r];
            if (result.Succeeded)
            {
                for (var k = 0; k < record.Count; k++)
                {
                    accepted[packing.Events[record.Start + k]] = true;
                }

                records++;
                bytes += record.Bytes;
                units += (record.Bytes + BillingUnitBytes - 1) / BillingUnitBytes;
            }
            else
            {
                _metrics.SinkError(Name, result.ErrorCode!);
                if (!AwsErrors.IsRetryable(result.ErrorCode!, null))
                {
                    fatal ??= new AwsServiceException(result.ErrorCode!, result.ErrorMessage ?? "record refused", null);
                }
            }
        }

        _metrics.SinkAccepted(Name, records, bytes, units);
        return fatal;
    }

    [LoggerMessage(2001, LogLevel.Debug, "Sink {Sink} retries {Count} events (attempt {Attempt}) in {WaitMs} ms")]
    private partial void LogRetrying(string sink, int count, int attempt, double waitMs);

    [LoggerMessage(2002, LogLevel.Warning, "Sink {Sink} call failed with {ErrorCode} (retryable: {Retryable}): {Message}")]
    private partial void LogCallFailed(string sink, string errorCode, bool retryable, string message);
}
