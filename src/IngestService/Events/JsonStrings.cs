namespace IngestService.Events;

/// <summary>Checks on JSON string text that System.Text.Json leaves to the caller.</summary>
public static class JsonStrings
{
    /// <summary>
    /// Scans the escaped text of a JSON string, already checked by the reader for escape syntax, for a high
    /// surrogate escape that is not followed by a low one, or a low one without a high one before it.
    /// </summary>
    public static bool HasLoneSurrogate(ReadOnlySpan<byte> escaped)
    {
        if (escaped.IndexOf("\\u"u8) < 0)
        {
            return false;
        }

        var expectLow = false;
        for (var i = 0; i < escaped.Length; i++)
        {
            var unit = -1;
            if (escaped[i] == '\\')
            {
                i++;
                if (escaped[i] == 'u')
                {
                    unit = (Hex(escaped[i + 1]) << 12) | (Hex(escaped[i + 2]) << 8) | (Hex(escaped[i + 3]) << 4) | Hex(escaped[i + 4]);
                    i += 4;
                }
            }

            var isLow = unit is >= 0xDC00 and <= 0xDFFF;
            if (expectLow != isLow)
            {
                return true;
            }

            expectLow = unit is >= 0xD800 and <= 0xDBFF;
        }

        return expectLow;
    }

    private static int Hex(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
