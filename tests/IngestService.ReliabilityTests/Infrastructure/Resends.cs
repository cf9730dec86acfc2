using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using IngestService.IntegrationTests;

namespace IngestService.ReliabilityTests.Infrastructure;

/// <summary>
/// What one sink sent, from the proxy's record of its calls. An event's copy in a call is identified by its
/// stored line's (sensorId, seq, receivedAt): a sink retry repacks the same line, while a sensor's resend is a
/// new request with a new <c>receivedAt</c>, so only sink retries count as resends here.
/// </summary>
public sealed partial record Resends(
    string Operation, int Calls, int ThrottledCalls, int Entries, int FailedEntries, long EventCopies, long Events, long EventsResent,
    long ResentAfterAccepted, long FailedAtLastAttempt)
{
    public static Resends Count(IEnumerable<ProxyCall> calls, string operation, string runId)
    {
        var history = new Dictionary<string, List<bool>>(StringComparer.Ordinal);
        int callCount = 0, throttled = 0, entries = 0, failedEntries = 0;
        long copies = 0;
        foreach (var call in calls.Where(c => c.Operation == operation))
        {
            var ours = false;
            for (var i = 0; i < call.Entries.Count; i++)
            {
                var lines = StoredLine().Matches(call.Entries[i]).Where(m => m.Groups[1].Value.Contains(runId, StringComparison.Ordinal)).ToList();
                if (lines.Count == 0)
                {
                    continue;
                }

                ours = true;
                entries++;
                var failed = call.FailedEntries[i];
                if (failed && call.Status is >= 200 and < 300)
                {
                    failedEntries++;
                }

                foreach (var line in lines)
                {
                    copies++;
                    var key = $"{line.Groups[1].Value}/{line.Groups[2].Value}/{line.Groups[3].Value}";
                    if (!history.TryGetValue(key, out var attempts))
                    {
                        history[key] = attempts = [];
                    }

                    attempts.Add(failed);
                }
            }

            if (ours)
            {
                callCount++;
                if (call.Status is < 200 or >= 300)
                {
                    throttled++;
                }
            }
        }

        // An accepted copy followed by another copy of the same line would be a needless resend.
        var afterAccepted = history.Values.LongCount(a => a.Take(a.Count - 1).Any(failed => !failed));
        return new Resends(
            operation, callCount, throttled, entries, failedEntries, copies, history.Count, copies - history.Count,
            afterAccepted, history.Values.LongCount(a => a[^1]));
    }

    public JsonObject ToJson() => new()
    {
        ["calls"] = Calls,
        ["throttledCalls"] = ThrottledCalls,
        ["entries"] = Entries,
        ["failedEntries"] = FailedEntries,
        ["eventCopiesSent"] = EventCopies,
        ["distinctEventLines"] = Events,
        ["eventCopiesResent"] = EventsResent,
        ["resentAfterAccepted"] = ResentAfterAccepted,
        ["failedAtLastAttempt"] = FailedAtLastAttempt,
    };

    [GeneratedRegex(@"\{""sensorId"":""([A-Za-z0-9_.-]+)"",""seq"":(\d+),""ts"":""[^""]*"",""receivedAt"":""([^""]*)""")]
    private static partial Regex StoredLine();
}
