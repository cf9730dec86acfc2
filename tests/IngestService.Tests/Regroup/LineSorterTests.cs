using System.Text;
using IngestService.Events;
using IngestService.Regroup;
using IngestService.Storage.Runs;
using static IngestService.Tests.Regroup.RegroupFixture;

namespace IngestService.Tests.Regroup;

/// <summary>The pass's sort: in memory and through spilled chunks, the store's order and union, whatever the lines.</summary>
public sealed class LineSorterTests
{
    [Theory]
    [InlineData(1, 64L * 1024 * 1024)] // all in memory
    [InlineData(2, 4096)]              // a spill every dozen lines
    [InlineData(3, 1)]                 // a spill every chunk
    public async Task Lines_come_out_in_the_stores_order_each_identity_once(int seed, long memoryBytes)
    {
        var random = new Random(seed);
        var lines = new List<StoredLine>();
        for (var i = 0; i < 3000; i++)
        {
            // Few sensors that differ in case only, few timestamps, seqs missing or repeated: every tie the order breaks.
            var sensor = random.Next(4) switch { 0 => "s1", 1 => "S1", 2 => "s10", _ => "s2" };
            long? seq = random.Next(5) == 0 ? null : random.Next(50);
            var ts = $"2026-11-21T10:00:0{random.Next(3)}.000Z";
            var line = Line(sensor, seq, ts, $"{{\"v\":{random.Next(3)}}}");
            lines.Add(StoredLine.TryParse(Encoding.UTF8.GetBytes(line))!);
        }

        var sorted = new List<StoredLine>();
        var duplicates = new DuplicateCounter();
        await using (var sorter = new LineSorter(memoryBytes))
        {
            foreach (var chunk in lines.Chunk(64))
            {
                sorter.Add([.. chunk]);
            }

            await foreach (var line in sorter.SortedAsync(duplicates, CancellationToken.None))
            {
                sorted.Add(line);
            }
        }

        var expected = LineMerge.Distinct(lines.Order(LineMerge.Order), null).ToList();
        Assert.Equal(expected.Select(l => Encoding.UTF8.GetString(l.Bytes)), sorted.Select(l => Encoding.UTF8.GetString(l.Bytes)));
        Assert.Equal(lines.Count - expected.Count, duplicates.Count);
        Assert.True(duplicates.Count > 0);
    }
}
