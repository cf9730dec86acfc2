using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using IngestService.Tests.Infrastructure;

namespace IngestService.ReliabilityTests.Infrastructure;

/// <summary>What the load generator printed and how it ended.</summary>
public sealed record LoadGenResult(int ExitCode, JsonNode? Report, string Stderr)
{
    public long Acked => Report?["acked"]?.GetValue<long>() ?? 0;

    public long Sent => Report?["sent"]?.GetValue<long>() ?? 0;

    public long Missing => Report?["verify"]?["missing"]?.GetValue<long>() ?? -1;

    public long Duplicates => Report?["verify"]?["duplicates"]?.GetValue<long>() ?? -1;

    public long OutOfOrder => Report?["verify"]?["outOfOrder"]?.GetValue<long>() ?? -1;

    public string Statuses => Report?["statuses"]?.ToJsonString() ?? "{}";

    public long TransportErrors => Report?["transportErrors"]?.GetValue<long>() ?? 0;

    public long Status(int code) => Report?["statuses"]?[code.ToString(CultureInfo.InvariantCulture)]?.GetValue<long>() ?? 0;

    /// <summary>Runs <c>dotnet IngestService.LoadGen.dll</c> with <paramref name="args"/> and parses its last stdout line.</summary>
    public static async Task<LoadGenResult> RunAsync(IEnumerable<string> args, TimeSpan limit)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(ServiceNode.BinDirectory, "IngestService.LoadGen.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            await process.WaitForExitAsync();
            Assert.Fail($"The load generator did not finish within {limit.TotalSeconds:0} s. stderr:\n{await stderr}");
        }

        var lines = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        JsonNode? report = null;
        if (lines.Length > 0 && lines[^1].StartsWith('{'))
        {
            report = JsonNode.Parse(lines[^1]);
        }

        return new LoadGenResult(process.ExitCode, report, Shorten(await stderr));
    }

    private static string Shorten(string text)
    {
        // Progress lines are many; the warnings and errors that matter come first and last.
        var builder = new StringBuilder();
        var lines = text.Split('\n');
        foreach (var line in lines.Take(20).Concat(lines.Length > 40 ? ["…"] : []).Concat(lines.Skip(Math.Max(20, lines.Length - 20))))
        {
            builder.AppendLine(line);
        }

        return builder.ToString();
    }
}
