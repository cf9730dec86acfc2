using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace IngestService.Tests.Infrastructure;

/// <summary>
/// The service as operators run it: a separate <c>dotnet IngestService.dll</c> process on a free loopback
/// port with Kestrel in front, its data in a temporary folder.
/// </summary>
public sealed partial class NodeProcess : IAsyncDisposable
{
    public const int Sigterm = 15;

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NodeProcess(Process process, int port, string dataPath)
    {
        _process = process;
        DataPath = dataPath;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        Port = port;
    }

    public HttpClient Client { get; }

    public int Port { get; }

    public string DataPath { get; }

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

    public Process Process => _process;

    public static async Task<NodeProcess> StartAsync(Dictionary<string, string> settings)
    {
        var port = FreePort();
        var dataPath = Path.Combine(Path.GetTempPath(), "ingest-node", Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "IngestService.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["DOTNET_ENVIRONMENT"] = "Production",
                ["Ingest__DataPath"] = dataPath,
                ["Regroup__Enabled"] = "false",
            },
        };
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        var node = new NodeProcess(Process.Start(start)!, port, dataPath);
        node._process.OutputDataReceived += (_, e) => node.Append(e.Data);
        node._process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        await node.WaitUntilAsync(async () => (await node.Client.GetAsync("/healthz")).IsSuccessStatusCode);
        return node;
    }

    /// <summary>Polls a real process's observable state; there is no clock to drive across a process boundary.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var giveUp = Stopwatch.StartNew();
        while (giveUp.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (_process.HasExited)
            {
                Assert.Fail($"The node exited with code {_process.ExitCode}. Its output:\n{Output}");
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

            await Task.Delay(100);
        }

        Assert.Fail($"The node did not reach the expected state in 30 s. Its output:\n{Output}");
    }

    public void Signal(int signal) => Assert.Equal(0, Kill(_process.Id, signal));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Client.Dispose();
        if (Directory.Exists(DataPath))
        {
            Directory.Delete(DataPath, recursive: true);
        }
    }

    private void Append(string? line)
    {
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
