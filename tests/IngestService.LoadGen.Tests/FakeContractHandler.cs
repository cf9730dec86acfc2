using System.Net;
using System.Text;
using System.Text.Json;

namespace IngestService.LoadGen.Tests;

/// <summary>
/// The CONTRACT.md surface the load generator talks to, in memory: ingest, <c>POST /v1/admin/flush</c>
/// (regroup into sensor-days, each seq once, ordered by ts then seq) and the NDJSON sensor-day read.
/// Faults can be switched on to prove the verifier notices them.
/// </summary>
internal sealed class FakeContractHandler : HttpMessageHandler
{
    private readonly Lock _lock = new();
    private readonly List<(string Sensor, long Seq, DateTimeOffset Ts, string Line)> _raw = [];
    private readonly Dictionary<(string Sensor, string Day), List<string>> _days = [];
    private readonly HashSet<(string Sensor, long Seq)> _refusedOnce = [];

    /// <summary>Every body received per (sensor, seq), resends included.</summary>
    public Dictionary<(string Sensor, long Seq), List<byte[]>> Bodies { get; } = [];

    /// <summary>Answer the first attempt at each seq with 503 + Retry-After: 0.</summary>
    public bool RefuseFirstAttempt { get; init; }

    /// <summary>Regrouping drops seq 1, stores seq 2 twice and swaps the first two lines, for every sensor-day.</summary>
    public bool Faulty { get; init; }

    /// <summary>The sensor-days the last flush stored.</summary>
    public int DayCount
    {
        get
        {
            lock (_lock)
            {
                return _days.Count;
            }
        }
    }

    public int FlushCalls { get; private set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var segments = request.RequestUri!.AbsolutePath.Trim('/').Split('/');
        return (request.Method.Method, segments) switch
        {
            ("GET", ["healthz"]) => Answer(HttpStatusCode.OK, "ok"),
            ("POST", ["v1", "sensors", var sensor, "events"]) => Ingest(sensor, await request.Content!.ReadAsByteArrayAsync(cancellationToken)),
            ("POST", ["v1", "admin", "flush"]) => Flush(),
            ("GET", ["v1", "sensors", var sensor, "days", var day]) => Read(sensor, day),
            _ => Answer(HttpStatusCode.NotFound, "{}"),
        };
    }

    private HttpResponseMessage Ingest(string sensor, byte[] body)
    {
        var lines = Encoding.UTF8.GetString(body).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var parsed = new List<(long Seq, DateTimeOffset Ts, string Line)>();
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            parsed.Add((json.RootElement.GetProperty("seq").GetInt64(), json.RootElement.GetProperty("ts").GetDateTimeOffset(), line));
        }

        lock (_lock)
        {
            var firstSeq = parsed[0].Seq;
            if (!Bodies.TryGetValue((sensor, firstSeq), out var attempts))
            {
                Bodies[(sensor, firstSeq)] = attempts = [];
            }

            attempts.Add(body);
            if (RefuseFirstAttempt && _refusedOnce.Add((sensor, firstSeq)))
            {
                var refused = Answer(HttpStatusCode.ServiceUnavailable, "{}");
                refused.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.Zero);
                return refused;
            }

            foreach (var (seq, ts, line) in parsed)
            {
                var ms = ts.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
                _raw.Add((sensor, seq, ts, $$"""{"sensorId":"{{sensor}}","seq":{{seq}},"ts":"{{ms}}","receivedAt":"{{ms}}","event":{{line}}}"""));
            }
        }

        return Answer(HttpStatusCode.OK, "{\"status\":\"stored\"}");
    }

    private HttpResponseMessage Flush()
    {
        lock (_lock)
        {
            FlushCalls++;
            foreach (var group in _raw.GroupBy(e => (e.Sensor, Day: e.Ts.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture))))
            {
                var lines = group.DistinctBy(e => e.Seq).OrderBy(e => e.Ts).ThenBy(e => e.Seq).Select(e => e.Line).ToList();
                if (Faulty)
                {
                    var byLine = group.DistinctBy(e => e.Seq).OrderBy(e => e.Ts).ThenBy(e => e.Seq).ToList();
                    lines = [.. byLine.Where(e => e.Seq != 1).SelectMany(e => e.Seq == 2 ? new[] { e.Line, e.Line } : [e.Line])];
                    if (lines.Count >= 2)
                    {
                        (lines[0], lines[1]) = (lines[1], lines[0]);
                    }
                }

                _days[group.Key] = lines;
            }

            _raw.Clear();
        }

        return Answer(HttpStatusCode.OK, "{\"objects\":0}");
    }

    private HttpResponseMessage Read(string sensor, string day)
    {
        lock (_lock)
        {
            return _days.TryGetValue((sensor, day), out var lines)
                ? Answer(HttpStatusCode.OK, string.Join('\n', lines) + "\n")
                : Answer(HttpStatusCode.NotFound, "{\"title\":\"Not Found\"}");
        }
    }

    private static HttpResponseMessage Answer(HttpStatusCode status, string body) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
}
