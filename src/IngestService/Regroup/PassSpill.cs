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

    public bool Spilled => _files is not null;

    public void Add(StoredLine line)
    {
        if (_files is not null)
        {
            _files[PartitionOf(line.SensorId)].Write(line.Bytes);
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
    public async IAsyncEnumerable<Dictionary<(string SensorId, DateOnly Day), List<StoredLine>>> PartitionsAsync(
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (_files is null)
        {
            yield return _held;
            yield break;
        }

        foreach (var file in _files)
        {
            await file.FlushAsync(cancellationToken);
            file.Position = 0;
            var groups = new Dictionary<(string SensorId, DateOnly Day), List<StoredLine>>();
            await foreach (var line in LineReader.ReadAsync(file, cancellationToken))
            {
                // Only lines that parsed were spilled, so every one parses again.
                var parsed = StoredLine.TryParse(line.Bytes.Span)!;
                var key = (parsed.SensorId, parsed.Day);
                if (!groups.TryGetValue(key, out var lines))
                {
                    groups[key] = lines = [];
                }

                lines.Add(parsed);
            }

            yield return groups;
        }
    }

    private void SpillHeld()
    {
        _folder = Path.Combine(Path.GetTempPath(), "ingest-regroup", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _files = new FileStream[partitions];
        for (var i = 0; i < partitions; i++)
        {
            // DeleteOnClose: a scratch file never outlives the pass, even when the pass fails.
            _files[i] = new FileStream(Path.Combine(_folder, $"{i}.ndjson"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
                64 * 1024, FileOptions.DeleteOnClose);
        }

        foreach (var lines in _held.Values)
        {
            foreach (var line in lines)
            {
                _files[PartitionOf(line.SensorId)].Write(line.Bytes);
            }
        }

        _held = [];
        _heldBytes = 0;
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
