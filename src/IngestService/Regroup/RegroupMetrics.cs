using System.Diagnostics.Metrics;
using IngestService.Telemetry;
using Microsoft.Extensions.Options;

namespace IngestService.Regroup;

/// <summary>Regroup progress on the service's meter, so <c>/metrics</c> shows it beside ingest.</summary>
public sealed class RegroupMetrics
{
    private readonly Counter<long> _passes;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _runs;
    private readonly Counter<long> _compactions;
    private readonly Counter<long> _units;
    private long _quarantined;
    private readonly Counter<long> _events;
    private readonly Counter<long> _sensorDays;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _badLines;
    private readonly Counter<long> _conflicts;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _duration;
    private readonly TimeProvider _time;
    private long _pending;

    // Ticks of the oldest raw batch the last look left pending (MaxValue: none); 0 while this node holds no lease,
    // so only the node that merges reports an age and a node that lost the lease does not report a growing one.
    private long _oldestPendingTicks;

    public RegroupMetrics(IMeterFactory meterFactory, TimeProvider time, IOptions<RegroupOptions> options)
    {
        _time = time;
        // The factory hands out one Meter per name, so these instruments join IngestMetrics' meter.
        var meter = meterFactory.Create(IngestMetrics.MeterName);
        _passes = meter.CreateCounter<long>("regroup_passes", "{pass}", "Regroup passes finished");
        _batches = meter.CreateCounter<long>("regroup_batches_done", "{batch}", "Raw batches read into runs");
        _runs = meter.CreateCounter<long>("regroup_runs_written", "{run}", "Runs written by passes (tier 0)");
        _compactions = meter.CreateCounter<long>("regroup_compactions", "{compaction}", "Runs merged a tier up");
        _units = meter.CreateCounter<long>("regroup_units_done", "{unit}", "Published units of work (raw batches, compactions, seal ranges) this node claimed and did");
        _events = meter.CreateCounter<long>("regroup_events_read", "{event}", "Events read from raw batches");
        _sensorDays = meter.CreateCounter<long>("regroup_sensor_days_written", "{object}", "Sealed sensor-day objects written");
        _duplicates = meter.CreateCounter<long>("regroup_duplicates_dropped", "{event}", "Events already stored, dropped while writing runs and sealing");
        _badLines = meter.CreateCounter<long>("regroup_bad_lines", "{line}", "Raw lines that were not stored events, skipped");
        _conflicts = meter.CreateCounter<long>("regroup_write_conflicts", "{write}", "Sealed sensor-day writes that lost a race and were merged again");
        _failures = meter.CreateCounter<long>("regroup_pass_failures", "{pass}", "Regroup passes that failed (the log's event 3003 says why)");
        // Present from the start, so an alert on its increase has a series to look at before the first failure.
        _failures.Add(0);
        _duration = meter.CreateHistogram<double>("regroup_pass_duration", "s", "Time of one regroup pass");
        meter.CreateObservableGauge("regroup_pending_batches", () => Volatile.Read(ref _pending), "{batch}", "Raw batches left for the next pass after the last one");
        meter.CreateObservableGauge("regroup_oldest_pending_age", ObserveOldestPending, "s",
            "Age of the oldest raw batch not yet in a run (0: none), on the node that holds the regroup lease");
        // What an event's visibility should stay under: two passes (the one it just missed and the next).
        var bound = 2 * options.Value.Interval.TotalSeconds;
        meter.CreateObservableGauge("regroup_freshness", () => bound, "s", "2 × Regroup:Interval, the bound the oldest pending age should stay under");
        meter.CreateObservableGauge("regroup_quarantined_sensor_days", () => Volatile.Read(ref _quarantined), "{sensor-day}",
            "Sensor-days that could not be sealed and wait in quarantine (the log's event 3010 says why)");
    }

    /// <summary>What the last look of the lease holder left pending; null when this node did not look (no lease).</summary>
    public void OldestPending(IEnumerable<DateTimeOffset>? landed)
    {
        var ticks = landed is null ? 0 : landed.Select(t => t.UtcTicks).DefaultIfEmpty(long.MaxValue).Min();
        Volatile.Write(ref _oldestPendingTicks, ticks);
    }

    private IEnumerable<Measurement<double>> ObserveOldestPending()
    {
        var ticks = Volatile.Read(ref _oldestPendingTicks);
        if (ticks == 0)
        {
            return [];
        }

        var age = ticks == long.MaxValue ? TimeSpan.Zero : _time.GetUtcNow() - new DateTimeOffset(ticks, TimeSpan.Zero);
        return [new Measurement<double>(Math.Max(0, age.TotalSeconds))];
    }

    public void Quarantined(int count) => Volatile.Write(ref _quarantined, count);

    public void PassFailed() => _failures.Add(1);

    public void Pass(RegroupReport report)
    {
        _passes.Add(1);
        _batches.Add(report.BatchesRead);
        _runs.Add(report.RunsWritten);
        _compactions.Add(report.Compactions);
        _units.Add(report.Units);
        _events.Add(report.Events);
        _sensorDays.Add(report.SensorDaysWritten);
        _duplicates.Add(report.DuplicatesDropped);
        _badLines.Add(report.BadLines);
        _conflicts.Add(report.Conflicts);
        _duration.Record(report.DurationSeconds);
        Volatile.Write(ref _pending, report.Pending);
    }
}
