using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IngestService.Tests.Infrastructure;

namespace IngestService.ReliabilityTests.Infrastructure;

/// <summary>
/// haproxy on a loopback port, round-robin over the given nodes with <c>/readyz</c> health checks, the way
/// a load balancer sits in front of a fleet. Started in the foreground (<c>-db</c>) and killed on dispose.
/// </summary>
public sealed class Haproxy : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _configPath;

    private Haproxy(Process process, int port, string configPath)
    {
        _process = process;
        Port = port;
        _configPath = configPath;
    }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}");

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

    public static async Task<Haproxy> StartAsync(IReadOnlyList<ServiceNode> nodes)
    {
        var port = ServiceNode.FreePort();
        var config = Config(port, nodes);
        var path = Path.Combine(Path.GetTempPath(), $"ingest-haproxy-{Guid.NewGuid():N}.cfg");
        await File.WriteAllTextAsync(path, config);
        Process process;
        try
        {
            process = Process.Start(new ProcessStartInfo(Executable(), ["-f", path, "-db"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            }) ?? throw new InvalidOperationException("haproxy did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException(
                "The node-loss scenario needs haproxy on PATH. `.ci/run` installs it (apt-get update && apt-get install -y haproxy); " +
                $"on a workstation run that yourself. ({ex.Message})", ex);
        }

        var haproxy = new Haproxy(process, port, path);
        process.OutputDataReceived += (_, e) => haproxy.Append(e.Data);
        process.ErrorDataReceived += (_, e) => haproxy.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var client = new HttpClient { BaseAddress = haproxy.Url, Timeout = TimeSpan.FromSeconds(5) };
        var giveUp = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(process.HasExited, $"haproxy exited with code {(process.HasExited ? process.ExitCode : 0)}:\n{haproxy.Output}\nconfig:\n{config}");
            try
            {
                if ((await client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK)
                {
                    return haproxy;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or SocketException)
            {
                // Not listening or no node marked up yet.
            }

            Assert.True(giveUp.Elapsed < TimeSpan.FromSeconds(30), $"haproxy did not route to a ready node within 30 s:\n{haproxy.Output}");
            await Task.Delay(100);
        }
    }

    /// <summary>Debian puts haproxy in /usr/sbin, which is not on a normal user's PATH.</summary>
    private static string Executable()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/sbin"])
            .Select(dir => Path.Combine(dir, "haproxy"));
        return candidates.FirstOrDefault(File.Exists) ?? "haproxy";
    }

    /// <remarks>
    /// <c>retries</c> and <c>redispatch</c> move a request whose connection was refused to another node; a
    /// request already sent to a node that dies gets 502 and the sensor resends it, as it would behind any
    /// load balancer. Checks every 300 ms take a dead node out after two failures and back after two passes.
    /// </remarks>
    private static string Config(int port, IReadOnlyList<ServiceNode> nodes)
    {
        var servers = string.Join('\n', nodes.Select(n => $"    server {n.Name} 127.0.0.1:{n.Port} check"));
        return $"""
            global
                maxconn 4096

            defaults
                mode http
                timeout connect 2s
                timeout client 60s
                timeout server 60s
                retries 3
                option redispatch

            frontend sensors
                bind 127.0.0.1:{port}
                default_backend nodes

            backend nodes
                balance roundrobin
                option httpchk GET /readyz
                # A node starved of CPU on a shared machine may answer a probe late; only a node that keeps
                # failing is taken out (readiness answers from a one-second cache, so probes are cheap).
                timeout check 2s
                default-server inter 500ms fall 3 rise 2
            {servers}

            """;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        File.Delete(_configPath);
    }

    private void Append(string? line)
    {
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
