using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using IngestService.Regroup;
using IngestService.Storage;
using IngestService.Storage.Runs;

/// <summary>
/// Scale-out: the regroup of a landed backlog (raw batches of a past day, as the file-ingest spike leaves them) by one
/// node or by several node processes sharing one store. Node 1 flushes (publishes the backlog as units, works, waits
/// for every unit, seals the day in sensor ranges); the others look every <see cref="Look"/> and claim units, as
/// nodes without the lease do. Each node is its own process, so its CPU time is its own; each first regroups a small
/// set of its own unrecorded (its JIT, as a fleet's nodes have run passes before), and all start together.
/// </summary>
internal static class Share
{
    private static readonly TimeSpan Look = TimeSpan.FromMilliseconds(250);

    /// <summary>Runs <paramref name="nodes"/> node processes over <paramref name="data"/> and prints their figures.</summary>
    public static async Task RunAsync(string data, int nodes, long unitBytes, long unitEvents, int warmupEvents)
    {
        var run = Guid.NewGuid().ToString("N");
        var (stop, go) = (Path.Combine(data, "..", $"stop-{run}"), Path.Combine(data, "..", $"go-{run}"));
        var self = Environment.ProcessPath!;
        var dll = typeof(Share).Assembly.Location;
        Process Start(string role) => Process.Start(new ProcessStartInfo(self, [dll, "share-node", "--data", data, "--role", role, "--stop", stop, "--go", go,
            "--unit-bytes", unitBytes.ToString(CultureInfo.InvariantCulture), "--unit-events", unitEvents.ToString(CultureInfo.InvariantCulture),
            "--warmup-events", warmupEvents.ToString(CultureInfo.InvariantCulture)])
        { RedirectStandardOutput = true })!;

        var helpers = Enumerable.Range(1, nodes - 1).Select(_ => Start("help")).ToList();
        var flush = Start("flush");
        foreach (var node in helpers.Append(flush))
        {
            if (await node.StandardOutput.ReadLineAsync() != "ready")
            {
                throw new InvalidOperationException("A node process exited before it was ready.");
            }
        }

        await File.WriteAllTextAsync(go, "");
        var started = Stopwatch.GetTimestamp();
        var flushed = await flush.StandardOutput.ReadToEndAsync();
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await File.WriteAllTextAsync(stop, "");
        var lines = new List<string> { flushed.Trim() };
        foreach (var helper in helpers)
        {
            lines.Add((await helper.StandardOutput.ReadToEndAsync()).Trim());
            await helper.WaitForExitAsync();
        }

        File.Delete(stop);
        File.Delete(go);
        var settled = await SettledAsync(data);
        var figures = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        double Sum(string name) => figures.Sum(f => f.GetProperty(name).GetDouble());
        var maxCpu = figures.Max(f => f.GetProperty("cpuSeconds").GetDouble());
        Console.WriteLine($"{{\"command\":\"share\",\"nodes\":{nodes},\"settled\":{(settled ? "true" : "false")},\"seconds\":{seconds:0.00},\"cpuSeconds\":{Sum("cpuSeconds"):0.00},\"maxNodeCpuSeconds\":{maxCpu:0.00}," +
            $"\"events\":{Sum("events")},\"sensorDaysWritten\":{Sum("sensorDaysWritten")},\"units\":{Sum("units")},\"put\":{Sum("put")},\"get\":{Sum("get")},\"list\":{Sum("list")},\"nodeFigures\":[{string.Join(',', lines)}]}}");
    }

    /// <summary>
    /// One node, once the go file appears: <c>flush</c> once, or <c>help</c> (look every <see cref="Look"/>) until the
    /// stop file appears.
    /// </summary>
    public static async Task NodeAsync(string data, string role, string stop, string go, RegroupOptions settings)
    {
        Console.WriteLine("ready");
        while (!File.Exists(go))
        {
            await Task.Delay(10);
        }

        // The node's CPU from here on: the runtime's start and the warm-up are not the share.
        var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        using var meters = new NoMeters();
        var counter = new RequestCounter();
        var regrouper = Harness.CreateRegrouper(counter.Wrap(new FileSystemObjectStore(data)), settings, TimeProvider.System, meters);
        var total = RegroupReport.Idle(0, 0);
        if (role == "flush")
        {
            total = await regrouper.RunPassAsync(CancellationToken.None);
        }
        else
        {
            while (!File.Exists(stop))
            {
                total = total.Then(await regrouper.LookAsync(CancellationToken.None));
                await Task.Delay(Look);
            }

            await regrouper.ReleaseLeaseAsync(CancellationToken.None);
        }

        using var process = Process.GetCurrentProcess();
        Console.WriteLine($"{{\"role\":\"{role}\",\"cpuSeconds\":{(process.TotalProcessorTime - cpuAtStart).TotalSeconds:0.00},\"events\":{total.Events},\"runsWritten\":{total.RunsWritten}," +
            $"\"compactions\":{total.Compactions},\"sensorDaysWritten\":{total.SensorDaysWritten},\"units\":{total.Units},\"put\":{counter.Put},\"get\":{counter.Get},\"list\":{counter.List}," +
            $"\"peakWorkingSetMiB\":{process.PeakWorkingSet64 / 1048576.0:0}}}");
    }

    /// <summary>Whether every landed event reads back once: the manifest holds no run and no unit of the day.</summary>
    public static async Task<bool> SettledAsync(string data)
    {
        var (manifest, _) = await new ManifestStore(new FileSystemObjectStore(data), TimeProvider.System).ReadAsync(CancellationToken.None);
        return manifest.Work.Count == 0 && manifest.Runs.All(r => r.Days.Count == 0);
    }
}
