using System.Globalization;

namespace IngestService.Tests.Infrastructure;

/// <summary>Reads samples out of a Prometheus text scrape, whatever order the exporter writes labels in.</summary>
public static class MetricsText
{
    /// <summary>
    /// The value of the series named <paramref name="name"/> whose labels include every one of
    /// <paramref name="labels"/> (<c>key="value"</c>), summed when several match; null when none does.
    /// </summary>
    public static double? Value(string text, string name, params string[] labels)
    {
        double? sum = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal) || line.Length == name.Length
                || (line[name.Length] != ' ' && line[name.Length] != '{'))
            {
                continue;
            }

            var labelText = line[name.Length] == '{' ? line[(name.Length + 1)..line.IndexOf('}', StringComparison.Ordinal)] : string.Empty;
            var present = labelText.Split(',', StringSplitOptions.RemoveEmptyEntries);
            if (labels.All(present.Contains))
            {
                sum = (sum ?? 0) + double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }
}
