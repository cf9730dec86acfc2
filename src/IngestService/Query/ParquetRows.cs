using IngestService.Events.Columns;
using Parquet;

namespace IngestService.Query;

/// <summary>
/// Writes Parquet answers: <c>sensorId</c>, <c>seq</c>, <c>ts</c> and <c>receivedAt</c> (UTC timestamps, milliseconds),
/// then the inferred event columns; one row group per day, each sent to the client before the next is built.
/// </summary>
public sealed class ParquetRows : IAsyncDisposable
{
    public const string ContentType = "application/vnd.apache.parquet";

    private readonly Stream _body;
    private readonly ChunkedOutput _output;
    private readonly ParquetWriter _writer;
    private readonly ParquetRowBatch _rows;

    private ParquetRows(Stream body, ParquetWriter writer, ParquetRowBatch rows, ChunkedOutput output)
    {
        _body = body;
        _writer = writer;
        _rows = rows;
        _output = output;
    }

    public static async Task<ParquetRows> CreateAsync(Stream body, IReadOnlyList<(string Name, FieldKind Kind)> columns, CancellationToken cancellationToken)
    {
        var rows = new ParquetRowBatch(columns, int.MaxValue);
        var output = new ChunkedOutput();
        var writer = await ParquetWriter.CreateAsync(rows.Schema, output, cancellationToken: cancellationToken);
        await output.DrainToAsync(body, cancellationToken);
        return new ParquetRows(body, writer, rows, output);
    }

    /// <summary>Writes <paramref name="day"/> as one row group and sends it.</summary>
    public async Task WriteDayAsync(DayLines day, CancellationToken cancellationToken)
    {
        foreach (var line in day.Lines)
        {
            _rows.Add(line.Span);
        }

        await _rows.WriteAsync(_writer, cancellationToken);
        await _output.DrainToAsync(_body, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        // Disposing the writer writes the footer into the buffer; it is then sent.
        await _writer.DisposeAsync();
        await _output.DrainToAsync(_body, CancellationToken.None);
    }

    /// <summary>
    /// Where Parquet.Net writes: it needs a position, which this counts, while the bytes are held only until
    /// the row group is complete and then sent, so the response never holds more than one row group.
    /// </summary>
    private sealed class ChunkedOutput : Stream
    {
        private readonly MemoryStream _pending = new();
        private long _sent;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _sent + _pending.Length;

        public override long Position { get => Length; set => throw new NotSupportedException(); }

        public async Task DrainToAsync(Stream body, CancellationToken cancellationToken)
        {
            if (_pending.Length == 0)
            {
                return;
            }

            await body.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), cancellationToken);
            await body.FlushAsync(cancellationToken);
            _sent += _pending.Length;
            _pending.SetLength(0);
        }

        public override void Write(byte[] buffer, int offset, int count) => _pending.Write(buffer, offset, count);

        public override void Write(ReadOnlySpan<byte> buffer) => _pending.Write(buffer);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            _pending.Write(buffer, offset, count);
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _pending.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
