namespace IngestService.Regroup;

/// <summary>
/// The figures of one regroup pass, as <c>POST /v1/admin/flush</c> answers them. <c>Merged</c> is false for a look
/// that found nothing to do (or did not hold the lease). <c>SensorDaysWritten</c> counts sealed sensor-day objects
/// written; <c>Quarantined</c> the sensor-days the manifest holds in quarantine after the pass; <c>CutShort</c> the raw
/// batches that ended inside a gzip member, counted in <c>Pending</c> (what was read of them is in the run); <c>Units</c> the
/// published units of work (raw batches, compactions, seal ranges) this node claimed and did.
/// </summary>
public sealed record RegroupReport(
    int BatchesRead,
    long Events,
    int RunsWritten,
    int SensorDaysWritten,
    long DuplicatesDropped,
    long BadLines,
    int Conflicts,
    int Pending,
    int Compactions,
    int Quarantined,
    int RunsDeleted,
    double DurationSeconds,
    bool Merged = true,
    DateTimeOffset? CurrentAsOf = null,
    int CutShort = 0,
    int Units = 0)
{
    /// <summary>Two passes in a row as one: counts add up, pending, quarantine and currency are what the later one left.</summary>
    public RegroupReport Then(RegroupReport next) => new(
        BatchesRead + next.BatchesRead, Events + next.Events, RunsWritten + next.RunsWritten, SensorDaysWritten + next.SensorDaysWritten,
        DuplicatesDropped + next.DuplicatesDropped, BadLines + next.BadLines, Conflicts + next.Conflicts, next.Pending, Compactions + next.Compactions,
        next.Quarantined, RunsDeleted + next.RunsDeleted, Math.Round(DurationSeconds + next.DurationSeconds, 3), Merged || next.Merged, next.CurrentAsOf ?? CurrentAsOf, next.CutShort, Units + next.Units);

    public static RegroupReport Idle(int pending, double seconds) => new(0, 0, 0, 0, 0, 0, 0, pending, 0, 0, 0, seconds, Merged: false);
}
