namespace IngestService.Regroup;

/// <summary>
/// The figures of one regroup pass, as <c>POST /v1/admin/flush</c> answers them. <c>Merged</c> is false for a
/// look that found nothing due (or did not hold the lease).
/// </summary>
public sealed record RegroupReport(
    int BatchesRead,
    long Events,
    int SensorDaysWritten,
    long DuplicatesDropped,
    long BadLines,
    int Conflicts,
    int Pending,
    double DurationSeconds,
    bool Merged = true)
{
    /// <summary>Two passes in a row as one: counts add up, pending is what the later one left.</summary>
    public RegroupReport Then(RegroupReport next) => new(
        BatchesRead + next.BatchesRead, Events + next.Events, SensorDaysWritten + next.SensorDaysWritten, DuplicatesDropped + next.DuplicatesDropped,
        BadLines + next.BadLines, Conflicts + next.Conflicts, next.Pending, Math.Round(DurationSeconds + next.DurationSeconds, 3), Merged || next.Merged);

    public static RegroupReport Idle(int pending, double seconds) => new(0, 0, 0, 0, 0, 0, pending, seconds, Merged: false);
}
