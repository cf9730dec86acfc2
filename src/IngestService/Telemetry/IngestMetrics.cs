using System.Diagnostics.Metrics;

namespace IngestService.Telemetry;

/// <summary>
/// The service's instruments. Everything <c>/metrics</c> shows comes from here, so the benchmarks and the cost
/// model read the service's own counts.
/// </summary>
public sealed class IngestMetrics : IDisposable
{
    public const string MeterName = "IngestService";

    private readonly Meter _meter;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Histogram<double> _ackLatency;
    private readonly Histogram<long> _windowEvents;
    private readonly Histogram<long> _windowBytes;
    private readonly Histogram<double> _flushDuration;
    private readonly Counter<long> _sinkErrors;
    private readonly Counter<long> _sinkRecords;
    private readonly Counter<long> _sinkBytes;
    private readonly Counter<long> _sinkCalls;
    private readonly Counter<long> _sinkBillingUnits;

    public IngestMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _accepted = _meter.CreateCounter<long>("ingest_events_accepted", "{event}", "Events every sink stored, counted as their window answers them (2xx, unless a backlog they came in also held an event that failed)");
        _rejected = _meter.CreateCounter<long>("ingest_events_rejected", "{request}", "Requests answered with an error, by reason");
        _ackLatency = _meter.CreateHistogram<double>("ingest_ack_latency", "s", "Time from accepting an event to answering it",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10] });
        _windowEvents = _meter.CreateHistogram<long>("ingest_window_events", "{event}", "Events per delivered window",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 10, 50, 100, 500, 1000, 2500, 5000, 10000] });
        _windowBytes = _meter.CreateHistogram<long>("ingest_window_bytes", "By", "Envelope bytes per delivered window",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1024, 16384, 65536, 262144, 1048576, 4194304] });
        _flushDuration = _meter.CreateHistogram<double>("ingest_flush_duration", "s", "Time to deliver a window, by sink",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _sinkErrors = _meter.CreateCounter<long>("ingest_sink_errors", "{error}", "Failed calls or entries, by sink and error code");
        _sinkRecords = _meter.CreateCounter<long>("ingest_sink_records", "{record}", "Records a sink accepted (the unit AWS bills), by sink");
        _sinkBytes = _meter.CreateCounter<long>("ingest_sink_bytes", "By", "Record bytes a sink accepted, by sink");
        _sinkBillingUnits = _meter.CreateCounter<long>("ingest_sink_billing_units", "{unit}", "Billing units of accepted records: Firehose 5 KB units, Kinesis 25 KB PUT payload units, by sink");
        _sinkCalls = _meter.CreateCounter<long>("ingest_sink_calls", "{call}", "API calls made to a sink, by sink and whether it was a retry");
        _meter.CreateObservableGauge("process_resident_memory", () => Environment.WorkingSet, "By", "Resident memory of this process");
    }

    public void Accepted(int events) => _accepted.Add(events);

    public void Rejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void AckLatency(TimeSpan latency) => _ackLatency.Record(latency.TotalSeconds);

    public void Window(int events, long bytes)
    {
        _windowEvents.Record(events);
        _windowBytes.Record(bytes);
    }

    public void Flushed(string sink, TimeSpan duration) => _flushDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("sink", sink));

    public void SinkError(string sink, string code, long count = 1) =>
        _sinkErrors.Add(count, new KeyValuePair<string, object?>("sink", sink), new KeyValuePair<string, object?>("code", code));

    public void SinkCall(string sink, bool retry) =>
        _sinkCalls.Add(1, new KeyValuePair<string, object?>("sink", sink), new KeyValuePair<string, object?>("retry", retry ? "true" : "false"));

    public void SinkAccepted(string sink, long records, long bytes, long billingUnits)
    {
        _sinkRecords.Add(records, new KeyValuePair<string, object?>("sink", sink));
        _sinkBytes.Add(bytes, new KeyValuePair<string, object?>("sink", sink));
        _sinkBillingUnits.Add(billingUnits, new KeyValuePair<string, object?>("sink", sink));
    }

    /// <summary>Observable gauges read their values when scraped.</summary>
    public void ObserveBatcher(Func<long> events, Func<long> bytes, Func<bool> faulted)
    {
        _meter.CreateObservableGauge("ingest_pending_events", events, "{event}", "Events accepted but not yet answered");
        _meter.CreateObservableGauge("ingest_pending_bytes", bytes, "By", "Envelope bytes accepted but not yet answered");
        // A faulted loop makes /readyz 503 before any sink is probed, so ingest_sink_ready alone would not show it.
        _meter.CreateObservableGauge("ingest_batcher_faulted", () => faulted() ? 1 : 0, "{batcher}", "1 once the batching loop has stopped on an internal fault and the node takes no events");
    }

    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();
}
