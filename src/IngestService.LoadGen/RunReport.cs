using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace IngestService.LoadGen;

/// <summary>The one JSON object the run prints as its last stdout line (see CONTRACT.md).</summary>
internal sealed record RunReport(
    int Sensors,
    long Sent,
    long Acked,
    double EventsPerSecond,
    double P50Ms,
    double P99Ms,
    double P999Ms,
    IReadOnlyList<KeyValuePair<int, long>> Statuses,
    VerifyCounts? Verify,
    long Requests,
    long TransportErrors,
    double Seconds,
    string RunId)
{
    /// <remarks><c>started</c> and <c>ended</c> are Stopwatch timestamps of the load phase.</remarks>
    public static RunReport From(LoadGenOptions options, RunStats stats, long started, long ended, VerifyCounts? verify)
    {
        // The rate covers the measured part only: from the end of warm-up to the last answer.
        var elapsed = Stopwatch.GetElapsedTime(started, ended);
        var (from, ackedBefore) = stats.Measurement;
        from = from == long.MaxValue ? started : from;
        var seconds = Math.Max(Stopwatch.GetElapsedTime(Math.Clamp(from, started, ended), ended).TotalSeconds, 1e-9);
        return new RunReport(
            options.Sensors,
            stats.Sent,
            stats.Acked,
            Math.Round((stats.Acked - ackedBefore) / seconds, 1),
            stats.Latency.PercentileMilliseconds(50),
            stats.Latency.PercentileMilliseconds(99),
            stats.Latency.PercentileMilliseconds(99.9),
            stats.Statuses(),
            verify,
            stats.Requests,
            stats.TransportErrors,
            Math.Round(elapsed.TotalSeconds, 3),
            options.RunId);
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("sensors", Sensors);
            writer.WriteNumber("sent", Sent);
            writer.WriteNumber("acked", Acked);
            writer.WriteNumber("eventsPerSecond", EventsPerSecond);
            writer.WriteNumber("p50Ms", P50Ms);
            writer.WriteNumber("p99Ms", P99Ms);
            writer.WriteNumber("p999Ms", P999Ms);
            writer.WriteStartObject("statuses");
            foreach (var (status, count) in Statuses)
            {
                writer.WriteNumber(status.ToString(CultureInfo.InvariantCulture), count);
            }

            writer.WriteEndObject();
            if (Verify is { } v)
            {
                writer.WriteStartObject("verify");
                writer.WriteNumber("missing", v.Missing);
                writer.WriteNumber("duplicates", v.Duplicates);
                writer.WriteNumber("outOfOrder", v.OutOfOrder);
                writer.WriteEndObject();
            }
            else
            {
                writer.WriteNull("verify");
            }

            writer.WriteNumber("requests", Requests);
            writer.WriteNumber("transportErrors", TransportErrors);
            writer.WriteNumber("seconds", Seconds);
            writer.WriteString("runId", RunId);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
