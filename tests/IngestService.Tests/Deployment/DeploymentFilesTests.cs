using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace IngestService.Tests.Deployment;

/// <summary>
/// No Docker daemon and no AWS account here: the deployment files are checked by the tools that can read them
/// offline (cfn-lint, a YAML parser) and by what each file must say for the fleet to work.
/// </summary>
public sealed partial class DeploymentFilesTests
{
    private static readonly string _repoRoot = FindRepoRoot();

    // The service's least privilege; deploy/iam-policy.json (used against moto) must grant exactly the same.
    private static readonly string[] _taskRoleActions =
    [
        "firehose:PutRecordBatch", "firehose:DescribeDeliveryStream",
        "kinesis:PutRecords", "kinesis:DescribeStreamSummary", "kinesis:ListShards",
        "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
    ];

    [Fact]
    public async Task The_CloudFormation_template_passes_cfn_lint_without_errors_or_warnings()
    {
        var template = Path.Combine(_repoRoot, "deploy", "cloudformation", "ingest-service.yaml");

        var lint = await RunAsync("cfn-lint", [template],
            "cfn-lint is not installed or not on PATH; install it with `pip install cfn-lint` to validate deploy/cloudformation.");

        Assert.True(lint.ExitCode == 0, $"cfn-lint exited with {lint.ExitCode}:\n{lint.Output}");
    }

    [Fact]
    public async Task The_task_role_grants_exactly_the_services_actions_and_matches_the_shared_policy_file()
    {
        using var template = await LoadYamlAsJsonAsync(Path.Combine("deploy", "cloudformation", "ingest-service.yaml"));
        var statements = template.RootElement.GetProperty("Resources").GetProperty("TaskRole").GetProperty("Properties")
            .GetProperty("Policies").EnumerateArray()
            .SelectMany(p => p.GetProperty("PolicyDocument").GetProperty("Statement").EnumerateArray())
            .ToArray();

        Assert.All(statements, s => Assert.Equal("Allow", s.GetProperty("Effect").GetString()));
        Assert.Equal(_taskRoleActions.Order(), ActionsOf(statements).Order());

        var sharedPolicy = Path.Combine(_repoRoot, "deploy", "iam-policy.json");
        if (File.Exists(sharedPolicy))
        {
            using var policy = JsonDocument.Parse(await File.ReadAllTextAsync(sharedPolicy));
            var policyStatements = policy.RootElement.GetProperty("Statement").EnumerateArray().ToArray();
            Assert.Equal(_taskRoleActions.Order(), ActionsOf(policyStatements).Order());
        }
    }

    [Fact]
    public async Task The_fleet_table_projects_day_as_a_date_over_the_analytics_prefix_with_no_crawler_and_no_injected_column()
    {
        using var template = await LoadYamlAsJsonAsync(Path.Combine("deploy", "cloudformation", "ingest-service.yaml"));
        var resources = template.RootElement.GetProperty("Resources");
        var table = resources.GetProperty("FleetEventsTable").GetProperty("Properties").GetProperty("TableInput");
        var parameters = table.GetProperty("Parameters");

        Assert.Equal("date", parameters.GetProperty("projection.day.type").GetString());
        // !Sub values do not survive the YAML-to-JSON reading: checked in the template's text.
        var text = await File.ReadAllTextAsync(Path.Combine(_repoRoot, "deploy", "cloudformation", "ingest-service.yaml"));
        Assert.Contains("projection.day.range: !Sub '${AnalyticsFirstDay},NOW'", text, StringComparison.Ordinal);
        Assert.Contains("storage.location.template: !Sub 's3://${Bucket}/analytics/day=${!day}/'", text, StringComparison.Ordinal);
        Assert.DoesNotContain("injected", parameters.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(["day"], table.GetProperty("PartitionKeys").EnumerateArray().Select(k => k.GetProperty("Name").GetString()));
        Assert.Contains("Parquet", table.GetProperty("StorageDescriptor").GetProperty("SerdeInfo").GetProperty("SerializationLibrary").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(resources.EnumerateObject(), r => r.Value.GetProperty("Type").GetString() == "AWS::Glue::Crawler");
    }

    [Fact]
    public async Task The_delivery_stream_is_uncompressed_because_the_service_sends_gzip_records()
    {
        using var template = await LoadYamlAsJsonAsync(Path.Combine("deploy", "cloudformation", "ingest-service.yaml"));
        var resources = template.RootElement.GetProperty("Resources");
        var destination = resources.GetProperty("DeliveryStream").GetProperty("Properties").GetProperty("ExtendedS3DestinationConfiguration");
        var environment = resources.EnumerateObject()
            .Where(r => r.Value.GetProperty("Type").GetString() == "AWS::ECS::TaskDefinition")
            .SelectMany(r => r.Value.GetProperty("Properties").GetProperty("ContainerDefinitions").EnumerateArray())
            .SelectMany(c => c.TryGetProperty("Environment", out var e) ? e.EnumerateArray() : Enumerable.Empty<JsonElement>())
            .ToDictionary(e => e.GetProperty("Name").GetString()!, e => e.GetProperty("Value").ToString());

        Assert.Equal("UNCOMPRESSED", destination.GetProperty("CompressionFormat").GetString());
        Assert.Equal("Gzip", environment["Aws__FirehoseCompression"]);
    }

    [Fact]
    public async Task The_compose_file_runs_several_provisioned_nodes_behind_a_round_robin_load_balancer_on_port_5080()
    {
        using var compose = await LoadYamlAsJsonAsync("docker-compose.yml");
        var services = compose.RootElement.GetProperty("services").EnumerateObject().ToDictionary(s => s.Name, s => s.Value);

        var provision = Assert.Single(services, s => CommandOf(s.Value) == "provision");
        Assert.Equal("Aws", EnvironmentOf(provision.Value).GetValueOrDefault("Ingest__Backend"));
        Assert.Equal("service_healthy", DependencyCondition(provision.Value, "localstack"));

        var nodes = services
            .Where(s => CommandOf(s.Value) is null && EnvironmentOf(s.Value).GetValueOrDefault("Ingest__Backend") == "Aws")
            .ToDictionary(s => s.Key, s => s.Value);
        Assert.True(nodes.Count >= 2, $"expected at least two service nodes, found: {string.Join(", ", nodes.Keys)}");
        Assert.All(nodes.Values, node =>
        {
            Assert.Equal(ImageOf(provision.Value), ImageOf(node));
            Assert.Equal("service_completed_successfully", DependencyCondition(node, provision.Key));
            Assert.Equal("http://localstack:4566", EnvironmentOf(node).GetValueOrDefault("Aws__ServiceUrl"));
        });

        var balancer = Assert.Single(services, s =>
            s.Value.TryGetProperty("volumes", out var volumes) && volumes.EnumerateArray().Any(v => v.GetString()!.Contains("deploy/haproxy.cfg", StringComparison.Ordinal)));
        Assert.Contains(balancer.Value.GetProperty("ports").EnumerateArray(), p => p.GetString()!.StartsWith("5080:", StringComparison.Ordinal));

        var haproxy = await File.ReadAllTextAsync(Path.Combine(_repoRoot, "deploy", "haproxy.cfg"));
        Assert.Matches(@"(?m)^\s*balance\s+roundrobin\b", haproxy);
        Assert.Matches(@"(?m)^\s*http-check\s+send\s+meth\s+GET\s+uri\s+/readyz\b", haproxy);
        Assert.Matches(@"(?m)^\s*bind\s+:5080\b", haproxy);
        var servers = HaproxyServer().Matches(haproxy).Select(m => m.Groups["host"].Value).ToArray();
        Assert.Equal(nodes.Keys.Order(), servers.Order());
    }

    [Fact]
    public async Task The_Dockerfile_builds_with_the_sdk_and_runs_the_app_on_the_runtime_image_as_a_non_root_user_with_a_health_check()
    {
        var instructions = DockerInstructions(await File.ReadAllTextAsync(Path.Combine(_repoRoot, "deploy", "Dockerfile")));
        var stages = new List<List<(string Keyword, string Arguments)>>();
        foreach (var instruction in instructions)
        {
            if (instruction.Keyword == "FROM")
            {
                stages.Add([]);
            }

            Assert.True(stages.Count > 0, $"{instruction.Keyword} before the first FROM");
            stages[^1].Add(instruction);
        }

        Assert.True(stages.Count >= 2, "expected a multi-stage build");
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:10.0", stages[0][0].Arguments, StringComparison.Ordinal);

        var final = stages[^1];
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:10.0", final[0].Arguments, StringComparison.Ordinal);
        var user = final.LastOrDefault(i => i.Keyword == "USER").Arguments;
        Assert.False(string.IsNullOrWhiteSpace(user), "the final stage must switch to a non-root USER");
        var name = user.Split(':')[0];
        Assert.DoesNotContain(name, new[] { "root", "0" });
        var healthCheck = final.SingleOrDefault(i => i.Keyword == "HEALTHCHECK").Arguments;
        Assert.NotNull(healthCheck);
        Assert.Contains("/healthz", healthCheck, StringComparison.Ordinal);
        Assert.Contains(final, i => i.Keyword == "EXPOSE" && i.Arguments == "8080");
        Assert.Contains(final, i => i.Keyword == "ENV" && i.Arguments.Contains("ASPNETCORE_URLS=http://+:8080", StringComparison.Ordinal));
        Assert.Contains(final, i => i.Keyword == "ENTRYPOINT" && i.Arguments == "[\"dotnet\", \"IngestService.dll\"]");
        Assert.Contains(final, i => i.Keyword == "COPY" && i.Arguments.StartsWith("--from=build ", StringComparison.Ordinal));
    }

    private static IEnumerable<string> ActionsOf(IEnumerable<JsonElement> statements) =>
        statements.SelectMany(s => s.GetProperty("Action") is { ValueKind: JsonValueKind.Array } many
            ? many.EnumerateArray().Select(a => a.GetString()!)
            : [s.GetProperty("Action").GetString()!]);

    private static string? CommandOf(JsonElement service) =>
        service.TryGetProperty("command", out var command)
            ? command.ValueKind == JsonValueKind.Array ? string.Join(' ', command.EnumerateArray().Select(c => c.GetString())) : command.GetString()
            : null;

    private static string? ImageOf(JsonElement service) => service.TryGetProperty("image", out var image) ? image.GetString() : null;

    /// <summary>Compose accepts environment as a map or as a list of NAME=value.</summary>
    private static Dictionary<string, string?> EnvironmentOf(JsonElement service)
    {
        if (!service.TryGetProperty("environment", out var environment))
        {
            return [];
        }

        return environment.ValueKind == JsonValueKind.Object
            ? environment.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText())
            : environment.EnumerateArray().Select(e => e.GetString()!.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : null);
    }

    private static string? DependencyCondition(JsonElement service, string dependency) =>
        service.TryGetProperty("depends_on", out var dependsOn) && dependsOn.ValueKind == JsonValueKind.Object
            && dependsOn.TryGetProperty(dependency, out var entry) && entry.TryGetProperty("condition", out var condition)
            ? condition.GetString()
            : null;

    /// <summary>Dockerfile instructions with line continuations joined and comments dropped.</summary>
    private static List<(string Keyword, string Arguments)> DockerInstructions(string dockerfile)
    {
        var instructions = new List<(string, string)>();
        var current = "";
        foreach (var raw in dockerfile.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || (line.Length == 0 && current.Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }

            current += line;
            if (current.Length > 0)
            {
                var parts = current.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries);
                instructions.Add((parts[0].ToUpperInvariant(), parts.Length > 1 ? parts[1].Trim() : ""));
            }

            current = "";
        }

        return instructions;
    }

    /// <summary>
    /// YAML read by PyYAML (shipped with cfn-lint and awscli) and handed over as JSON. CloudFormation's short
    /// tags (!Ref, !Sub …) load as null: the checks here only read plain values.
    /// </summary>
    private static async Task<JsonDocument> LoadYamlAsJsonAsync(string relativePath)
    {
        const string script = """
            import json, sys, yaml
            class Loader(yaml.SafeLoader):
                pass
            Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
            with open(sys.argv[1], encoding="utf-8") as f:
                print(json.dumps(yaml.load(f, Loader=Loader)))
            """;
        var result = await RunAsync("python3", ["-c", script, Path.Combine(_repoRoot, relativePath)],
            "python3 is not installed or not on PATH; it (with PyYAML, which cfn-lint installs) parses the deployment YAML.");
        Assert.True(result.ExitCode == 0, $"{relativePath} is not valid YAML (or PyYAML is missing):\n{result.Output}");
        return JsonDocument.Parse(result.StandardOutput);
    }

    private static async Task<(int ExitCode, string StandardOutput, string Output)> RunAsync(string fileName, string[] arguments, string missingMessage)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _repoRoot,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start.");
        }
        catch (Win32Exception ex)
        {
            Assert.Fail($"{missingMessage} ({ex.Message})");
            throw;
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            // A guard against a hung tool, not a timing assertion.
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{fileName} did not finish within two minutes.");
            }

            var output = await stdout;
            return (process.ExitCode, output, output + await stderr);
        }
    }

    private static string FindRepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "IngestService.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No IngestService.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"(?m)^\s*server\s+\S+\s+(?<host>[A-Za-z0-9_.-]+):8080\b")]
    private static partial Regex HaproxyServer();
}
