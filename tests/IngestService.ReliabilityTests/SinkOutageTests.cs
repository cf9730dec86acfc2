using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IngestService.IntegrationTests;
using IngestService.ReliabilityTests.Infrastructure;
using IngestService.Tests.Infrastructure;

namespace IngestService.ReliabilityTests;

/// <summary>
/// Scenario 2: the AWS endpoint is unreachable for 10 s in the middle of a run, either refusing every
/// connection or accepting them and never answering.
/// </summary>
[Collection(ReliabilityCollection.Name)]
[Trait("Category", "Reliability")]
public sealed class SinkOutageTests(OpenMotoFixture moto, ITestOutputHelper output)
{
    private const int MaxPendingEvents = 40;
    private const long MaxPendingBytes = 64 * 1024;

    [Theory]
    [InlineData("refuse")]
    [InlineData("blackhole")]
    public async Task Sensors_ride_out_a_ten_second_aws_outage_with_503_and_lose_nothing(string outage)
    {
        await using var network = new TcpSwitch(moto.Endpoint);
        await using var fleet = await Fleet.StartAsync(moto, network.Url, extra: new()
        {
            ["Batching__AckTimeout"] = "00:00:02",
            ["Batching__MaxPendingEvents"] = MaxPendingEvents.ToString(CultureInfo.InvariantCulture),
            ["Batching__MaxPendingBytes"] = MaxPendingBytes.ToString(CultureInfo.InvariantCulture),
        });
        var node = fleet.Node;
        await node.WaitUntilAsync("ready", async () => (await node.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30));

        var runId = Fleet.RunId("outage");
        var load = LoadGenResult.RunAsync(
            ["--url", node.Client.BaseAddress!.ToString(), "--sensors", "60", "--duration", "25s", "--verify", "--run-id", runId, "--max-retry-after", "1s"],
            TimeSpan.FromMinutes(4));

        var samples = new ConcurrentQueue<(double Seconds, bool Cut, int Ready, double Pending, double PendingBytes, double RssMb)>();
        using var stopSampling = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var sampling = SampleAsync(node, network, clock, samples, stopSampling.Token);

        await node.WaitUntilAsync("events flow", async () => await node.MetricAsync("ingest_events_accepted_total") > 200, TimeSpan.FromSeconds(60));
        var acceptedBeforeCut = await node.MetricAsync("ingest_events_accepted_total") ?? 0;
        if (outage == "refuse")
        {
            network.Cut();
        }
        else
        {
            network.Blackhole();
        }

        var cutAt = clock.Elapsed.TotalSeconds;
        var acceptedAtCut = await node.MetricAsync("ingest_events_accepted_total") ?? 0;

        // A sensor of our own during the outage: it must be told to come back later (503, or 429 while the
        // node is full of held events), with Retry-After, never left hanging or told 200.
        var probeAnswers = new List<string>();
        var probeGot503WithRetryAfter = false;
        while (!probeGot503WithRetryAfter && clock.Elapsed.TotalSeconds - cutAt < 8)
        {
            using var probe = new StringContent("""{"ts":"2026-11-21T10:00:00Z","seq":0}""", Encoding.UTF8, "application/json");
            using var during = await node.Client.PostAsync($"/v1/sensors/{runId}-probe/events", probe);
            var retryAfter = during.Headers.RetryAfter?.ToString();
            probeAnswers.Add($"{(int)during.StatusCode} Retry-After: {retryAfter ?? "none"}");
            Assert.True(during.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests && retryAfter is not null, $"during the outage: {probeAnswers[^1]}");
            probeGot503WithRetryAfter = during.StatusCode == HttpStatusCode.ServiceUnavailable;
            if (!probeGot503WithRetryAfter)
            {
                // 429: the node is full of held events; a sensor waits before it tries again.
                await Task.Delay(200);
            }
        }

        var rest = TimeSpan.FromSeconds(10) - TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds - cutAt);
        if (rest > TimeSpan.Zero)
        {
            await Task.Delay(rest);
        }

        var acceptedAtRestore = await node.MetricAsync("ingest_events_accepted_total") ?? 0;
        network.Restore();
        var restoredAt = clock.Elapsed.TotalSeconds;

        await node.WaitUntilAsync("ready again", async () => (await node.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60));
        var readyAgainAfter = clock.Elapsed.TotalSeconds - restoredAt;
        var result = await load;
        await stopSampling.CancelAsync();
        await sampling;

        var list = samples.ToList();
        var duringCut = list.Where(s => s.Cut).ToList();
        Figures.Report(output, $"sink-outage-{outage}", new JsonObject
        {
            ["command"] = "dotnet test tests/IngestService.ReliabilityTests --filter FullyQualifiedName~SinkOutageTests",
            ["outage"] = outage == "refuse" ? "connections refused, open ones reset" : "open connections reset, new ones accepted and never answered",
            ["sensors"] = 60,
            ["durationSeconds"] = 25,
            ["outageSeconds"] = Math.Round(restoredAt - cutAt, 1),
            ["ackTimeoutSeconds"] = 2,
            ["sent"] = result.Sent,
            ["acknowledged"] = result.Acked,
            ["missing"] = result.Missing,
            ["duplicated"] = result.Duplicates,
            ["outOfOrder"] = result.OutOfOrder,
            ["statuses"] = JsonNode.Parse(result.Statuses),
            ["acknowledgedDuringOutage"] = acceptedAtRestore - acceptedAtCut,
            ["probeDuringOutage"] = string.Join("; ", probeAnswers.Distinct()),
            ["readyzDuringOutage"] = string.Join(",", duringCut.Select(s => s.Ready).Distinct().Order()),
            ["readyAgainSecondsAfterRestore"] = Math.Round(readyAgainAfter, 1),
            ["maxPendingEvents"] = list.Max(s => s.Pending),
            ["capPendingEvents"] = MaxPendingEvents,
            ["maxPendingBytes"] = list.Max(s => s.PendingBytes),
            ["capPendingBytes"] = MaxPendingBytes,
            ["rssMbBeforeOutage"] = list.Where(s => s.Seconds < cutAt).Select(s => s.RssMb).DefaultIfEmpty().Max(),
            ["rssMbMaxDuringOutage"] = duringCut.Select(s => s.RssMb).DefaultIfEmpty().Max(),
            ["rssMbAfterOutage"] = list.Where(s => s.Seconds > restoredAt).Select(s => s.RssMb).DefaultIfEmpty().Max(),
            ["samples"] = list.Count,
            ["loadGeneratorExit"] = result.ExitCode,
        });

        Assert.True(result.ExitCode == 0, $"load generator exit {result.ExitCode}:\n{result.Stderr}\nnode:\n{node.Output}");
        Assert.True(acceptedBeforeCut > 0);
        Assert.Equal(0, result.Missing);
        Assert.Equal(0, result.Duplicates);
        Assert.True(probeGot503WithRetryAfter, $"a sensor was told 503 with Retry-After during the outage: {string.Join("; ", probeAnswers)}");
        Assert.True(result.Status(503) > 0, $"sensors were told 503 during the outage: {result.Statuses}");
        Assert.Contains(duringCut, s => s.Ready == 503);
        Assert.All(list, s => Assert.InRange(s.Pending, 0, MaxPendingEvents));
        Assert.All(list, s => Assert.InRange(s.PendingBytes, 0, MaxPendingBytes));
        Assert.True(list.Any(s => s.Seconds > restoredAt && s.Ready == 200), "readiness came back");
    }

    private static async Task SampleAsync(
        ServiceNode node, TcpSwitch network, Stopwatch clock,
        ConcurrentQueue<(double, bool, int, double, double, double)> samples, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                // A sample belongs to the outage when its readiness request was sent during it: on a loaded machine
                // one sample can take most of the outage, and requiring the cut to outlast it left none.
                var cut = network.IsCut;
                using var ready = await node.Client.GetAsync("/readyz", stop);
                // NaN when a gauge is missing, so that the cap assertions fail rather than pass on nothing.
                var pending = await node.MetricAsync("ingest_pending_events") ?? double.NaN;
                var bytes = await node.MetricAsync("ingest_pending_bytes") ?? double.NaN;
                samples.Enqueue((clock.Elapsed.TotalSeconds, cut, (int)ready.StatusCode, pending, bytes, node.ResidentMegabytes()));
                await Task.Delay(250, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
