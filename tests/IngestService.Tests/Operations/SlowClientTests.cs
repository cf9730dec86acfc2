using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Operations;

/// <summary>
/// A client that trickles its request must not hold a connection and a pending slot forever: Kestrel's
/// header timeout and minimum body data rate end it, and the node keeps serving.
/// </summary>
public sealed class SlowClientTests
{
    [Fact]
    public async Task A_client_that_sends_its_body_too_slowly_is_cut_off_and_the_node_stays_ready()
    {
        await using var node = await ServiceNode.StartAsync(new()
        {
            ["Kestrel__Limits__RequestHeadersTimeout"] = "00:00:03",
        });
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, node.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            "POST /v1/sensors/s1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"));

        var closedAfter = await TrickleUntilClosedAsync(stream);

        Assert.True(closedAfter < TimeSpan.FromSeconds(30), "the slow body was never cut off");
        Assert.Equal(HttpStatusCode.OK, (await node.Client.GetAsync("/readyz")).StatusCode);
        Assert.Equal(0, MetricsText.Value(await node.Client.GetStringAsync("/metrics"), "ingest_pending_events"));
    }

    [Fact]
    public async Task A_client_that_never_finishes_its_headers_is_cut_off()
    {
        await using var node = await ServiceNode.StartAsync(new()
        {
            ["Kestrel__Limits__RequestHeadersTimeout"] = "00:00:03",
        });
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, node.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /v1/sensors/s1/events HTTP/1.1\r\nHost: x\r\n"));

        var closedAfter = await TrickleUntilClosedAsync(stream, "X-Slow: 1\r\n"u8.ToArray());

        Assert.True(closedAfter < TimeSpan.FromSeconds(30), "the slow headers were never cut off");
        Assert.Equal(HttpStatusCode.OK, (await node.Client.GetAsync("/healthz")).StatusCode);
    }

    /// <summary>Sends a chunk a second (far under Kestrel's 240 B/s minimum) until the server answers or closes.</summary>
    private static async Task<TimeSpan> TrickleUntilClosedAsync(NetworkStream stream, byte[]? chunk = null)
    {
        var started = Stopwatch.StartNew();
        var buffer = new byte[4096];
        var answer = stream.ReadAsync(buffer).AsTask();
        try
        {
            while (started.Elapsed < TimeSpan.FromSeconds(30))
            {
                await stream.WriteAsync(chunk ?? " "u8.ToArray());
                if (await Task.WhenAny(answer, Task.Delay(TimeSpan.FromSeconds(1))) == answer)
                {
                    // Either the connection closed (0 bytes, or a reset) or Kestrel answered 4xx before closing.
                    return started.Elapsed;
                }
            }
        }
        catch (IOException)
        {
            return started.Elapsed;
        }

        return started.Elapsed;
    }
}
