using System.Text.Json;
using System.Text.RegularExpressions;

namespace IngestService.Tests.Deployment;

/// <summary>
/// The Prometheus alert rules and the Grafana dashboard in deploy/, checked by Debian's <c>promtool</c> (test.sh
/// installs the <c>prometheus</c> package). A real Prometheus scraping a node: ReliabilityTests/PrometheusScrapeTests.
/// </summary>
public sealed partial class DeploymentFilesTests
{
    private const string PromtoolMissing = "promtool is not installed; `bash test.sh` installs it (Debian package prometheus), or `apt-get install -y prometheus`.";

    [Fact]
    public async Task The_alert_rules_pass_promtool_check_rules()
    {
        var check = await RunAsync("promtool", ["check", "rules", Path.Combine("deploy", "prometheus", "alerts.yml")], PromtoolMissing);

        Assert.True(check.ExitCode == 0, $"promtool check rules exited with {check.ExitCode}:\n{check.Output}");
    }

    [Fact]
    public async Task The_alert_rules_pass_their_promtool_unit_tests()
    {
        var test = await RunAsync("promtool", ["test", "rules", Path.Combine("deploy", "prometheus", "alerts.test.yml")], PromtoolMissing);

        Assert.True(test.ExitCode == 0, $"promtool test rules exited with {test.ExitCode}:\n{test.Output}");
    }

    [Fact]
    public async Task Every_alert_has_a_unit_test_where_it_fires_and_one_where_it_does_not()
    {
        using var rules = await LoadYamlAsJsonAsync(Path.Combine("deploy", "prometheus", "alerts.yml"));
        using var tests = await LoadYamlAsJsonAsync(Path.Combine("deploy", "prometheus", "alerts.test.yml"));
        var alerts = rules.RootElement.GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray()).Select(r => r.GetProperty("alert").GetString()!).ToArray();
        var cases = tests.RootElement.GetProperty("tests").EnumerateArray()
            .SelectMany(t => t.GetProperty("alert_rule_test").EnumerateArray())
            .Select(c => (Alert: c.GetProperty("alertname").GetString()!, Fires: c.GetProperty("exp_alerts").GetArrayLength() > 0))
            .ToArray();

        Assert.NotEmpty(alerts);
        Assert.All(alerts, alert =>
        {
            Assert.Contains((alert, true), cases);
            Assert.Contains((alert, false), cases);
        });
    }

    [Fact]
    public async Task The_alert_rules_and_the_dashboard_query_only_metrics_the_api_reference_lists()
    {
        var reference = await File.ReadAllTextAsync(Path.Combine(_repoRoot, "docs", "api.md"));

        var used = await MonitoredMetricsAsync();

        Assert.NotEmpty(used);
        Assert.All(used, metric => Assert.Matches($@"`{metric}(\{{[a-z_,]+\}})?`", reference));
    }

    [Fact]
    public async Task The_dashboard_queries_the_provisioned_prometheus_and_compose_runs_prometheus_and_grafana_with_them()
    {
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_repoRoot, "deploy", "grafana", "dashboards", "ingest-service.json")));
        var targets = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.TryGetProperty("targets", out _)).SelectMany(p => p.GetProperty("targets").EnumerateArray()).ToArray();
        Assert.NotEmpty(targets);
        Assert.All(targets, t => Assert.Equal("prometheus", t.GetProperty("datasource").GetProperty("uid").GetString()));
        var datasources = await File.ReadAllTextAsync(Path.Combine(_repoRoot, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"));
        Assert.Contains("uid: prometheus", datasources, StringComparison.Ordinal);

        using var compose = await LoadYamlAsJsonAsync("docker-compose.yml");
        var services = compose.RootElement.GetProperty("services");
        Assert.Contains(Volumes(services.GetProperty("prometheus")), v => v.StartsWith("./deploy/prometheus/alerts.yml:", StringComparison.Ordinal));
        Assert.Contains(Volumes(services.GetProperty("grafana")), v => v.StartsWith("./deploy/grafana/dashboards:", StringComparison.Ordinal));
        var scraped = await File.ReadAllTextAsync(Path.Combine(_repoRoot, "deploy", "prometheus", "prometheus.yml"));
        var haproxy = await File.ReadAllTextAsync(Path.Combine(_repoRoot, "deploy", "haproxy.cfg"));
        Assert.All(HaproxyServer().Matches(haproxy).Select(m => m.Groups["host"].Value), node => Assert.Contains($"\"{node}:8080\"", scraped, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_task_definition_runs_an_adot_collector_that_publishes_the_metric_the_pending_events_alarm_reads()
    {
        var path = Path.Combine("deploy", "cloudformation", "ingest-service.yaml");
        using var template = await LoadYamlAsJsonAsync(path);
        var resources = template.RootElement.GetProperty("Resources");
        var containers = resources.GetProperty("TaskDefinition").GetProperty("Properties").GetProperty("ContainerDefinitions").EnumerateArray()
            .ToDictionary(c => c.GetProperty("Name").GetString()!);
        var alarm = resources.GetProperty("PendingEventsAlarm").GetProperty("Properties");
        var text = await File.ReadAllTextAsync(Path.Combine(_repoRoot, path));

        Assert.StartsWith("public.ecr.aws/aws-observability/aws-otel-collector:", containers["adot-collector"].GetProperty("Image").GetString(), StringComparison.Ordinal);
        var serviceEnvironment = containers["ingest-service"].GetProperty("Environment").EnumerateArray().ToDictionary(e => e.GetProperty("Name").GetString()!, e => e.GetProperty("Value"));
        Assert.Equal("http://127.0.0.1:4317", serviceEnvironment["OTEL_EXPORTER_OTLP_ENDPOINT"].GetString());
        Assert.True(serviceEnvironment.ContainsKey("OTEL_RESOURCE_ATTRIBUTES"));
        Assert.Contains("endpoint: 127.0.0.1:4317", text, StringComparison.Ordinal);
        Assert.Contains($"namespace: {alarm.GetProperty("Namespace").GetString()}", text, StringComparison.Ordinal);
        Assert.Contains($"- ^{alarm.GetProperty("MetricName").GetString()}$", text, StringComparison.Ordinal);
        Assert.Contains("- dimensions: [[ServiceName]]", text, StringComparison.Ordinal);
        Assert.Equal("ServiceName", Assert.Single(alarm.GetProperty("Dimensions").EnumerateArray()).GetProperty("Name").GetString());
    }

    /// <summary>Series names the rules and the dashboard query, histogram suffixes folded into their family.</summary>
    internal static async Task<string[]> MonitoredMetricsAsync()
    {
        var text = await File.ReadAllTextAsync(Path.Combine(_repoRoot, "deploy", "prometheus", "alerts.yml"))
            + await File.ReadAllTextAsync(Path.Combine(_repoRoot, "deploy", "grafana", "dashboards", "ingest-service.json"));
        return [.. MetricName().Matches(text).Select(m => HistogramSuffix().Replace(m.Value, "")).Distinct().Order()];
    }

    private static IEnumerable<string> Volumes(JsonElement service) => service.GetProperty("volumes").EnumerateArray().Select(v => v.GetString()!);

    [GeneratedRegex(@"\b(?:ingest|regroup|process)_[a-z_]+[a-z]\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"_(?:bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();
}
