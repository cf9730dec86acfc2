using IngestService.Events.Columns;
using IngestService.Storage;
using Parquet;

namespace IngestService.Export;

/// <summary>
/// Writes a fleet-day's rows as Parquet parts: rows gather into one row group (<c>Export:RowGroupEvents</c>), which
/// is then encoded into the part's scratch file; once the file passes <c>Export:PartBytes</c> the part is closed,
/// uploaded with one PUT (<c>If-None-Match: *</c>: part names are never reused) and a new one begun. Memory is one
/// row group, whatever the day's size; disk is one part.
/// </summary>
internal sealed class PartWriter(IObjectStore store, string folder, string id, IReadOnlyList<(string Name, FieldKind Kind)> columns, ExportOptions settings, string scratchFolder)
    : IAsyncDisposable
{
    private readonly ParquetRowBatch _rows = new(columns, settings.RowGroupEvents);
    private readonly List<string> _written = [];
    private FileStream? _file;
    private ParquetWriter? _writer;

    public long Events { get; private set; }

    /// <summary>Bytes uploaded so far.</summary>
    public long Bytes { get; private set; }

    public async Task AddAsync(ReadOnlyMemory<byte> line, CancellationToken cancellationToken)
    {
        _rows.Add(line.Span);
        Events++;
        if (_rows.IsFull)
        {
            await FlushRowGroupAsync(cancellationToken);
        }
    }

    /// <summary>Writes what is left and uploads the last part; answers the keys of every part, in order.</summary>
    public async Task<List<string>> FinishAsync(CancellationToken cancellationToken)
    {
        if (_rows.Count > 0)
        {
            await FlushRowGroupAsync(cancellationToken);
        }

        if (_writer is not null)
        {
            await UploadAsync(cancellationToken);
        }

        return _written;
    }

    private async Task FlushRowGroupAsync(CancellationToken cancellationToken)
    {
        if (_writer is null)
        {
            _file = new FileStream(Path.Combine(scratchFolder, $"{Guid.NewGuid():N}.parquet"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
                256 * 1024, FileOptions.DeleteOnClose);
            var parquet = new ParquetOptions
            {
                CompressionMethod = settings.Compression == ExportCompression.Snappy ? CompressionMethod.Snappy : CompressionMethod.Zstd,
            };
            _writer = await ParquetWriter.CreateAsync(_rows.Schema, _file, parquet, cancellationToken: cancellationToken);
        }

        await _rows.WriteAsync(_writer, cancellationToken);
        if (_file!.Length >= settings.PartBytes)
        {
            await UploadAsync(cancellationToken);
        }
    }

    private async Task UploadAsync(CancellationToken cancellationToken)
    {
        // Disposing the writer writes the footer (the schema and every row group's statistics).
        await _writer!.DisposeAsync();
        _writer = null;
        var file = _file!;
        _file = null;
        await using (file)
        {
            file.Position = 0;
            var key = FleetExport.PartName(folder, _written.Count, id);
            _ = await store.PutAsync(key, file, WriteCondition.CreateOnly, null, cancellationToken)
                ?? throw new IOException($"Export part {key} exists already; part names are never reused.");
            _written.Add(key);
            Bytes += file.Length;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }

        if (_file is not null)
        {
            await _file.DisposeAsync();
        }
    }
}
