namespace IngestService.Storage;

/// <summary>
/// The seam between the sensor-day store and the read path: how current a read of the store is. Reads put the
/// answer in the <c>Data-Current-As-Of</c> response header (RFC 3339, UTC) so an analyst knows which recent
/// events a sensor-day may not hold yet.
/// </summary>
public interface IStoreFreshness
{
    /// <summary>
    /// An instant such that every event acknowledged before it is in the sensor-day objects a read sees now,
    /// or null when the store cannot say (no regroup pass has finished yet).
    /// </summary>
    ValueTask<DateTimeOffset?> CurrentAsOfAsync(CancellationToken cancellationToken);
}
