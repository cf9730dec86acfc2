using System.IO.Compression;
using IngestService.Events;

namespace IngestService.Storage.Runs;

/// <summary>
/// Writes a run to a scratch file from lines that arrive in <see cref="LineMerge.Order"/>: a gzip member per
/// (sensor, day), then the index. Memory: one gzip member's buffers, whatever the run's size.
/// </summary>
public sealed class RunWriter : IAsyncDisposable
{
    private readonly FileStream _file;
    private readonly List<RunSegment> _segments = [];
    private GZipStream? _member;
    private string? _sensorId;
    private DateOnly _day;
    private long _start, _events, _bytes, _minTicks, _maxTicks, _maxSeq;

    public RunWriter(string scratchFolder)
    {
        Directory.CreateDirectory(scratchFolder);
        Path = System.IO.Path.Combine(scratchFolder, $"{Guid.NewGuid():N}.run");
        _file = new FileStream(Path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 64 * 1024, FileOptions.DeleteOnClose);
    }

    public string Path { get; }

    public long Events { get; private set; }

    /// <summary>Where the gzip members end, once <see cref="Finish"/> has run.</summary>
    public long DataLength { get; private set; }

    public IReadOnlyList<RunSegment> Segments => _segments;

    public void Add(StoredLine line)
    {
        if (_member is null || !string.Equals(line.SensorId, _sensorId, StringComparison.Ordinal) || line.Day != _day)
        {
            EndSegment();
            _sensorId = line.SensorId;
            _day = line.Day;
            _start = _file.Position;
            _events = _bytes = 0;
            _minTicks = line.TsTicks;
            _maxSeq = -1;
            _member = new GZipStream(_file, CompressionLevel.Fastest, leaveOpen: true);
        }

        _member.Write(line.Bytes);
        _events++;
        _bytes += line.Bytes.Length;
        _maxTicks = line.TsTicks;
        if (line.Seq is { } seq && seq > _maxSeq)
        {
            _maxSeq = seq;
        }

        Events++;
    }

    /// <summary>Ends the last segment, writes the index and answers the finished run, positioned at its start.</summary>
    public Stream Finish()
    {
        EndSegment();
        DataLength = _file.Position;
        _file.Write(RunIndex.Encode(_segments, DataLength));
        _file.Flush();
        _file.Position = 0;
        return _file;
    }

    private void EndSegment()
    {
        if (_member is null)
        {
            return;
        }

        _member.Dispose();
        _member = null;
        _segments.Add(new RunSegment(_sensorId!, _day, _start, _file.Position - _start, _events, _bytes, _minTicks, _maxTicks, _maxSeq));
    }

    public async ValueTask DisposeAsync()
    {
        if (_member is not null)
        {
            await _member.DisposeAsync();
        }

        await _file.DisposeAsync();
    }
}
