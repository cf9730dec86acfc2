using System.Globalization;
using System.IO.Compression;
using System.Text;
using IngestService.Events;

namespace IngestService.Tests.Events;

/// <summary>
/// Every byte of a raw object is read as lines or reported: gzip members with and without a stated length, plain
/// lines after either, Firehose's own GZIP around our records, and objects cut short. Set <c>GZIP_SEED</c> to
/// replay the generated mixes.
/// </summary>
public sealed class MixedGzipStreamTests
{
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("GZIP_SEED"), CultureInfo.InvariantCulture, out var seed) ? seed : Environment.TickCount;

    [Fact]
    public async Task Plain_lines_after_a_gzip_member_without_a_stated_length_are_read()
    {
        var lines = await ReadAsync([.. Gzip("a\nb\n"), .. Plain("c\nd\n")]);

        Assert.Equal(["a", "b", "c", "d"], lines);
    }

    [Fact]
    public async Task Members_without_a_stated_length_back_to_back_then_plain_then_a_stated_one_are_all_read()
    {
        var lines = await ReadAsync([.. Gzip("a\n"), .. Gzip("b\nc\n"), .. Plain("d\n"), .. Delimited("e\n"), .. Gzip("f\n")]);

        Assert.Equal(["a", "b", "c", "d", "e", "f"], lines);
    }

    [Fact]
    public async Task An_empty_member_whose_trailer_is_all_zeros_is_followed_by_its_lines()
    {
        var lines = await ReadAsync([.. EmptyMember, .. Plain("a\n"), .. EmptyMember, .. EmptyMember, .. Gzip("b\n"), .. EmptyMember]);

        Assert.Equal(["a", "b"], lines);
    }

    [Fact]
    public async Task A_large_member_without_a_stated_length_ends_where_its_trailer_says_and_the_lines_after_it_are_read()
    {
        var big = string.Concat(Enumerable.Range(0, 40_000).Select(i => $"{{\"n\":{i},\"pad\":\"{new string((char)('a' + (i % 26)), i % 50)}\"}}\n"));

        var lines = await ReadAsync([.. Gzip(big), .. Plain("after\n")]);

        Assert.Equal(40_001, lines.Count);
        Assert.Equal("after", lines[^1]);
    }

    [Fact]
    public async Task Many_small_members_are_read_with_the_buffer_they_started_with()
    {
        // A run's segment after compactions that copy: one member per pass, thousands back to back. Putting back
        // what the inflater took past a member's end used to double the buffer whenever the last read had filled it.
        var members = Enumerable.Range(0, 5_000).Select(i => Gzip($"{{\"seq\":{i},\"note\":\"{new string('x', i % 300)}\"}}\n", CompressionLevel.Fastest)).ToList();
        await using var stream = new MixedGzipStream(new MemoryStream([.. members.SelectMany(m => m)]));
        var before = stream.BufferLength;

        var text = Encoding.UTF8.GetString(await ReadAllAsync(stream));

        Assert.Equal(5_000, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(before, stream.BufferLength);
    }

    [Fact]
    public async Task Firehose_GZIP_around_our_gzip_records_and_plain_ones_gives_every_line()
    {
        byte[] delivered = [.. Delimited("a\nb\n"), .. Plain("c\n"), .. Delimited("d\n"), .. Plain("e\n")];

        var lines = await ReadAsync([.. Gzip(delivered), .. Gzip(Delimited("f\n"))]);

        Assert.Equal(["a", "b", "c", "d", "e", "f"], lines);
    }

    [Fact]
    public async Task A_member_without_a_stated_length_cut_short_is_an_error_not_a_clean_end()
    {
        var member = Gzip(string.Concat(Enumerable.Range(0, 1000).Select(i => $"line {i}\n")));

        foreach (var cut in new[] { member.Length - 1, member.Length - 4, member.Length - 8, member.Length / 2, 12 })
        {
            var error = await Record.ExceptionAsync(() => ReadAsync([.. Plain("before\n"), .. member[..cut]]));
            Assert.True(error is TruncatedGzipException, $"cut at {cut} of {member.Length}: {error}");
        }
    }

    [Fact]
    public async Task A_member_with_a_stated_length_cut_short_is_an_error_not_a_clean_end()
    {
        var member = Delimited("a\nb\n");

        await Assert.ThrowsAsync<TruncatedGzipException>(() => ReadAsync(member[..^3]));
    }

    [Fact]
    public async Task A_member_whose_data_does_not_match_its_trailer_is_corrupt()
    {
        var member = Gzip("a\nb\n");
        member[^6] ^= 0xff;

        await Assert.ThrowsAsync<InvalidDataException>(() => ReadAsync([.. member, .. Plain("c\n")]));
    }

    [Fact]
    public async Task Generated_mixes_of_plain_lines_and_members_of_every_kind_read_back_line_for_line()
    {
        var random = new Random(Seed);
        for (var run = 0; run < 200; run++)
        {
            var expected = new List<string>();
            var raw = new List<byte>();
            var parts = random.Next(1, 8);
            var kinds = new List<string>();
            for (var p = 0; p < parts; p++)
            {
                var lines = Enumerable.Range(0, random.Next(0, random.Next(2) == 0 ? 5 : 3000))
                    .Select(i => $"{{\"run\":{run},\"part\":{p},\"i\":{i},\"r\":\"{new string('x', random.Next(0, 200))}\"}}").ToList();
                var text = string.Concat(lines.Select(l => l + "\n"));
                expected.AddRange(lines);
                var kind = random.Next(4);
                kinds.Add($"{kind}:{lines.Count}");
                raw.AddRange(lines.Count == 0 ? (kind == 0 ? [] : EmptyMember) : kind switch
                {
                    0 => Plain(text),
                    1 => Delimited(text),
                    2 => Gzip(text, random.Next(2) == 0 ? CompressionLevel.Fastest : CompressionLevel.SmallestSize),
                    _ => Gzip([.. Delimited(text)]),
                });
            }

            var read = await ReadAsync([.. raw]);

            var differ = expected.Zip(read).TakeWhile(x => x.First == x.Second).Count();
            Assert.True(expected.SequenceEqual(read), $"seed {Seed}, run {run}: {read.Count} lines read for {expected.Count} written, first difference at {differ}: {read.ElementAtOrDefault(differ)?[..Math.Min(80, read[differ].Length)]} / {(differ < expected.Count ? expected[differ][..Math.Min(80, expected[differ].Length)] : "")}; parts {string.Join(",", kinds)}");
        }
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private static async Task<List<string>> ReadAsync(byte[] raw)
    {
        var lines = new List<string>();
        await foreach (var line in LineReader.ReadAsync(new MemoryStream(raw), CancellationToken.None))
        {
            lines.Add(Encoding.UTF8.GetString(line.Bytes.Span));
        }

        return lines;
    }

    /// <summary>A member of no data, as some writers close an empty file (GZipStream writes nothing at all then).</summary>
    private static byte[] EmptyMember => [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private static byte[] Plain(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] Gzip(string text, CompressionLevel level = CompressionLevel.Optimal) => Gzip(Encoding.UTF8.GetBytes(text), level);

    private static byte[] Gzip(byte[] data, CompressionLevel level = CompressionLevel.Optimal)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, level, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>A member as <c>GzipRecords</c> writes a Firehose record: its length stated in the header.</summary>
    private static byte[] Delimited(string text)
    {
        var data = Encoding.UTF8.GetBytes(text);
        var buffer = new byte[data.Length + 1024];
        var output = new MemoryStream(buffer, DelimitedGzip.ExtraLength, buffer.Length - DelimitedGzip.ExtraLength, writable: true);
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return buffer[..DelimitedGzip.AddLength(buffer, (int)output.Position)];
    }
}
