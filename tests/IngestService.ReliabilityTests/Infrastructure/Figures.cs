using System.Text.Json;
using System.Text.Json.Nodes;

namespace IngestService.ReliabilityTests.Infrastructure;

/// <summary>
/// Each scenario's measured figures: printed to the test output and written to
/// <c>TestResults/reliability/{scenario}.json</c> at the repository root, where docs/reliability.md takes them from.
/// </summary>
public static class Figures
{
    public static void Report(ITestOutputHelper output, string scenario, JsonObject figures)
    {
        figures["scenario"] = scenario;
        figures["finishedAt"] = DateTimeOffset.UtcNow.ToString("O");
        var text = figures.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        output.WriteLine(text);
        var folder = Path.Combine(RepositoryRoot(), "TestResults", "reliability");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, $"{scenario}.json"), text);
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "IngestService.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("IngestService.sln not found above the test binaries");
    }
}
