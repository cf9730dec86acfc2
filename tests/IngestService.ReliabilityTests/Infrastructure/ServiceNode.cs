using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

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
