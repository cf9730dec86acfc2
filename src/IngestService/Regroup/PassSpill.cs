using IngestService.Events;

namespace IngestService.Regroup;

/// <summary>
/// The events one pass has read, grouped so that each sensor-day is merged once per pass however many raw
/// batches held it. They stay in memory up to a byte budget; past it every line goes to one of a set of scratch
/// files chosen by a hash of its sensor, and the pass merges one file (all days of its sensors) at a time. The
/// files are scratch: a node that loses them loses nothing, since no batch is marked done before its merge.
/// </summary>
public sealed class PassSpill(long memoryBytes, int partitions) : IAsyncDisposable
{
    private Dictionary<(string SensorId, DateOnly Day), List<StoredLine>> _held = [];
    private long _heldBytes;
    private string? _folder;
    private FileStream[]? _files;
    private BinaryWriter[]? _writers;

    private readonly Lock _gate = new();

    /// <summary>Adds lines read by one of the pass's readers; safe to call from several at once.</summary>
    public void Add(List<StoredLine> lines)
    {
        lock (_gate)
        {
            foreach (var line in lines)
            {
                Add(line);
            }
        }
    }

    private void Add(StoredLine line)
    {
        if (_writers is not null)
        {
            Spill(line);
            return;
        }

        var key = (line.SensorId, line.Day);
        if (!_held.TryGetValue(key, out var lines))
        {
            _held[key] = lines = [];
        }

        lines.Add(line);
        _heldBytes += line.Bytes.Length;
        if (_heldBytes > memoryBytes)
        {
            SpillHeld();
        }
    }

    /// <summary>The sensor-day groups, one partition at a time; each group is complete for this pass.</summary>
    public IEnumerable<Dictionary<(string SensorId, DateOnly Day), List<StoredLine>>> Partitions(CancellationToken cancellationToken)
    {
        if (_files is null)
        {
            yield return _held;
            yield break;
        }

        for (var i = 0; i < _files.Length; i++)
        {
            _writers![i].Flush();
            var file = _files[i];
            file.Position = 0;
            var groups = new Dictionary<(string SensorId, DateOnly Day), List<StoredLine>>();
            using (var reader = new BinaryReader(new BufferedStream(file, 64 * 1024), System.Text.Encoding.UTF8, leaveOpen: true))
            {
                while (Read(reader) is { } line)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var key = (line.SensorId, line.Day);
                    if (!groups.TryGetValue(key, out var lines))
                    {
                        groups[key] = lines = [];
                    }

                    lines.Add(line);
                }
            }

            yield return groups;
        }
    }

    private void SpillHeld()
    {
        _folder = Path.Combine(Path.GetTempPath(), "ingest-regroup", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _files = new FileStream[partitions];
        _writers = new BinaryWriter[partitions];
        for (var i = 0; i < partitions; i++)
        {
            // DeleteOnClose: a scratch file never outlives the pass, even when the pass fails.
            _files[i] = new FileStream(Path.Combine(_folder, $"{i}.spill"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
                1, FileOptions.DeleteOnClose);
            _writers[i] = new BinaryWriter(new BufferedStream(_files[i], 64 * 1024), System.Text.Encoding.UTF8, leaveOpen: true);
        }

        foreach (var lines in _held.Values)
        {
            foreach (var line in lines)
            {
                Spill(line);
            }
        }

        _held = [];
        _heldBytes = 0;
    }

    /// <summary>
    /// Writes the line with what parsing found (sensor, seq, ts, identity), so reading it back needs no JSON
    /// parsing and no hashing: the record is the parsed line, not the text.
    /// </summary>
    private void Spill(StoredLine line)
    {
        var writer = _writers![PartitionOf(line.SensorId)];
        writer.Write(line.SensorId);
        writer.Write(line.Seq.HasValue);
        writer.Write(line.Seq ?? 0);
        writer.Write(line.TsTicks);
        var id = line.Identity;
        writer.Write(id.TsTicks);
        writer.Write(id.Hash0);
        writer.Write(id.Hash1);
        writer.Write(id.Hash2);
        writer.Write(id.Hash3);
        writer.Write(line.Bytes.Length);
        writer.Write(line.Bytes);
    }

    private static StoredLine? Read(BinaryReader reader)
    {
        string sensorId;
        try
        {
            sensorId = reader.ReadString();
        }
        catch (EndOfStreamException)
        {
            return null;
        }

        var hasSeq = reader.ReadBoolean();
        var seqValue = reader.ReadInt64();
        long? seq = hasSeq ? seqValue : null;
        var ts = reader.ReadInt64();
        var identity = new EventIdentity(seq, reader.ReadInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64());
        var bytes = reader.ReadBytes(reader.ReadInt32());
        return StoredLine.Restore(sensorId, seq, ts, identity, bytes);
    }

    private int PartitionOf(string sensorId)
    {
        var hash = 2166136261u;
        foreach (var c in sensorId)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % (uint)_files!.Length);
    }

    public async ValueTask DisposeAsync()
    {
        if (_files is null)
        {
            return;
        }

        foreach (var writer in _writers!)
        {
            await writer.DisposeAsync();
        }

        foreach (var file in _files)
        {
            await file.DisposeAsync();
        }

        try
        {
            Directory.Delete(_folder!, recursive: true);
        }
        catch (IOException)
        {
            // The files delete themselves on close; an empty scratch folder left behind is harmless.
        }
    }
}
