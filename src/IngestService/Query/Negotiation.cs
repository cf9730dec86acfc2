using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace IngestService.Query;

/// <summary>The representations a read can answer with.</summary>
public enum Format
{
    Ndjson,
    Csv,
    Json,
    Parquet,
}

/// <summary>
/// Content negotiation in one place: which representation <c>Accept</c> asks for, whether gzip may be passed
/// through, each representation's ETag, and <c>If-None-Match</c>.
/// </summary>
public static class Negotiation
{
    public const string Ndjson = "application/x-ndjson";
    public const string Csv = "text/csv";
    public const string Json = "application/json";
    public const string Parquet = "application/vnd.apache.parquet";

    public static string Describe(IEnumerable<Format> formats) =>
        string.Join(", ", formats.Select(f => f switch
        {
            Format.Csv => Csv,
            Format.Json => Json,
            Format.Parquet => Parquet,
            _ => Ndjson + " (default)",
        }));

    /// <summary>The best of <paramref name="offered"/> that <c>Accept</c> allows, NDJSON when it says nothing; null for 406.</summary>
    public static Format? Choose(StringValues accept, IReadOnlyCollection<Format> offered)
    {
        if (StringValues.IsNullOrEmpty(accept) || !MediaTypeHeaderValue.TryParseList(accept, out var types) || types.Count == 0)
        {
            return Format.Ndjson;
        }

        Format? best = null;
        double bestQuality = 0;
        foreach (var type in types.OrderByDescending(t => t.Quality ?? 1))
        {
            var quality = type.Quality ?? 1;
            if (quality <= 0 || quality <= bestQuality)
            {
                continue;
            }

            Format? format = type.MediaType.Value?.ToLowerInvariant() switch
            {
                Ndjson or "application/*" or "*/*" => Format.Ndjson,
                Csv or "text/*" => Format.Csv,
                Json => Format.Json,
                Parquet => Format.Parquet,
                _ => null,
            };
            if (format is { } f && offered.Contains(f))
            {
                best = format;
                bestQuality = quality;
            }
        }

        return best;
    }

    public static bool AcceptsGzip(StringValues acceptEncoding) =>
        StringWithQualityHeaderValue.TryParseList(acceptEncoding, out var codings)
        && codings.Any(c => (c.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase) || c.Value.Equals("*", StringComparison.Ordinal)) && (c.Quality ?? 1) > 0);

    /// <summary>
    /// Each representation (format, zone, and for NDJSON the encoding) has its own strong ETag, derived from the
    /// ETags of the stored objects it is made of.
    /// </summary>
    public static string ETag(IEnumerable<string> storedETags, Format format, bool gzip, string? zone)
    {
        var inner = string.Join(".", storedETags.Select(e => e.Trim('"')));
        var suffix = format switch
        {
            Format.Csv => "csv",
            Format.Json => "json",
            Format.Parquet => "parquet",
            _ => gzip ? "ndjson-gzip" : "ndjson",
        };
        // IANA ids (letters, digits, '/', '_', '+', '-') are all valid ETag characters.
        return zone is null ? $"\"{inner}-{suffix}\"" : $"\"{inner}-{suffix}-{zone}\"";
    }

    public static bool Matches(StringValues ifNoneMatch, string etag)
    {
        foreach (var value in ifNoneMatch)
        {
            foreach (var candidate in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var tag = candidate.StartsWith("W/", StringComparison.Ordinal) ? candidate[2..] : candidate;
                if (tag == "*" || tag == etag)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
