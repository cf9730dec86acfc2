namespace IngestService.Events;

/// <summary>What the service reads out of an event: everything else is the sensor's own.</summary>
public readonly record struct EventHeader(DateTimeOffset Ts, long? Seq);
