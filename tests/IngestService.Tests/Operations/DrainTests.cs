using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace IngestService.Tests.Operations;

/// <summary>SIGTERM on a real process: what an orchestrator does to a node it scales in.</summary>
public sealed partial class DrainTests
{
    private const int Sigterm = 15;

    [Fact]
    public async Task On_sigterm_a_node_answers_every_held_request_then_exits_cleanly()
    {
        var port = FreePort();
        var dataPath = Path.Combine(Path.GetTempPath(), "ingest-drain", Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "IngestService.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["DOTNET_ENVIRONMENT"] = "Production",
                ["Ingest__DataPath"] = dataPath,
                // A window far longer than the test: only the drain can close it in time.
                ["Batching__Window"] = "00:00:08",
                ["Batching__AckTimeout"] = "00:00:30",
                ["Regroup__Enabled"] = "false",
            },
        };
        using var node = Process.Start(start)!;
        var output = new StringBuilder();
        node.OutputDataReceived += (_, e) => output.AppendLine(e.Data);
        node.ErrorDataReceived += (_, e) => output.AppendLine(e.Data);
        node.BeginOutputReadLine();
        node.BeginErrorReadLine();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            await WaitUntilAsync(async () => (await client.GetAsync("/healthz")).IsSuccessStatusCode, output);

            var held = Enumerable.Range(0, 20).Select(i => client.PostAsync($"/v1/sensors/s{i}/events", Json(i))).ToArray();
            await WaitUntilAsync(async () => (await client.GetStringAsync("/metrics")).Contains("ingest_pending_events 20\n", StringComparison.Ordinal), output);
            Assert.Equal(0, Kill(node.Id, Sigterm));

            var responses = await Task.WhenAll(held);
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            await node.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
            Assert.True(node.ExitCode == 0, $"exit code {node.ExitCode}\n{output}");
            var lines = Directory.EnumerateFiles(dataPath, "*.ndjson", SearchOption.AllDirectories).SelectMany(File.ReadLines).ToList();
            Assert.Equal(20, lines.Count);
        }
        finally
        {
            if (!node.HasExited)
            {
                node.Kill(entireProcessTree: true);
            }

            if (Directory.Exists(dataPath))
            {
                Directory.Delete(dataPath, recursive: true);
            }
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, StringBuilder output)
    {
        var giveUp = Stopwatch.StartNew();
        while (giveUp.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        Assert.Fail($"The node did not reach the expected state in 30 s. Its output:\n{output}");
    }

    private static ByteArrayContent Json(int i)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes($"{{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":{i}}}"));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
