using System.Globalization;
using System.Text;
using IngestService.Ingest;

namespace IngestService.Tests.RoundTrip;

/// <summary>
/// One generated event: the exact text a sensor sends, whether the contract says ingest must accept it,
/// and what every read format must give back for it.
/// </summary>
public sealed record GeneratedEvent(string SensorId, string Body, bool Valid, string Why, string Id, string Ts, long? Seq, IReadOnlyDictionary<string, string?> Fields)
{
    /// <summary>The event as the store keeps it: trimmed, line breaks between tokens turned into spaces.</summary>
    public string Stored => Body.TrimStart('\uFEFF').Trim(' ', '\t', '\r', '\n').Replace('\r', ' ').Replace('\n', ' ');

    public string Day => Ts[..10];
}

/// <summary>
/// Random events from a seeded <see cref="Random"/>: nesting up to and past the limit, every string escape,
/// BMP and astral characters raw and as escaped surrogate pairs, numbers of every shape, <c>seq</c> present,
/// null or absent, and <c>ts</c> in every form RFC 3339 allows. A few are made invalid on purpose (a lone
/// surrogate, one level too deep); the rest must be accepted. Field values are kept alongside as the text
/// the CSV format gives (strings decoded, numbers and literals as written, nested values as stored JSON).
/// </summary>
public sealed class EventGenerator(int seed)
{
    private static readonly string[] EnvelopeNames = ["sensorId", "receivedAt"];
    private static readonly string[] Numbers =
    [
        "0", "-0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808", "18446744073709551616",
        "123456789012345678901234567890", "3.14", "-0.5", "0.0", "1.0", "1e3", "1E3", "1e+3", "1e-3", "-2.5E-7",
        "6.02214076e23", "1e308", "1e400", "-1e400", "1e-400", "5e-324", "0.1000000000000000055511151231257827",
        "4.9406564584124654e-324", "1.7976931348623157e308", "0e0", "-0.0e-0",
    ];

    private static readonly DateTime[] Days =
    [
        new(2026, 11, 20), new(2026, 11, 21), new(2026, 11, 22), new(2024, 2, 29), new(2000, 1, 1),
        new(1970, 1, 1), new(1, 1, 2),
    ];

    private readonly Random _random = new(seed);
    private readonly Dictionary<string, long> _nextSeq = [];
    private int _count;

    /// <param name="sensorId">The sensor that sends it; <c>seq</c> increases per sensor.</param>
    /// <param name="newlines">Whether whitespace between tokens may hold line breaks (not inside a backlog line).</param>
    /// <param name="invalid">Make this event one that ingest must reject.</param>
    public GeneratedEvent Next(string sensorId, bool newlines, bool invalid)
    {
        var id = $"e{_count++:D6}";
        var why = invalid ? (_random.Next(2) == 0 ? "lone surrogate" : "too deep") : "";
        var badTs = invalid && why == "lone surrogate" && _random.Next(4) == 0;
        var (tsText, tsUtc) = Timestamp(badTs);

        // Top-level members in random order: ts, the id that finds the event again, maybe seq, others.
        var members = new List<(string NameJson, string Name, string ValueJson, string? Text)>
        {
            ("\"ts\"", "ts", tsText, badTs ? null : Decode(tsText)),
            ("\"id\"", "id", $"\"{id}\"", id),
        };
        long? seq = null;
        switch (_random.Next(3))
        {
            case 0:
                seq = NextSeq(sensorId);
                members.Add(("\"seq\"", "seq", seq.Value.ToString(CultureInfo.InvariantCulture), seq.Value.ToString(CultureInfo.InvariantCulture)));
                break;
            case 1:
                members.Add(("\"seq\"", "seq", "null", null));
                break;
        }

        var names = new HashSet<string>(StringComparer.Ordinal) { "ts", "id", "seq" };
        var fields = _random.Next(7);
        for (var f = 0; f < fields; f++)
        {
            var (nameJson, name) = Name();
            if (!names.Add(name))
            {
                continue;
            }

            var value = Value(depth: 2, newlines);
            members.Add((nameJson, name, value.Json, value.Text));
        }

        if (invalid && why == "too deep")
        {
            // One past the limit: the event's own object plus MaxDepth nested arrays.
            var depth = EventParser.MaxDepth;
            members.Add(("\"deep\"", "deep", new string('[', depth) + "1" + new string(']', depth), null));
        }
        else if (!invalid && _random.Next(20) == 0 && names.Add("deep"))
        {
            // Exactly at the limit: the event's own object plus MaxDepth − 1 nested arrays.
            var depth = EventParser.MaxDepth - 1;
            var deep = new string('[', depth) + "1" + new string(']', depth);
            members.Add(("\"deep\"", "deep", deep, deep));
        }
        else if (invalid && !badTs)
        {
            var lone = _random.Next(4) switch
            {
                0 => "\\uD800",
                1 => "\\udfff",
                2 => "\\uDC00\\uD800",
                _ => "\\uDBFF\\u0041",
            };
            if (_random.Next(2) == 0)
            {
                members.Add(($"\"bad{lone}\"", "bad", "1", "1"));
            }
            else
            {
                members.Add(("\"bad\"", "bad", $"{{\"x\":[\"a{lone}b\"]}}", null));
            }
        }

        Shuffle(members);
        var body = new StringBuilder();
        if (newlines && _random.Next(10) == 0)
        {
            body.Append('\uFEFF');
        }

        body.Append(Space(newlines)).Append('{');
        for (var m = 0; m < members.Count; m++)
        {
            if (m > 0)
            {
                body.Append(',');
            }

            body.Append(Space(newlines)).Append(members[m].NameJson).Append(Space(newlines)).Append(':').Append(Space(newlines)).Append(members[m].ValueJson).Append(Space(newlines));
        }

        body.Append('}').Append(Space(newlines));

        var expected = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (_, name, valueJson, text) in members)
        {
            expected[name] = valueJson.StartsWith('{') || valueJson.StartsWith('[') ? Stored(valueJson) : text;
        }

        return new GeneratedEvent(sensorId, body.ToString(), !invalid, why, id, FormatUtc(tsUtc), seq, expected);
    }

    private static string Stored(string json) => json.Replace('\r', ' ').Replace('\n', ' ');

    private long NextSeq(string sensorId)
    {
        // Increasing per sensor, in steps from 1 to huge, so small and 19-digit values both occur.
        _nextSeq.TryGetValue(sensorId, out var next);
        var step = _random.Next(4) == 0 ? _random.NextInt64(1, 1L << 56) : _random.Next(1, 1000);
        var seq = next == 0 && _random.Next(10) == 0 ? 0 : next + step;
        _nextSeq[sensorId] = seq + 1;
        return seq;
    }

    /// <summary>A timestamp as sent (JSON string, perhaps with escapes) and the UTC instant it means.</summary>
    private (string Json, DateTime Utc) Timestamp(bool loneSurrogate)
    {
        var day = Days[_random.Next(Days.Length)];
        var digits = _random.Next(5) == 0 ? 0 : _random.Next(1, 13);
        var ticks = _random.NextInt64(TimeSpan.TicksPerDay);
        var kept = Math.Min(digits, 7);
        var unit = kept == 0 ? TimeSpan.TicksPerSecond : (long)Math.Pow(10, 7 - kept);
        var utc = day.AddTicks(ticks - (ticks % unit));
        var offsetMinutes = _random.Next(3) == 0 ? 0 : _random.Next(-23 * 60 - 59, 23 * 60 + 60);
        var local = utc.AddMinutes(offsetMinutes);

        var text = new StringBuilder();
        text.Append(local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        text.Append("Tt "[_random.Next(3)]);
        text.Append(local.ToString("HH:mm:ss", CultureInfo.InvariantCulture));
        if (digits > 0)
        {
            var fraction = (local.Ticks % TimeSpan.TicksPerSecond).ToString("D7", CultureInfo.InvariantCulture)[..kept];
            text.Append('.').Append(fraction);
            for (var extra = kept; extra < digits; extra++)
            {
                text.Append((char)('0' + _random.Next(10)));
            }
        }

        if (offsetMinutes == 0 && _random.Next(3) > 0)
        {
            text.Append("Zz"[_random.Next(2)]);
        }
        else
        {
            var sign = offsetMinutes < 0 || (offsetMinutes == 0 && _random.Next(2) == 0) ? '-' : '+';
            var abs = Math.Abs(offsetMinutes);
            text.Append(CultureInfo.InvariantCulture, $"{sign}{abs / 60:D2}:{abs % 60:D2}");
        }

        var json = new StringBuilder("\"");
        foreach (var c in text.ToString())
        {
            json.Append(_random.Next(12) == 0 ? $"\\u{(int)c:X4}" : c.ToString());
        }

        if (loneSurrogate)
        {
            json.Insert(1 + _random.Next(text.Length), "\\uD800");
        }

        return (json.Append('"').ToString(), utc);
    }

    private static string FormatUtc(DateTime utc)
    {
        var fraction = (utc.Ticks % TimeSpan.TicksPerSecond).ToString("D7", CultureInfo.InvariantCulture);
        var digits = 7;
        while (digits > 3 && fraction[digits - 1] == '0')
        {
            digits--;
        }

        return utc.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture) + "." + fraction[..digits] + "Z";
    }

    private (string Json, string Name) Name()
    {
        if (_random.Next(12) == 0)
        {
            // Names that collide with envelope columns, which CSV and Parquet prefix with "event.", and names that
            // would collide with such a prefixed column.
            var envelope = EnvelopeNames[_random.Next(EnvelopeNames.Length)];
            var name = _random.Next(3) switch { 0 => envelope, 1 => "event." + envelope, _ => "event.event." + envelope };
            return ($"\"{name}\"", name);
        }

        var (json, text) = String(maxPieces: 4);
        return text.Length == 0 ? ("\"f\"", "f") : (json, text);
    }

    /// <summary>A JSON value and its CSV text (null for JSON null; nested values are replaced by their stored text).</summary>
    private (string Json, string? Text) Value(int depth, bool newlines)
    {
        switch (_random.Next(depth > 6 ? 4 : 7))
        {
            case 0:
                var s = String(maxPieces: 8);
                return (s.Json, s.Text);
            case 1:
                var n = _random.Next(3) == 0 ? Numbers[_random.Next(Numbers.Length)] : RandomNumber();
                return (n, n);
            case 2:
                var literal = new[] { "true", "false", "null" }[_random.Next(3)];
                return (literal, literal == "null" ? null : literal);
            case 3:
                var i = _random.NextInt64(long.MinValue, long.MaxValue).ToString(CultureInfo.InvariantCulture);
                return (i, i);
            case 4 or 5:
                var items = new List<string>();
                for (var k = _random.Next(4); k > 0; k--)
                {
                    items.Add(Value(depth + 1, newlines).Json);
                }

                var array = "[" + Space(newlines) + string.Join("," + Space(newlines), items) + Space(newlines) + "]";
                return (array, array);
            default:
                var members = new List<string>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (var k = _random.Next(4); k > 0; k--)
                {
                    var (nameJson, name) = Name();
                    if (seen.Add(name))
                    {
                        members.Add(nameJson + Space(newlines) + ":" + Space(newlines) + Value(depth + 1, newlines).Json);
                    }
                }

                var obj = "{" + Space(newlines) + string.Join("," + Space(newlines), members) + Space(newlines) + "}";
                return (obj, obj);
        }
    }

    private string RandomNumber()
    {
        var text = new StringBuilder();
        if (_random.Next(3) == 0)
        {
            text.Append('-');
        }

        text.Append(_random.Next(4) == 0 ? "0" : Digits(_random.NextInt64(1, long.MaxValue)));
        if (_random.Next(2) == 0)
        {
            text.Append('.').Append(Digits(_random.NextInt64(0, long.MaxValue)));
        }

        if (_random.Next(3) == 0)
        {
            text.Append("eE"[_random.Next(2)]).Append(new[] { "", "+", "-" }[_random.Next(3)]).Append(_random.Next(0, 500));
        }

        return text.ToString();
    }

    private string Digits(long value)
    {
        var digits = value.ToString(CultureInfo.InvariantCulture);
        return digits[..Math.Min(digits.Length, _random.Next(1, 20))];
    }

    /// <summary>A JSON string literal of random pieces, and the text it decodes to.</summary>
    private (string Json, string Text) String(int maxPieces)
    {
        var json = new StringBuilder("\"");
        var text = new StringBuilder();
        for (var p = _random.Next(maxPieces + 1); p > 0; p--)
        {
            switch (_random.Next(12))
            {
                case 0:
                    // Characters JSON must or may escape, in their short forms.
                    var (escape, c) = new[] { ("\\\"", '"'), ("\\\\", '\\'), ("\\/", '/'), ("\\b", '\b'), ("\\f", '\f'), ("\\n", '\n'), ("\\r", '\r'), ("\\t", '\t') }[_random.Next(8)];
                    json.Append(escape);
                    text.Append(c);
                    break;
                case 1:
                    // A control character or any BMP character outside the surrogates as \uXXXX, hex in either case.
                    var code = _random.Next(3) == 0 ? _random.Next(0x20) : _random.Next(0x20, 0xD800);
                    var hex = code.ToString("X4", CultureInfo.InvariantCulture);
                    json.Append("\\u").Append(_random.Next(2) == 0 ? hex : hex.ToLowerInvariant());
                    text.Append((char)code);
                    break;
                case 2:
                    // An astral character as an escaped surrogate pair.
                    var astral = char.ConvertFromUtf32(_random.Next(0x10000, 0x110000));
                    json.Append(CultureInfo.InvariantCulture, $"\\u{(int)astral[0]:X4}\\u{(int)astral[1]:x4}");
                    text.Append(astral);
                    break;
                case 3:
                    // An astral character raw, as four UTF-8 bytes.
                    var raw = char.ConvertFromUtf32(_random.Next(0x10000, 0x110000));
                    json.Append(raw);
                    text.Append(raw);
                    break;
                case 4:
                    var bmp = new[] { "é", "中文", "\u2028", "\u2029", "\uFEFF", "\u00A0", "Ω", "\uFFFD", "\uE000", "\uFFFF" }[_random.Next(10)];
                    json.Append(bmp);
                    text.Append(bmp);
                    break;
                case 5:
                    // What CSV has to quote.
                    var csv = new[] { ",", "\\\"", "a,b", "\\r\\n", "\\n", "'" }[_random.Next(6)];
                    json.Append(csv);
                    text.Append(csv.Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\r", "\r", StringComparison.Ordinal).Replace("\\n", "\n", StringComparison.Ordinal));
                    break;
                default:
                    var ascii = new string([.. Enumerable.Range(0, _random.Next(1, 8)).Select(_ => (char)_random.Next(0x20, 0x7F)).Where(ch => ch is not ('"' or '\\'))]);
                    json.Append(ascii);
                    text.Append(ascii);
                    break;
            }
        }

        return (json.Append('"').ToString(), text.ToString());
    }

    private string Space(bool newlines) => _random.Next(4) != 0 ? "" : _random.Next(newlines ? 6 : 4) switch
    {
        0 => " ",
        1 => "\t",
        2 => "  \t ",
        3 => "\r",
        4 => "\n",
        _ => "\r\n  ",
    };

    private static string Decode(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return doc.RootElement.GetString()!;
    }

    private void Shuffle<T>(List<T> list)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = _random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
