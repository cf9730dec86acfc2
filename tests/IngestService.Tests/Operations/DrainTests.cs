using System.Net;
using System.Net.Http.Headers;
using System.Text;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Operations;

/// <summary>SIGTERM on a real process: what an orchestrator does to a node it scales in.</summary>
public sealed class DrainTests
{
    [Fact]
    public async Task On_sigterm_a_node_answers_every_held_request_then_exits_cleanly()
    {
        await using var node = await ServiceNode.StartAsync(new()
        {
            // A window far longer than the drain: only the drain closes it early.
            ["Batching__Window"] = "00:00:08",
            ["Batching__AckTimeout"] = "00:00:30",
        });

        var held = Enumerable.Range(0, 20).Select(i => node.Client.PostAsync($"/v1/sensors/s{i}/events", Json(i))).ToArray();
        await node.WaitUntilAsync("it holds the 20 events", async () => MetricsText.Value(await node.Client.GetStringAsync("/metrics"), "ingest_pending_events") == 20);
        node.Signal(ServiceNode.Sigterm);

        var responses = await Task.WhenAll(held);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        await node.Process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        Assert.True(node.Process.ExitCode == 0, $"exit code {node.Process.ExitCode}\n{node.Output}");
        var lines = Directory.EnumerateFiles(node.DataPath, "*.ndjson", SearchOption.AllDirectories).SelectMany(File.ReadLines).ToList();
        Assert.Equal(20, lines.Count);
    }

    private static ByteArrayContent Json(int i)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes($"{{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":{i}}}"));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}
