using System.Buffers.Binary;

namespace IngestService.Events;

/// <summary>
/// A gzip member that states its own length, so a reader can find where it ends without inflating it: the
/// header's FEXTRA field holds one subfield <c>IL</c> with the member's total length (as BGZF does with <c>BC</c>).
/// Every gzip reader skips the extra field, so <c>zcat</c> and any gzip library read such members as usual.
/// </summary>
/// <remarks>
/// Firehose concatenates records from every node unchanged. A node with <c>Aws:FirehoseCompression=None</c>, or one
/// not yet upgraded, adds plain lines to the same object as gzip members, and a gzip reader stops at the first
/// byte after a member that is not another member: without lengths, the plain lines after it would be lost.
/// </remarks>
public static class DelimitedGzip
{
    /// <summary>What the length field adds to a member written by <see cref="System.IO.Compression.GZipStream"/>.</summary>
    public const int ExtraLength = 10;

    /// <summary>The fixed header that every gzip member starts with, before any optional field.</summary>
    public const int HeaderLength = 10;

    private const byte FlagExtra = 0x04;

    /// <summary>
    /// Adds the length field to a member that <see cref="System.IO.Compression.GZipStream"/> wrote at
    /// <c>buffer[ExtraLength..]</c>, moving its header to the front; the member is then <c>buffer[..(length + ExtraLength)]</c>.
    /// </summary>
    public static int AddLength(Span<byte> buffer, int length)
    {
        var total = length + ExtraLength;
        buffer.Slice(ExtraLength, HeaderLength).CopyTo(buffer);
        buffer[3] |= FlagExtra;
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[10..], 8);
        buffer[12] = (byte)'I';
        buffer[13] = (byte)'L';
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[14..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(buffer[16..], total);
        return total;
    }

    /// <summary>
    /// The length a member starting at <paramref name="head"/> (at least <see cref="HeaderLength"/> +
    /// <see cref="ExtraLength"/> bytes) states, or null when it is gzip without the field (another writer's).
    /// </summary>
    public static int? StatedLength(ReadOnlySpan<byte> head)
    {
        if (head.Length < HeaderLength + ExtraLength || head[0] != 0x1f || head[1] != 0x8b || (head[3] & FlagExtra) == 0
            || BinaryPrimitives.ReadUInt16LittleEndian(head[10..]) != 8 || head[12] != 'I' || head[13] != 'L'
            || BinaryPrimitives.ReadUInt16LittleEndian(head[14..]) != 4)
        {
            return null;
        }

        return BinaryPrimitives.ReadInt32LittleEndian(head[16..]);
    }
}
