using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace IngestService.Tests.Infrastructure;

/// <summary>
/// The one way tests run the service out of process, as operators run it: <c>dotnet IngestService.dll</c> on a
/// loopback port, configured through environment variables. The port survives <see cref="KillAsync"/> and
/// <see cref="StartAsync()"/>, so a load balancer in front sees the same node come back. Shared by the start-up
/// tests and, through a linked file, the reliability scenarios.
/// </summary>
public sealed partial class ServiceNode : IAsyncDisposable
{
    public const int Sigterm = 15;

    private readonly Dictionary<string, string> _settings;
    private readonly int? _keptOutputLines;
    private readonly string? _ownedDataPath;
    private readonly Queue<string> _output = new();
    private Process? _process;

    /// <summary>A node not yet started; <see cref="Output"/> keeps the last <c>keptOutputLines</c> lines, or all when null.</summary>
    public ServiceNode(string name, Dictionary<string, string> settings, int? port = null, int? keptOutputLines = 400)
        : this(name, settings, port, keptOutputLines, ownedDataPath: null)
    {
    }

    private ServiceNode(string name, Dictionary<string, string> settings, int? port, int? keptOutputLines, string? ownedDataPath)
    {
        Name = name;
        _settings = settings;
        _keptOutputLines = keptOutputLines;
        _ownedDataPath = ownedDataPath;
        Port = port ?? FreePort();
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(120) };
    }

    public string Name { get; }

    public int Port { get; }

    public HttpClient Client { get; }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The running (or last) process.</summary>
    public Process Process => _process ?? throw new InvalidOperationException($"{Name} was never started");

    /// <summary>The temporary folder <see cref="StartAsync(Dictionary{string, string})"/> gave the node.</summary>
    public string DataPath => _ownedDataPath ?? throw new InvalidOperationException($"{Name} keeps its data where its settings say");

    /// <summary>The lines the process wrote (both streams), for assertions and failure messages.</summary>
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

    /// <summary>
    /// A started <c>Local</c> node on its own temporary folder, removed on dispose, with regrouping off and all of
    /// its output kept: what the start-up tests run.
    /// </summary>
    public static async Task<ServiceNode> StartAsync(Dictionary<string, string> settings)
    {
        var dataPath = Path.Combine(Path.GetTempPath(), "ingest-node", Guid.NewGuid().ToString("N"));
        var all = new Dictionary<string, string>
        {
            ["Ingest__DataPath"] = dataPath,
            ["Regroup__Enabled"] = "false",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var node = new ServiceNode("node", all, port: null, keptOutputLines: null, ownedDataPath: dataPath);
        await node.StartAsync(TimeSpan.FromSeconds(30));
        return node;
    }

    /// <summary>Starts the process and waits until <c>/healthz</c> answers.</summary>
    public Task StartAsync() => StartAsync(TimeSpan.FromSeconds(60));

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
        foreach (var (key, value) in _settings)
        {
            start.Environment[key] = value;
        }

        _process?.Dispose();
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
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>A signal as an orchestrator sends it, e.g. <see cref="Sigterm"/> to drain.</summary>
    public void Signal(int signal) => Assert.Equal(0, Kill(Process.Id, signal));

    /// <summary>Polls the process's observable state: there is no clock to drive across a process boundary.</summary>
    public async Task WaitUntilAsync(string what, Func<Task<bool>> condition, TimeSpan? limit = null, TimeSpan? poll = null)
    {
        var giveUp = Stopwatch.StartNew();
        var within = limit ?? TimeSpan.FromSeconds(30);
        while (giveUp.Elapsed < within)
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

        Assert.Fail($"{Name}: not '{what}' within {within.TotalSeconds:0} s. Its output:\n{Output}");
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
        if (_ownedDataPath is not null && Directory.Exists(_ownedDataPath))
        {
            Directory.Delete(_ownedDataPath, recursive: true);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task StartAsync(TimeSpan limit)
    {
        Launch();
        await WaitUntilAsync("/healthz answers 200", async () => (await Client.GetAsync("/healthz")).IsSuccessStatusCode, limit);
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
            while (_keptOutputLines is { } kept && _output.Count > kept)
            {
                _output.Dequeue();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
