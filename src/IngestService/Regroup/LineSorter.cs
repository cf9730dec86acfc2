using IngestService.Events;
using IngestService.Storage.Runs;

namespace IngestService.Regroup;

/// <summary>
/// Sorts a pass's lines into <see cref="LineMerge.Order"/> in bounded memory: up to a byte budget in memory,
/// then each full buffer sorted and spilled to a scratch file, and the files merged k-way at the end (one
/// buffer per file). A heavy sensor streams through like any other: nothing is grouped per sensor in memory.
/// </summary>
public sealed class LineSorter(long memoryBytes) : IAsyncDisposable
{
    // A parsed line's fields and object headers on top of its bytes.
    private const int LineOverhead = 96;

    private readonly Lock _gate = new();
    private readonly List<FileStream> _chunks = [];
    private List<Keyed> _held = [];
    private long _heldBytes;

    public long Lines { get; private set; }

    /// <summary>Adds lines read by one of the pass's readers; safe to call from several at once.</summary>
    public void Add(List<StoredLine> lines)
    {
        lock (_gate)
        {
            foreach (var line in lines)
            {
                _held.Add(new Keyed(line));
                _heldBytes += line.Bytes.Length + LineOverhead;
            }

            Lines += lines.Count;
            if (_heldBytes > memoryBytes)
            {
                Spill();
            }
        }
    }

    /// <summary>All lines in order, repeated identities dropped.</summary>
    public IAsyncEnumerable<StoredLine> SortedAsync(DuplicateCounter duplicates, CancellationToken cancellationToken)
    {
        var inputs = new List<IAsyncEnumerable<StoredLine>> { ToAsync(Sorted(_held)) };
        foreach (var chunk in _chunks)
        {
            chunk.Position = 0;
            inputs.Add(ToAsync(ReadChunk(chunk)));
        }

        return LineMerge.MergeAsync(inputs, duplicates, cancellationToken);
    }

    private void Spill()
    {
        var file = new FileStream(Path.Combine(Scratch.Folder, $"{Guid.NewGuid():N}.sort"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
            1, FileOptions.DeleteOnClose);
        _chunks.Add(file);
        using (var writer = new BinaryWriter(new BufferedStream(file, 64 * 1024), System.Text.Encoding.UTF8, leaveOpen: true))
        {
            foreach (var line in Sorted(_held))
            {
                Write(writer, line);
            }
        }

        _held = [];
        _heldBytes = 0;
    }

    private static IEnumerable<StoredLine> Sorted(List<Keyed> held)
    {
        held.Sort(default(KeyedOrder));
        foreach (var keyed in held)
        {
            yield return keyed.Line;
        }
    }

    /// <summary>A line's sort fields beside it: the sort reads one array, not a line object (a cache miss) a compare.</summary>
    private readonly struct Keyed(StoredLine line)
    {
        public readonly string SensorId = line.SensorId;
        public readonly long TsTicks = line.TsTicks;
        public readonly long? Seq = line.Seq;
        public readonly StoredLine Line = line;
    }

    /// <summary><see cref="LineMerge.Order"/> on the fields beside the line; the bytes only when all of them tie.</summary>
    private readonly struct KeyedOrder : IComparer<Keyed>
    {
        public int Compare(Keyed a, Keyed b)
        {
            var c = string.CompareOrdinal(a.SensorId, b.SensorId);
            if (c == 0)
            {
                c = a.TsTicks.CompareTo(b.TsTicks);
            }

            if (c == 0)
            {
                c = Nullable.Compare(a.Seq, b.Seq);
            }

            return c != 0 ? c : LineMerge.Compare(a.Line, b.Line);
        }
    }

    /// <summary>A line with what parsing found, so reading it back needs no JSON parsing and no hashing.</summary>
    private static void Write(BinaryWriter writer, StoredLine line)
    {
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

    private static IEnumerable<StoredLine> ReadChunk(FileStream file)
    {
        using var reader = new BinaryReader(new BufferedStream(file, 64 * 1024), System.Text.Encoding.UTF8, leaveOpen: true);
        string? lastSensor = null;
        while (true)
        {
            string sensorId;
            try
            {
                sensorId = reader.ReadString();
            }
            catch (EndOfStreamException)
            {
                yield break;
            }

            // Lines of one sensor share one string, as parsed lines do.
            if (sensorId == lastSensor)
            {
                sensorId = lastSensor;
            }

            lastSensor = sensorId;
            var hasSeq = reader.ReadBoolean();
            var seqValue = reader.ReadInt64();
            long? seq = hasSeq ? seqValue : null;
            var ts = reader.ReadInt64();
            var identity = new EventIdentity(seq, reader.ReadInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64());
            var bytes = reader.ReadBytes(reader.ReadInt32());
            yield return StoredLine.Restore(sensorId, seq, ts, identity, bytes);
        }
    }

#pragma warning disable CS1998 // An async iterator over a synchronous source.
    private static async IAsyncEnumerable<StoredLine> ToAsync(IEnumerable<StoredLine> lines)
    {
        foreach (var line in lines)
        {
            yield return line;
        }
    }
#pragma warning restore CS1998

    public async ValueTask DisposeAsync()
    {
        foreach (var chunk in _chunks)
        {
            await chunk.DisposeAsync();
        }

        _chunks.Clear();
        _held = [];
    }
}
