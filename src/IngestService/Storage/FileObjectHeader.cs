using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace IngestService.Storage;

/// <summary>
/// The header the file-system store puts before an object's content: the ETag (the first 16 bytes of the
/// content's SHA-256) and the metadata, so content, ETag and metadata change together in one rename. Files
/// written by others (the local raw sink) have none; their ETag is made from length and modification time.
/// </summary>
internal static class FileObjectHeader
{
    // The header travels in the extra field (subfield "IS") of an empty gzip member placed before the content:
    // gzip readers skip such a member, so a sensor-day file on disk is still a plain .ndjson.gz to zcat.
    // Inside: "\0ios1 " + 32 hex ETag + " " + 8 hex length of the whole prefix + "\n" + metadata JSON + "\n".
    private static readonly byte[] GzipMemberStart = [0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff];
    private static readonly byte[] GzipMemberEnd = [0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
    private const int HeaderOffset = 16;
    private static readonly byte[] Magic = "\0ios1 "u8.ToArray();
    private const int EtagOffset = HeaderOffset + 6;
    private const int EtagLength = 32;
    private const int FirstLineLength = EtagOffset + EtagLength + 1 + 8 + 1;

    public readonly record struct Header(string ETag, int Length, IReadOnlyDictionary<string, string>? Metadata);

    /// <summary>Writes header and content to a new file and flushes it; answers the ETag.</summary>
    public static async Task<string> WriteAsync(string temporary, Stream content, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        var metadataLine = JsonSerializer.SerializeToUtf8Bytes(metadata ?? new Dictionary<string, string>(), StoreJsonContext.Default.IReadOnlyDictionaryStringString);
        var subfieldLength = FirstLineLength - HeaderOffset + metadataLine.Length + 1;
        var headerLength = HeaderOffset + subfieldLength + GzipMemberEnd.Length;
        var header = new byte[headerLength];
        GzipMemberStart.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(10), checked((ushort)(subfieldLength + 4)));
        header[12] = (byte)'I';
        header[13] = (byte)'S';
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(14), (ushort)subfieldLength);
        Magic.CopyTo(header, HeaderOffset);
        header.AsSpan(EtagOffset, EtagLength).Fill((byte)'0');
        header[EtagOffset + EtagLength] = (byte)' ';
        Encoding.ASCII.GetBytes(headerLength.ToString("x8", System.Globalization.CultureInfo.InvariantCulture), header.AsSpan(EtagOffset + EtagLength + 1));
        header[FirstLineLength - 1] = (byte)'\n';
        metadataLine.CopyTo(header, FirstLineLength);
        header[FirstLineLength + metadataLine.Length] = (byte)'\n';
        GzipMemberEnd.CopyTo(header, headerLength - GzipMemberEnd.Length);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var handle = File.OpenHandle(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous);
        await RandomAccess.WriteAsync(handle, header, 0, cancellationToken);
        long offset = headerLength;
        var buffer = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            int read;
            while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await RandomAccess.WriteAsync(handle, buffer.AsMemory(0, read), offset, cancellationToken);
                offset += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var hex = Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, EtagLength / 2));
        await RandomAccess.WriteAsync(handle, Encoding.ASCII.GetBytes(hex), EtagOffset, cancellationToken);
        RandomAccess.FlushToDisk(handle);
        return Quote(hex);
    }

    /// <summary>
    /// Writes the content alone to a new file and flushes it, for readers outside the service; answers null, as its
    /// ETag (length and modification time, as for any file without a header) is known only once it is in place.
    /// </summary>
    public static async Task<string?> WritePlainAsync(string temporary, Stream content, CancellationToken cancellationToken)
    {
        await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 128 * 1024, FileOptions.Asynchronous))
        {
            await content.CopyToAsync(file, cancellationToken);
            file.Flush(flushToDisk: true);
        }

        return null;
    }

    public static async Task<string?> CurrentETagAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous);
            return (await ReadAsync(stream, withMetadata: false, cancellationToken)).ETag;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public static async Task<Header> ReadAsync(FileStream stream, bool withMetadata, CancellationToken cancellationToken)
    {
        var first = new byte[FirstLineLength];
        var read = await stream.ReadAtLeastAsync(first, first.Length, throwOnEndOfStream: false, cancellationToken);
        if (read < FirstLineLength || !first.AsSpan(0, 4).SequenceEqual(GzipMemberStart.AsSpan(0, 4)) || first[12] != 'I' || first[13] != 'S'
            || !first.AsSpan(HeaderOffset, Magic.Length).SequenceEqual(Magic))
        {
            // Written by someone else: no header, no metadata.
            var modified = File.GetLastWriteTimeUtc(stream.SafeFileHandle).Ticks;
            return new Header(Quote($"{stream.Length:x}-{modified:x}"), 0, withMetadata ? new Dictionary<string, string>() : null);
        }

        var etag = Quote(Encoding.ASCII.GetString(first, EtagOffset, EtagLength));
        var length = int.Parse(first.AsSpan(EtagOffset + EtagLength + 1, 8), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
        IReadOnlyDictionary<string, string>? metadata = null;
        if (withMetadata)
        {
            var line = new byte[length - FirstLineLength - GzipMemberEnd.Length];
            await stream.ReadExactlyAsync(line, cancellationToken);
            metadata = JsonSerializer.Deserialize(line.AsSpan(0, line.Length - 1), StoreJsonContext.Default.DictionaryStringString);
        }

        return new Header(etag, length, metadata);
    }

    private static string Quote(string value) => $"\"{value}\"";
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class StoreJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
