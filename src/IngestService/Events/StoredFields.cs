using System.Text;
using System.Text.Json;

namespace IngestService.Events;

/// <summary>
/// The field names of the stored line, <c>{"sensorId":…,"seq":…,"ts":…,"receivedAt":…,"event":{…}}</c>, in the
/// one place every reader (<see cref="StoredLine"/>, the CSV and Parquet answers) looks them up in.
/// <see cref="Envelope"/>, on the ingest hot path, writes them as UTF-8 literals; the round-trip tests read what it
/// writes through these names, so the two cannot drift apart unnoticed.
/// </summary>
public static class StoredFields
{
    public const string SensorId = "sensorId";
    public const string Seq = "seq";
    public const string Ts = "ts";
    public const string ReceivedAt = "receivedAt";
    public const string Event = "event";

    /// <summary>The envelope's own columns, in the order the CSV and Parquet answers put them first.</summary>
    public static IReadOnlyList<string> EnvelopeColumns { get; } = [SensorId, Seq, Ts, ReceivedAt];

    private static readonly byte[][] Utf8Names = [.. EnvelopeColumns.Append(Event).Select(Encoding.UTF8.GetBytes)];

    /// <summary>Which stored field the reader's property name is; an envelope column's value is its index in <see cref="EnvelopeColumns"/>.</summary>
    public static StoredField Of(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < Utf8Names.Length; i++)
        {
            if (reader.ValueTextEquals(Utf8Names[i]))
            {
                return (StoredField)i;
            }
        }

        return StoredField.Other;
    }
}

/// <summary>The fields of the stored line, in the order it writes them.</summary>
public enum StoredField
{
    /// <summary>A name the line format does not have.</summary>
    Other = -1,
    SensorId,
    Seq,
    Ts,
    ReceivedAt,
    Event,
}
