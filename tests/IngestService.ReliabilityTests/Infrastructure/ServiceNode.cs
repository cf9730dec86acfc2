using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace IngestService.ReliabilityTests.Infrastructure;

/// <summary>
/// One service node as operators run it: <c>dotnet IngestService.dll</c> as a separate process on a fixed
/// loopback port, configured through environment variables. The port survives <see cref="KillAsync"/> and
/// <see cref="StartAsync"/>, so a load balancer in front sees the same node come back.
/// </summary>
public sealed class ServiceNode : IAsyncDisposable
{
    private const int KeptOutputLines = 400;

    private readonly Dictionary<string, string> _settings;
    private readonly Queue<string> _output = new();
    private Process? _process;

    public ServiceNode(string name, Dictionary<string, string> settings, int? port = null)
    {
        Name = name;
        _settings = settings;
        Port = port ?? FreePort();
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(120) };
    }

    public string Name { get; }

    public int Port { get; }

    public HttpClient Client { get; }

    public int Starts { get; private set; }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The last lines the process wrote (both streams), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    public static string BinDirectory => AppContext.BaseDirectory;

    /// <summary>Starts the process and waits until <c>/healthz</c> answers.</summary>
    public async Task StartAsync()
    {
        Launch();
        await WaitUntilAsync("/healthz answers 200", async () => (await Client.GetAsync("/healthz")).IsSuccessStatusCode, TimeSpan.FromSeconds(60));
    }

    /// <summary>Starts the process without waiting: background work such as a regroup pass begins before the port opens.</summary>
    public void Launch()
    {
        Assert.False(IsRunning, $"{Name} is already running");
        var start = new ProcessStartInfo("dotnet", [Path.Combine(BinDirectory, "IngestService.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{Port}";
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["Serilog__MinimumLevel__Default"] = "Warning";
        foreach (var (key, value) in _settings)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Starts++;
    }

    /// <summary>SIGKILL: no draining, no flushing; whatever the process held in memory is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Polls the process's observable state: there is no clock to drive across a process boundary.</summary>
    public async Task WaitUntilAsync(string what, Func<Task<bool>> condition, TimeSpan limit, TimeSpan? poll = null)
    {
        var giveUp = Stopwatch.StartNew();
        while (giveUp.Elapsed < limit)
        {
            if (_process is { HasExited: true } exited)
            {
                Assert.Fail($"{Name} exited with code {exited.ExitCode} while waiting until {what}. Its output:\n{Output}");
            }

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

            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(100));
        }

        Assert.Fail($"{Name}: not '{what}' within {limit.TotalSeconds:0} s. Its output:\n{Output}");
    }

    /// <summary>One gauge or counter from <c>/metrics</c>, summed over its label sets; null when absent.</summary>
    public async Task<double?> MetricAsync(string name)
    {
        var text = await Client.GetStringAsync("/metrics");
        double? sum = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && (line[name.Length] == ' ' || line[name.Length] == '{'))
            {
                var value = line[(line.LastIndexOf(' ') + 1)..];
                sum = (sum ?? 0) + double.Parse(value, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    /// <summary>Resident set size from <c>/proc</c>, in MiB.</summary>
    public double ResidentMegabytes()
    {
        if (_process is not { HasExited: false } process)
        {
            return 0;
        }

        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return Math.Round(kb / 1024.0, 1);
            }
        }

        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        Client.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > KeptOutputLines)
            {
                _output.Dequeue();
            }
        }
    }
}

/// <summary>What the load generator printed and how it ended.</summary>
public sealed record LoadGenResult(int ExitCode, System.Text.Json.Nodes.JsonNode? Report, string Stderr)
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
        System.Text.Json.Nodes.JsonNode? report = null;
        if (lines.Length > 0 && lines[^1].StartsWith('{'))
        {
            report = System.Text.Json.Nodes.JsonNode.Parse(lines[^1]);
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
