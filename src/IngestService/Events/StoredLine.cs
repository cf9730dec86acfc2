using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text;

namespace IngestService.Events;

/// <summary>
/// The contract's identity of an event: its <c>seq</c> when it has one, else its <c>ts</c> and the SHA-256 of
/// its bytes as stored. The sensor is implied by the sensor-day the event belongs to.
/// </summary>
public readonly record struct EventIdentity(long? Seq, long TsTicks, ulong Hash0, ulong Hash1, ulong Hash2, ulong Hash3);

/// <summary>One stored line, <c>{"sensorId":…,"seq":…,"ts":…,"receivedAt":…,"event":{…}}</c>, kept byte for byte.</summary>
public sealed class StoredLine
{
    /// <summary>
    /// The deepest nesting any reader of stored events has to take: 64 is the default limit of System.Text.Json
    /// (which regroup uses) and Json.NET, so analysts' own readers with their defaults manage it too.
    /// </summary>
    public const int MaxReadDepth = 64;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxReadDepth };

    private StoredLine(string sensorId, long? seq, long tsTicks, EventIdentity identity, byte[] bytes)
    {
        SensorId = sensorId;
        Seq = seq;
        TsTicks = tsTicks;
        Identity = identity;
        Bytes = bytes;
    }

    public string SensorId { get; }

    public long? Seq { get; }

    /// <summary>UTC ticks of <c>ts</c>.</summary>
    public long TsTicks { get; }

    public DateOnly Day => DateOnly.FromDateTime(new DateTime(TsTicks, DateTimeKind.Utc));

    public EventIdentity Identity { get; }

    /// <summary>The line with its newline.</summary>
    public byte[] Bytes { get; }

    /// <summary>Stored order: <c>ts</c>, then <c>seq</c> (none first), then the bytes so every writer agrees.</summary>
    public static int Compare(StoredLine a, StoredLine b)
    {
        var c = a.TsTicks.CompareTo(b.TsTicks);
        if (c != 0)
        {
            return c;
        }

        c = Nullable.Compare(a.Seq, b.Seq);
        return c != 0 ? c : a.Bytes.AsSpan().SequenceCompareTo(b.Bytes);
    }

    /// <summary>A line parsed before, from its parts (a pass's spill files keep them so lines are not parsed twice).</summary>
    internal static StoredLine Restore(string sensorId, long? seq, long tsTicks, EventIdentity identity, byte[] bytes) =>
        new(sensorId, seq, tsTicks, identity, bytes);

    /// <summary>
    /// Reads the envelope with <see cref="Utf8JsonReader"/>; the event is skipped over and hashed, not
    /// deserialised. Null when the line is not a complete envelope (truncated, not JSON, bad fields).
    /// </summary>
    public static StoredLine? TryParse(ReadOnlySpan<byte> line, string? knownSensorId = null)
    {
        if (!TryRead(line, knownSensorId, out var sensorId, out var seq, out var ts, out var identity))
        {
            return null;
        }

        var bytes = new byte[line.Length + 1];
        line.CopyTo(bytes);
        bytes[^1] = (byte)'\n';
        return new StoredLine(sensorId, seq, ts, identity, bytes);
    }

    /// <summary>
    /// What <see cref="TryParse"/> reads, without copying the line. Readers that only filter by <c>ts</c> pass
    /// <paramref name="identify"/> false: the identity of an event without <c>seq</c> costs a SHA-256 of the event.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> line, string? knownSensorId, out string sensorId, out long? seq, out long tsTicks, out EventIdentity identity, bool identify = true)
    {
        sensorId = "";
        seq = null;
        tsTicks = 0;
        identity = default;
        string? readSensorId = null;
        long? ts = null;
        int eventStart = -1, eventEnd = -1;
        try
        {
            var reader = new Utf8JsonReader(line, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = StoredFields.Of(ref reader);
                if (field == StoredField.SensorId)
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    {
                        return false;
                    }

                    readSensorId = knownSensorId is not null && reader.ValueTextEquals(knownSensorId) ? knownSensorId : reader.GetString();
                }
                else if (field == StoredField.Seq)
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var s) && s >= 0)
                    {
                        seq = s;
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        return false;
                    }
                }
                else if (field == StoredField.Ts)
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped
                        || !Timestamp.TryParse(reader.ValueSpan, out var value, out _))
                    {
                        return false;
                    }

                    ts = value.UtcTicks;
                }
                else if (field == StoredField.Event)
                {
                    reader.Read();
                    eventStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    eventEnd = (int)reader.BytesConsumed;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return false;
            }
        }
        catch (JsonException)
        {
            return false;
        }

        if (readSensorId is null || !Events.SensorId.IsValid(readSensorId) || ts is null || eventStart < 0)
        {
            return false;
        }

        sensorId = readSensorId;
        tsTicks = ts.Value;
        if (seq is not null)
        {
            identity = new EventIdentity(seq, 0, 0, 0, 0, 0);
        }
        else if (identify)
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(line[eventStart..eventEnd], hash);
            identity = new EventIdentity(null, ts.Value,
                BinaryPrimitives.ReadUInt64LittleEndian(hash), BinaryPrimitives.ReadUInt64LittleEndian(hash[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(hash[16..]), BinaryPrimitives.ReadUInt64LittleEndian(hash[24..]));
        }

        return true;
    }

    public override string ToString() => Encoding.UTF8.GetString(Bytes);
}
