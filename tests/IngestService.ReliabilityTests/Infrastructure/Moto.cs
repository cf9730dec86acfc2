using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Amazon.Runtime;
using IngestService.Delivery;
using Microsoft.Extensions.Configuration;

namespace IngestService.ReliabilityTests.Infrastructure;

/// <summary>
/// A moto server for the suite, with the bucket, Firehose stream (delivering to S3 at once) and Kinesis stream
/// provisioned. Unlike the integration suite's fixture it does not enforce IAM: moto 5.2.1 then rejects the
/// signature of every S3 ListObjectsV2 whose query string holds a prefix with a slash (getmoto/moto#5948),
/// which is exactly what the regroup pass behind <c>--verify</c> sends. Nodes still sign every request.
/// </summary>
public sealed class Moto : IAsyncLifetime
{
    public const string Region = "us-east-1";
    public const string AccessKey = "AKIARELIABILITYTEST0";
    public const string SecretKey = "reliability-secret";

    private readonly StringBuilder _log = new();
    private Process? _process;

    public Uri Endpoint { get; private set; } = null!;

    public string Bucket { get; } = "ingest-reliability";

    public string DeliveryStream { get; } = "ingest-reliability-raw";

    public string KinesisStream { get; } = "ingest-reliability-events";

    public async Task InitializeAsync()
    {
        var port = ServiceNode.FreePort();
        try
        {
            _process = Process.Start(new ProcessStartInfo("moto_server", ["-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            }) ?? throw new InvalidOperationException("moto_server did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"The reliability suite needs moto_server on PATH (pip install 'moto[server]==5.2.1'). ({ex.Message})", ex);
        }

        // Drained so that moto's request log cannot fill the pipe and stall it.
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Endpoint = new Uri($"http://127.0.0.1:{port}");

        var giveUp = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(_process.HasExited, $"moto_server exited: {Log()}");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException) when (giveUp.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100);
            }
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aws:ServiceUrl"] = Endpoint.ToString(),
            ["Aws:Region"] = Region,
            ["Aws:Bucket"] = Bucket,
            ["Aws:DeliveryStream"] = DeliveryStream,
            ["Aws:KinesisStream"] = KinesisStream,
            ["Provision:BufferingSeconds"] = "0",
        }).Build();
        var output = new StringWriter();
        var code = await Provisioning.RunAsync(configuration, output, new BasicAWSCredentials(AccessKey, SecretKey));
        Assert.True(code == 0, $"provisioning failed: {output}\n{Log()}");
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process?.Dispose();
        return Task.CompletedTask;
    }

    private void Keep(string? line)
    {
        lock (_log)
        {
            // Only the tail matters when start-up fails.
            if (_log.Length > 20_000)
            {
                _log.Remove(0, 10_000);
            }

            _log.AppendLine(line);
        }
    }

    private string Log()
    {
        lock (_log)
        {
            return _log.ToString();
        }
    }
}
