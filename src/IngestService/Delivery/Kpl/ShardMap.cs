using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using IngestService.Aws;

namespace IngestService.Delivery.Kpl;

/// <summary>
/// Which open shard a partition key lands on: Kinesis hashes the key with MD5 into a 128-bit number and
/// picks the shard whose hash key range holds it. Aggregated records are put with an explicit hash key
/// inside that shard, so every event in them lands where its own key would have sent it.
/// </summary>
public sealed class ShardMap
{
    private readonly OpenShard[] _shards;

    public ShardMap(IEnumerable<Shard> shards)
    {
        _shards = [.. shards
            .Where(s => s.IsOpen && s.HashKeyRange is not null)
            .Select(s => new OpenShard(
                s.ShardId,
                UInt128.Parse(s.HashKeyRange!.StartingHashKey, CultureInfo.InvariantCulture),
                UInt128.Parse(s.HashKeyRange.EndingHashKey, CultureInfo.InvariantCulture),
                s.HashKeyRange.StartingHashKey))
            .OrderBy(s => s.Start)];
        if (_shards.Length == 0)
        {
            throw new InvalidOperationException("The stream has no open shard with a hash key range.");
        }
    }

    public int Count => _shards.Length;

    public static UInt128 HashKey(string partitionKey)
    {
        Span<byte> hash = stackalloc byte[16];
        MD5.HashData(Encoding.UTF8.GetBytes(partitionKey), hash);
        return new UInt128(
            BinaryPrimitives.ReadUInt64BigEndian(hash),
            BinaryPrimitives.ReadUInt64BigEndian(hash[8..]));
    }

    /// <summary>The index of the shard that owns <paramref name="partitionKey"/>.</summary>
    public int ShardOf(string partitionKey)
    {
        var key = HashKey(partitionKey);
        int low = 0, high = _shards.Length - 1;
        while (low < high)
        {
            var mid = (low + high + 1) / 2;
            if (_shards[mid].Start <= key)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }

        return low;
    }

    public string ShardId(int shard) => _shards[shard].Id;

    /// <summary>A hash key inside the shard: its first, as the decimal string PutRecords takes.</summary>
    public string ExplicitHashKey(int shard) => _shards[shard].StartText;

    private sealed record OpenShard(string Id, UInt128 Start, UInt128 End, string StartText);
}
