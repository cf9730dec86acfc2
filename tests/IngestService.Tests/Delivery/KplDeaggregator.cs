using System.Security.Cryptography;
using Google.Protobuf;

namespace IngestService.Tests.Delivery;

/// <summary>
/// Takes a KPL aggregated record apart with Google.Protobuf's reader, an implementation independent of the
/// service's hand-written encoder, checking the magic bytes and the MD5 trailer on the way.
/// </summary>
public static class KplDeaggregator
{
    private static readonly byte[] Magic = [0xF3, 0x89, 0x9A, 0xC2];

    public static List<(string PartitionKey, byte[] Data)> Deaggregate(byte[] record)
    {
        Assert.True(record.AsSpan(0, 4).SequenceEqual(Magic), "no KPL magic bytes");
        var body = record.AsSpan(4, record.Length - 4 - 16);
        Assert.True(MD5.HashData(body).AsSpan().SequenceEqual(record.AsSpan(record.Length - 16)), "MD5 trailer does not match");

        List<string> keys = [];
        List<(int Key, byte[] Data)> records = [];
        var input = new CodedInputStream(body.ToArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    keys.Add(input.ReadString());
                    break;
                case 3:
                    var inner = new CodedInputStream(input.ReadBytes().ToByteArray());
                    int? key = null;
                    byte[]? data = null;
                    uint innerTag;
                    while ((innerTag = inner.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(innerTag))
                        {
                            case 1:
                                key = (int)inner.ReadUInt64();
                                break;
                            case 3:
                                data = inner.ReadBytes().ToByteArray();
                                break;
                            default:
                                inner.SkipLastField();
                                break;
                        }
                    }

                    records.Add((key ?? throw new InvalidDataException("record without partition_key_index"), data ?? throw new InvalidDataException("record without data")));
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        return [.. records.Select(r => (keys[r.Key], r.Data))];
    }
}
