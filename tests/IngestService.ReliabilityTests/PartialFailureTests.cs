using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using IngestService.IntegrationTests;
using IngestService.ReliabilityTests.Infrastructure;

namespace IngestService.ReliabilityTests;

/// <summary>
/// Scenario 3: between a node and moto, the proxy fails 10% of Firehose and Kinesis entries, answers 5% of
/// calls with each service's throttling error and holds 10% of calls for up to 600 ms.
/// </summary>
[Collection(ReliabilityCollection.Name)]
[Trait("Category", "Reliability")]
public sealed partial class PartialFailureTests(Moto moto, ITestOutputHelper output)
{
    [Fact]
    public async Task Failed_and_throttled_entries_are_resent_alone_and_every_event_is_stored_once()
    {
        var runId = AwsNodes.RunId("partial");
        var random = new Random(20261122);
        bool Chance(double p)
        {
            lock (random)
            {
                return random.NextDouble() < p;
            }
        }

        int Milliseconds(int from, int to)
        {
            lock (random)
            {
                return random.Next(from, to);
            }
        }

        await using var proxy = await FaultProxy.StartAsync(moto.Endpoint);
        bool Ours(IReadOnlyList<string> entries) => entries.Any(e => e.Contains(runId, StringComparison.Ordinal));
        proxy.FailEntry = (_, data) => data.Contains(runId, StringComparison.Ordinal) && Chance(0.10);
        proxy.FailCall = (operation, entries) => Ours(entries) && Chance(0.05) ? (operation == "PutRecords" ? 400 : 500) : null;
        proxy.CallErrorType = operation => operation == "PutRecords" ? "ProvisionedThroughputExceededException" : "ServiceUnavailableException";
        proxy.Delay = (_, entries) => Ours(entries) && Chance(0.10) ? TimeSpan.FromMilliseconds(Milliseconds(100, 600)) : TimeSpan.Zero;

        await using var node = new ServiceNode("node", AwsNodes.Settings(moto, streamsUrl: proxy.Url, s3Url: moto.Endpoint));
        await node.StartAsync();
        var result = await LoadGenResult.RunAsync(
            ["--url", node.Client.BaseAddress!.ToString(), "--sensors", "50", "--duration", "20s", "--verify", "--run-id", runId, "--max-retry-after", "1s"],
            TimeSpan.FromMinutes(4));

        var firehose = Resends.Count(proxy.Calls, "PutRecordBatch", runId);
        var kinesis = Resends.Count(proxy.Calls, "PutRecords", runId);
        Figures.Report(output, "partial-failures", new JsonObject
        {
            ["command"] = "dotnet test tests/IngestService.ReliabilityTests --filter FullyQualifiedName~PartialFailureTests",
            ["sensors"] = 50,
            ["durationSeconds"] = 20,
            ["faults"] = "10% of entries failed (Firehose ServiceUnavailableException, Kinesis ProvisionedThroughputExceededException); 5% of calls throttled whole (Firehose 500 ServiceUnavailableException, Kinesis 400 ProvisionedThroughputExceededException); 10% of calls delayed",
            ["sent"] = result.Sent,
            ["acknowledged"] = result.Acked,
            ["missing"] = result.Missing,
            ["duplicated"] = result.Duplicates,
            ["outOfOrder"] = result.OutOfOrder,
            ["statuses"] = JsonNode.Parse(result.Statuses),
            ["firehose"] = firehose.ToJson(),
            ["kinesis"] = kinesis.ToJson(),
            ["loadGeneratorExit"] = result.ExitCode,
        });

        Assert.True(result.ExitCode == 0, $"load generator exit {result.ExitCode}:\n{result.Stderr}\nnode:\n{node.Output}");
        Assert.True(result.Acked > 0);
        Assert.Equal(0, result.Missing);
        Assert.Equal(0, result.Duplicates);
        foreach (var sink in new[] { firehose, kinesis })
        {
            Assert.True(sink.FailedEntries > 0 && sink.ThrottledCalls > 0, $"{sink.Operation}: the faults were injected");
            Assert.True(sink.EventsResent > 0, $"{sink.Operation}: failed entries were resent");
            Assert.True(sink.ResentAfterAccepted == 0, $"{sink.Operation}: {sink.ResentAfterAccepted} events were sent again although the entry holding them had been accepted");
        }
    }
}

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
