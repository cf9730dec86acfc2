using System.Diagnostics.Metrics;
using IngestService.Operations;

namespace IngestService.Regroup;

/// <summary>Regroup progress on the service's meter, so <c>/metrics</c> shows it beside ingest.</summary>
public sealed class RegroupMetrics
{
    private readonly Counter<long> _passes;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _events;
    private readonly Counter<long> _sensorDays;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _badLines;
    private readonly Counter<long> _conflicts;
    private readonly Histogram<double> _duration;
    private long _pending;

    public RegroupMetrics(IMeterFactory meterFactory)
    {
        // The factory hands out one Meter per name, so these instruments join IngestMetrics' meter.
        var meter = meterFactory.Create(IngestMetrics.MeterName);
        _passes = meter.CreateCounter<long>("regroup_passes", "{pass}", "Regroup passes finished");
        _batches = meter.CreateCounter<long>("regroup_batches_done", "{batch}", "Raw batches marked done");
        _events = meter.CreateCounter<long>("regroup_events_read", "{event}", "Events read from raw batches");
        _sensorDays = meter.CreateCounter<long>("regroup_sensor_days_written", "{object}", "Sensor-day objects written");
        _duplicates = meter.CreateCounter<long>("regroup_duplicates_dropped", "{event}", "Events already stored, dropped while merging");
        _badLines = meter.CreateCounter<long>("regroup_bad_lines", "{line}", "Raw lines that were not stored events, skipped");
        _conflicts = meter.CreateCounter<long>("regroup_write_conflicts", "{write}", "Conditional writes that lost a race and were merged again");
        _duration = meter.CreateHistogram<double>("regroup_pass_duration", "s", "Time of one regroup pass");
        meter.CreateObservableGauge("regroup_pending_batches", () => Volatile.Read(ref _pending), "{batch}", "Raw batches left undone after the last pass");
    }

    public void BatchesDone(int count) => _batches.Add(count);

    public void Pass(RegroupReport report)
    {
        _passes.Add(1);
        _events.Add(report.Events);
        _sensorDays.Add(report.SensorDaysWritten);
        _duplicates.Add(report.DuplicatesDropped);
        _badLines.Add(report.BadLines);
        _conflicts.Add(report.Conflicts);
        _duration.Record(report.DurationSeconds);
        Volatile.Write(ref _pending, report.Pending);
    }
}
