namespace IngestService.Events;

/// <summary>
/// Sensor ids become part of object keys, so only <c>^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$</c> is accepted:
/// no separators, no traversal, nothing that needs escaping in a key, a URL or JSON.
/// </summary>
public static class SensorId
{
    public const int MaxLength = 128;

    public const string Rule = "a sensorId is 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' and '-', starting with a letter or digit";

    public static bool IsValid(ReadOnlySpan<char> id)
    {
        if (id.IsEmpty || id.Length > MaxLength || !char.IsAsciiLetterOrDigit(id[0]))
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '.' or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
