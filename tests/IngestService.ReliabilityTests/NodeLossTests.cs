using System.Diagnostics;
using System.Text.Json.Nodes;
using IngestService.IntegrationTests;
using IngestService.ReliabilityTests.Infrastructure;

namespace IngestService.ReliabilityTests;

/// <summary>Scenario 1: a node of three behind haproxy is SIGKILLed mid-run and restarted.</summary>
[Collection(ReliabilityCollection.Name)]
[Trait("Category", "Reliability")]
public sealed class NodeLossTests(OpenMotoFixture moto, ITestOutputHelper output)
{
    [Fact]
    public async Task A_node_killed_behind_the_load_balancer_loses_no_acknowledged_event_and_stores_none_twice()
    {
        // Every node also regroups every 5 s, as a fleet does, so passes run on three nodes at once and one dies mid-pass.
        await using var fleet = await Fleet.StartAsync(moto, moto.Endpoint, extra: new() { ["Regroup__Enabled"] = "true", ["Regroup__Interval"] = "00:00:05" }, nodes: 3);
        var nodes = fleet.Nodes;
        var node2 = nodes[1];
        await using var haproxy = await Haproxy.StartAsync(nodes);

        var runId = Fleet.RunId("nodeloss");
        var load = LoadGenResult.RunAsync(
            ["--url", haproxy.Url.ToString(), "--sensors", "50", "--duration", "20s", "--verify", "--run-id", runId, "--max-retry-after", "1s"],
            TimeSpan.FromMinutes(4));

        // Let the run settle across all three nodes, then take one away without warning. The bar is low enough to be
        // passed early in the 20 s run even on a loaded machine (1,000 was not, some runs), so the kill lands mid-run.
        await node2.WaitUntilAsync("it has acknowledged events", async () => await node2.MetricAsync("ingest_events_accepted_total") > 200, TimeSpan.FromSeconds(60));
        var acceptedBeforeKill = await node2.MetricAsync("ingest_events_accepted_total") ?? 0;
        var pendingAtKill = await node2.MetricAsync("ingest_pending_events") ?? 0;
        var down = Stopwatch.StartNew();
        await node2.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await node2.StartAsync();
        var downSeconds = down.Elapsed.TotalSeconds;

        var result = await load;
        var acceptedAfterRestart = await node2.MetricAsync("ingest_events_accepted_total") ?? 0;
        double passes = 0, conflicts = 0, duplicatesDropped = 0;
        foreach (var node in nodes)
        {
            passes += await node.MetricAsync("regroup_passes_total") ?? 0;
            conflicts += await node.MetricAsync("regroup_write_conflicts_total") ?? 0;
            duplicatesDropped += await node.MetricAsync("regroup_duplicates_dropped_total") ?? 0;
        }

        Figures.Report(output, "node-loss", new JsonObject
        {
            ["command"] = "dotnet test tests/IngestService.ReliabilityTests --filter FullyQualifiedName~NodeLossTests",
            ["nodes"] = 3,
            ["regroup"] = "on every node every 5 s",
            ["regroupPasses"] = passes,
            ["regroupWriteConflicts"] = conflicts,
            ["regroupDuplicatesDropped"] = duplicatesDropped,
            ["sensors"] = 50,
            ["durationSeconds"] = 20,
            ["killed"] = "node2 (SIGKILL) after it acknowledged " + acceptedBeforeKill + " events, restarted after " + Math.Round(downSeconds, 1) + " s",
            ["pendingOnKilledNode"] = pendingAtKill,
            ["acknowledgedByRestartedNode"] = acceptedAfterRestart,
            ["sent"] = result.Sent,
            ["acknowledged"] = result.Acked,
            ["missing"] = result.Missing,
            ["duplicated"] = result.Duplicates,
            ["outOfOrder"] = result.OutOfOrder,
            ["statuses"] = JsonNode.Parse(result.Statuses),
            ["transportErrors"] = result.TransportErrors,
            ["loadGeneratorExit"] = result.ExitCode,
        });

        Assert.True(result.ExitCode == 0, $"load generator exit {result.ExitCode}:\n{result.Stderr}\nhaproxy:\n{haproxy.Output}");
        Assert.True(result.Acked > 0);
        Assert.Equal(0, result.Missing);
        Assert.Equal(0, result.Duplicates);
        Assert.True(acceptedBeforeKill > 0, "the killed node had taken part in the run");
    }
}
