using System.Buffers;
using System.IO.Compression;
using IngestService.Events;

namespace IngestService.Storage.Runs;

/// <summary>
/// Writes a run to a scratch file from lines that arrive in <see cref="LineMerge.Order"/>, or from segments of
/// other runs copied as they are (<see cref="CopyAsync"/>): gzip members per (sensor, day), then the index.
/// Memory: one gzip member's buffers, whatever the run's size.
/// </summary>
public sealed class RunWriter : IAsyncDisposable
{
    private readonly FileStream _file;
    private readonly List<RunSegment> _segments = [];
    private GZipStream? _member;
    private string? _sensorId;
    private DateOnly _day;
    private long _start, _events, _bytes, _minTicks, _maxTicks, _minSeq, _maxSeq;

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
        Open(line.SensorId, line.Day);
        _member ??= new GZipStream(_file, CompressionLevel.Fastest, leaveOpen: true);
        _member.Write(line.Bytes);
        var seq = line.Seq ?? -1;
        Include(1, line.Bytes.Length, line.TsTicks, line.TsTicks, seq, seq);
    }

    /// <summary>
    /// Appends the gzip members of <paramref name="segment"/>, read from <paramref name="source"/>, to this run's
    /// segment of the same sensor-day, without inflating them; the caller keeps the segment's lines in order.
    /// </summary>
    public async Task CopyAsync(RunSegment segment, Stream source, CancellationToken cancellationToken)
    {
        Open(segment.SensorId, segment.Day);
        CloseMember();
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            for (var left = segment.Length; left > 0;)
            {
                var read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken);
                if (read == 0)
                {
                    throw new IOException($"A run ended inside the segment of {segment.SensorId} on {segment.Day:yyyy-MM-dd}.");
                }

                await _file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                left -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Include(segment.Events, segment.Bytes, segment.MinTicks, segment.MaxTicks, segment.MinSeq, segment.MaxSeq);
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

    private void Open(string sensorId, DateOnly day)
    {
        if (_sensorId is not null && string.Equals(sensorId, _sensorId, StringComparison.Ordinal) && day == _day)
        {
            return;
        }

        EndSegment();
        _sensorId = sensorId;
        _day = day;
        _start = _file.Position;
        _events = _bytes = 0;
        _minTicks = long.MaxValue;
        _maxTicks = long.MinValue;
        _minSeq = _maxSeq = -1;
    }

    private void Include(long events, long bytes, long minTicks, long maxTicks, long minSeq, long maxSeq)
    {
        _events += events;
        _bytes += bytes;
        _minTicks = Math.Min(_minTicks, minTicks);
        _maxTicks = Math.Max(_maxTicks, maxTicks);
        if (minSeq >= 0 && (_minSeq < 0 || minSeq < _minSeq))
        {
            _minSeq = minSeq;
        }

        _maxSeq = Math.Max(_maxSeq, maxSeq);
        Events += events;
    }

    private void CloseMember()
    {
        _member?.Dispose();
        _member = null;
    }

    private void EndSegment()
    {
        CloseMember();
        if (_sensorId is null)
        {
            return;
        }

        _segments.Add(new RunSegment(_sensorId, _day, _start, _file.Position - _start, _events, _bytes, _minTicks, _maxTicks, _minSeq, _maxSeq));
        _sensorId = null;
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
