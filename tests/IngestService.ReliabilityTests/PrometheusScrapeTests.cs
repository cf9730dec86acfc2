using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using IngestService.IntegrationTests;
using IngestService.ReliabilityTests.Infrastructure;
using IngestService.Tests.Infrastructure;

namespace IngestService.ReliabilityTests;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c>, which test.sh installs) scraping a real node on moto, with
/// deploy/prometheus/alerts.yml loaded: every series the alert rules and the Grafana dashboard query must have
/// data once the node has acknowledged events, regrouped, failed a window and failed a readiness check.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed partial class PrometheusScrapeTests(OpenMotoFixture moto)
{
    [Fact]
    public async Task A_real_prometheus_scraping_a_node_has_data_for_every_metric_the_rules_and_the_dashboard_use()
    {
        var root = Figures.RepositoryRoot();
        var rules = Path.Combine(root, "deploy", "prometheus", "alerts.yml");
        var queried = UsedSeries(await File.ReadAllTextAsync(rules)
            + await File.ReadAllTextAsync(Path.Combine(root, "deploy", "grafana", "dashboards", "ingest-service.json")));
        await using var network = new TcpSwitch(moto.Endpoint);
        await using var fleet = await Fleet.StartAsync(moto, network.Url, moto.Endpoint, new()
        {
            ["Batching__AckTimeout"] = "00:00:02",
        });
        var node = fleet.Node;
        await using var prometheus = await PrometheusProcess.StartAsync(node.Port, rules);

        await node.WaitUntilAsync("ready", async () => (await node.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30));
        var runId = Fleet.RunId("prom");
        for (var i = 0; i < 10; i++)
        {
            using var stored = await node.Client.PostAsync($"/v1/sensors/{runId}-{i}/events", Event(i));
            Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await node.Client.PostAsync("/v1/admin/flush", null)).StatusCode);
        network.Cut();
        using (var failed = await node.Client.PostAsync($"/v1/sensors/{runId}-cut/events", Event(0)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await node.Client.GetAsync("/readyz")).StatusCode);
        network.Restore();

        string[] missing = queried;
        await node.WaitUntilAsync("Prometheus has data for every queried series", async () =>
        {
            missing = [.. (await Task.WhenAll(missing.Select(async m => (m, Has: await prometheus.HasDataAsync(m))))).Where(r => !r.Has).Select(r => r.m)];
            return missing.Length == 0;
        }, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1));
        Assert.True(missing.Length == 0, $"no data in Prometheus for: {string.Join(", ", missing)}\n{prometheus.Output}");
        Assert.Equal(8, await prometheus.LoadedRuleCountAsync());
    }

    /// <summary>Every series name in the rules and the dashboard, as queried (histograms by their _bucket/_sum/_count).</summary>
    private static string[] UsedSeries(string text) =>
        [.. SeriesName().Matches(text).Select(m => m.Value).Distinct().Order()];

    private static ByteArrayContent Event(int seq)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes($"{{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":{seq},\"t\":21.5}}"));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    [GeneratedRegex(@"\b(?:ingest|regroup|process)_[a-z_]+[a-z]\b")]
    private static partial Regex SeriesName();

    /// <summary>A Prometheus server on a free port with its own data folder, scraping one target every second.</summary>
    private sealed class PrometheusProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _folder;
        private readonly StringBuilder _output = new();
        private readonly HttpClient _client;

        private PrometheusProcess(Process process, string folder, int port)
        {
            _process = process;
            _folder = folder;
            _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public static async Task<PrometheusProcess> StartAsync(int targetPort, string rules)
        {
            var folder = Path.Combine(Path.GetTempPath(), "ingest-prometheus", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            var config = Path.Combine(folder, "prometheus.yml");
            await File.WriteAllTextAsync(config, $"""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - {rules}
                scrape_configs:
                  - job_name: ingest-service
                    static_configs:
                      - targets: ["127.0.0.1:{targetPort}"]
                """);
            var port = ServiceNode.FreePort();
            var start = new ProcessStartInfo(FindPrometheus())
            {
                ArgumentList = { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(folder, "data")}", $"--web.listen-address=127.0.0.1:{port}" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            var server = new PrometheusProcess(Process.Start(start)!, folder, port);
            server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
            server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            return server;
        }

        public async Task<bool> HasDataAsync(string series)
        {
            using var answer = JsonDocument.Parse(await _client.GetStringAsync($"/api/v1/query?query={Uri.EscapeDataString(series)}"));
            return answer.RootElement.GetProperty("data").GetProperty("result").GetArrayLength() > 0;
        }

        public async Task<int> LoadedRuleCountAsync()
        {
            using var answer = JsonDocument.Parse(await _client.GetStringAsync("/api/v1/rules"));
            return answer.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray().Sum(g => g.GetProperty("rules").GetArrayLength());
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
            _client.Dispose();
            Directory.Delete(_folder, recursive: true);
        }

        private static string FindPrometheus() =>
            new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("prometheus is not installed; `bash test.sh` installs it (Debian package prometheus).");

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_output)
                {
                    _output.AppendLine(line);
                }
            }
        }
    }
}
