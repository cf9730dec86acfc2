using System.Buffers.Text;

namespace IngestService.Events;

/// <summary>
/// Strict RFC 3339 timestamps over UTF-8, and the one UTC form the store writes.
/// </summary>
public static class Timestamp
{
    /// <summary>Length of the longest normalised form, <c>yyyy-MM-ddTHH:mm:ss.fffffffZ</c>.</summary>
    public const int MaxFormattedLength = 28;

    /// <summary>
    /// Parses <c>yyyy-MM-ddTHH:mm:ss[.fraction](Z|±HH:MM)</c>. A zone is required: a time without one
    /// means a different instant on every sensor. Fractions beyond 100 ns are truncated.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> s, out DateTimeOffset value, out string? error)
    {
        value = default;
        error = "ts must be an RFC 3339 timestamp with a zone, such as 2026-11-21T10:00:00.000Z";
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || s[10] is not ((byte)'T' or (byte)'t' or (byte)' ')
            || s[13] != ':' || s[16] != ':')
        {
            return false;
        }

        if (!TryDigits(s[..4], out var year) || !TryDigits(s[5..7], out var month) || !TryDigits(s[8..10], out var day)
            || !TryDigits(s[11..13], out var hour) || !TryDigits(s[14..16], out var minute) || !TryDigits(s[17..19], out var second))
        {
            return false;
        }

        var i = 19;
        long fractionTicks = 0;
        if (s[i] == '.')
        {
            var start = ++i;
            var scale = TimeSpan.TicksPerSecond / 10;
            while (i < s.Length && char.IsAsciiDigit((char)s[i]))
            {
                fractionTicks += (s[i] - '0') * scale;
                scale /= 10;
                i++;
            }

            if (i == start)
            {
                return false;
            }
        }

        if (i >= s.Length)
        {
            return false;
        }

        TimeSpan offset;
        if (s[i] is (byte)'Z' or (byte)'z')
        {
            offset = TimeSpan.Zero;
            i++;
        }
        else if (s[i] is (byte)'+' or (byte)'-' && s.Length - i == 6 && s[i + 3] == ':'
            && TryDigits(s.Slice(i + 1, 2), out var offsetHours) && TryDigits(s.Slice(i + 4, 2), out var offsetMinutes)
            && offsetHours <= 23 && offsetMinutes <= 59)
        {
            offset = new TimeSpan(offsetHours, offsetMinutes, 0);
            if (s[i] == '-')
            {
                offset = -offset;
            }

            i += 6;
        }
        else
        {
            return false;
        }

        if (i != s.Length)
        {
            return false;
        }

        if (second == 60)
        {
            error = "ts is a leap second (:60), which cannot be stored; send :59.999 or the next second";
            return false;
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            error = "ts names a date or time that does not exist";
            return false;
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(fractionTicks);
        var utcTicks = local.Ticks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            error = "ts is outside the years 0001 to 9999 once converted to UTC";
            return false;
        }

        value = new DateTimeOffset(utcTicks, TimeSpan.Zero);
        error = null;
        return true;
    }

    /// <summary>
    /// Writes <c>yyyy-MM-ddTHH:mm:ss.fff[ffff]Z</c>: milliseconds always, finer digits only when present, so
    /// the common case reads naturally and nothing a sensor sent is rounded away.
    /// </summary>
    public static int Format(DateTimeOffset value, Span<byte> destination)
    {
        var t = value.UtcDateTime;
        Write4(destination, t.Year);
        destination[4] = (byte)'-';
        Write2(destination[5..], t.Month);
        destination[7] = (byte)'-';
        Write2(destination[8..], t.Day);
        destination[10] = (byte)'T';
        Write2(destination[11..], t.Hour);
        destination[13] = (byte)':';
        Write2(destination[14..], t.Minute);
        destination[16] = (byte)':';
        Write2(destination[17..], t.Second);
        destination[19] = (byte)'.';
        var fraction = (int)(t.Ticks % TimeSpan.TicksPerSecond);
        var digits = 7;
        while (digits > 3 && fraction % 10 == 0)
        {
            fraction /= 10;
            digits--;
        }

        Utf8Formatter.TryFormat(fraction, destination.Slice(20, digits), out _, new System.Buffers.StandardFormat('D', (byte)digits));
        destination[20 + digits] = (byte)'Z';
        return 21 + digits;
    }

    public static string ToUtcString(DateTimeOffset value)
    {
        Span<byte> buffer = stackalloc byte[MaxFormattedLength];
        var length = Format(value, buffer);
        return System.Text.Encoding.ASCII.GetString(buffer[..length]);
    }

    private static bool TryDigits(ReadOnlySpan<byte> s, out int value)
    {
        value = 0;
        foreach (var b in s)
        {
            if (!char.IsAsciiDigit((char)b))
            {
                return false;
            }

            value = (value * 10) + (b - '0');
        }

        return true;
    }

    private static void Write2(Span<byte> d, int v)
    {
        d[0] = (byte)('0' + (v / 10));
        d[1] = (byte)('0' + (v % 10));
    }

    private static void Write4(Span<byte> d, int v)
    {
        Write2(d, v / 100);
        Write2(d[2..], v % 100);
    }
}
