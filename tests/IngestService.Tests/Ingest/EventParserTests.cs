using System.Text.Json;
using System.Text;
using IngestService.Events;
using IngestService.Ingest;

namespace IngestService.Tests.Ingest;

/// <summary>What the parser accepts must stay readable once stored: nesting and string escapes at their limits.</summary>
public sealed class EventParserTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    /// <summary><c>{"ts":…,"a":</c> then arrays, so the event nests <paramref name="depth"/> levels.</summary>
    private static string Nested(int depth) =>
        "{\"ts\":\"2026-11-21T10:00:00Z\",\"a\":" + new string('[', depth - 1) + new string(']', depth - 1) + "}";

    private static bool Parse(string json, out EventHeader header, out string? error) =>
        EventParser.TryParse(Encoding.UTF8.GetBytes(json), Now, TimeSpan.FromDays(1), out header, out error);

    [Fact]
    public void Every_depth_ingest_accepts_gives_a_stored_line_that_regroup_and_the_json_array_read_take()
    {
        for (var depth = 1; depth <= StoredLine.MaxReadDepth + 2; depth++)
        {
            var body = Encoding.UTF8.GetBytes(Nested(depth));
            if (!EventParser.TryParse(body, Now, TimeSpan.FromDays(1), out var header, out _))
            {
                continue;
            }

            var line = new byte[body.Length + 256];
            var length = Envelope.Write(line, "s1", header, Now, body) - 1;
            Assert.True(StoredLine.TryParse(line.AsSpan(0, length)) is not null, $"an event {depth} levels deep was accepted but its stored line does not parse");

            // The JSON array read, as an analyst's reader with System.Text.Json's default limit takes it.
            using var array = JsonDocument.Parse((byte[])[.. "["u8, .. line.AsSpan(0, length), .. "]"u8]);
            Assert.Equal(depth, Depth(array.RootElement[0].GetProperty("event")));
        }
    }

    private static int Depth(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => 1 + e.EnumerateObject().Select(p => Depth(p.Value)).DefaultIfEmpty(0).Max(),
        JsonValueKind.Array => 1 + e.EnumerateArray().Select(Depth).DefaultIfEmpty(0).Max(),
        _ => 0,
    };

    [Fact]
    public void An_event_nested_one_level_less_than_the_store_allows_is_accepted()
    {
        Assert.True(Parse(Nested(EventParser.MaxDepth), out _, out var error), error);
    }

    [Fact]
    public void An_event_whose_stored_line_would_nest_deeper_than_the_store_allows_is_rejected_naming_the_limit()
    {
        // The trigger from issue 15 is 64 levels in the event, 65 once the envelope wraps it; one less is
        // still 65 in the JSON array read.
        Assert.False(Parse(Nested(64), out _, out _));
        Assert.False(Parse(Nested(EventParser.MaxDepth + 1), out _, out var error));
        Assert.Contains($"at most {EventParser.MaxDepth} levels", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"\uDC00":1,"ts":"2026-11-21T10:00:00Z"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","\uD800":1}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"\uD800"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"x\uDFFFy"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"\uD800\u0041"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"\uDC00\uD800"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"\uD800\n"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"\uD83D\uD83D\uDE00"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":{"b":["\ud800"]}}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":{"\udc00":1}}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00\uD800Z"}""")]
    [InlineData("""{"ts":"\uD800"}""")]
    public void An_escaped_lone_surrogate_is_a_rejection_with_a_detail_not_an_exception(string json)
    {
        Assert.False(Parse(json, out _, out var error));
        Assert.Contains("surrogate", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"\uD83D\uDE00"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"\ud83d\ude00 and \uDBFF\uDFFF"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","\uD83D\uDE00":"😀"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"\\uD800"}""")]
    [InlineData("""{"ts":"2026-11-21T10:00:00Z","a":"\\\uD83D\uDE00\u00e9\"\/\b\f\n\r\t"}""")]
    [InlineData("""{"\u0074s":"\u0032026-11-21T10:00:00Z"}""")]
    public void Escaped_surrogate_pairs_and_other_escapes_are_accepted(string json)
    {
        Assert.True(Parse(json, out var header, out var error), error);
        Assert.Equal(new DateTimeOffset(2026, 11, 21, 10, 0, 0, TimeSpan.Zero), header.Ts);
    }
}
