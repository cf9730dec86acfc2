using System.Text.Json.Nodes;
using IngestService.IntegrationTests;
using IngestService.ReliabilityTests.Infrastructure;

namespace IngestService.ReliabilityTests;

/// <summary>
/// Scenario 3: between a node and moto, the proxy fails 10% of Firehose and Kinesis entries, answers 5% of
/// calls with each service's throttling error and holds 10% of calls for up to 600 ms.
/// </summary>
[Collection(ReliabilityCollection.Name)]
[Trait("Category", "Reliability")]
public sealed class PartialFailureTests(OpenMotoFixture moto, ITestOutputHelper output)
{
    [Fact]
    public async Task Failed_and_throttled_entries_are_resent_alone_and_every_event_is_stored_once()
    {
        var runId = Fleet.RunId("partial");
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

        await using var fleet = await Fleet.StartAsync(moto, streamsUrl: proxy.Url, s3Url: moto.Endpoint);
        var node = fleet.Node;
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
