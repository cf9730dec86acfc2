using System.Net;
using System.Net.Sockets;
using IngestService.Tests.Infrastructure;

namespace IngestService.ReliabilityTests.Infrastructure;

/// <summary>
/// A TCP forwarder on a fixed loopback port that can be cut: <see cref="Cut"/> closes the listener and resets
/// every open connection, so the node sees refused connections exactly as when its AWS endpoint is
/// unreachable; <see cref="Blackhole"/> resets open connections but keeps accepting new ones and never
/// answers them, as a dropped route or a stalled load balancer does; <see cref="Restore"/> forwards again.
/// </summary>
public sealed class TcpSwitch : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly Lock _gate = new();
    private readonly List<TcpClient> _open = [];
    private TcpListener? _listener;
    private Task _accepting = Task.CompletedTask;
    private bool _swallow;

    public TcpSwitch(Uri target)
    {
        _target = new IPEndPoint(IPAddress.Parse(target.Host), target.Port);
        Port = ServiceNode.FreePort();
        Restore();
    }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}");

    public bool IsCut { get; private set; }

    public void Restore()
    {
        lock (_gate)
        {
            if (_swallow)
            {
                // The held connections never got an answer; close them so the node's pool starts afresh.
                ResetOpen();
                _listener?.Stop();
                _listener = null;
                _swallow = false;
            }

            var listener = new TcpListener(IPAddress.Loopback, Port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start();
            _listener = listener;
            IsCut = false;
            _accepting = AcceptAsync(listener);
        }
    }

    public void Cut()
    {
        lock (_gate)
        {
            IsCut = true;
            _listener?.Stop();
            _listener = null;
            ResetOpen();
        }
    }

    public void Blackhole()
    {
        lock (_gate)
        {
            IsCut = true;
            _swallow = true;
            ResetOpen();
        }
    }

    private void ResetOpen()
    {
        foreach (var client in _open)
        {
            // Linger 0 turns the close into a reset: the peer's pending call fails at once.
            client.LingerState = new LingerOption(true, 0);
            client.Dispose();
        }

        _open.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        Cut();
        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The listener was stopped under the accept.
        }
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (true)
        {
            TcpClient inbound;
            try
            {
                inbound = await listener.AcceptTcpClientAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = PumpAsync(inbound);
        }
    }

    private async Task PumpAsync(TcpClient inbound)
    {
        var outbound = new TcpClient();
        lock (_gate)
        {
            if (_swallow)
            {
                // Accepted and never answered: the caller waits until its own deadline.
                _open.Add(inbound);
                outbound.Dispose();
                return;
            }

            if (IsCut)
            {
                inbound.LingerState = new LingerOption(true, 0);
                inbound.Dispose();
                outbound.Dispose();
                return;
            }

            _open.Add(inbound);
            _open.Add(outbound);
        }

        try
        {
            await outbound.ConnectAsync(_target);
            var a = inbound.GetStream();
            var b = outbound.GetStream();
            await Task.WhenAny(a.CopyToAsync(b), b.CopyToAsync(a));
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Either side went away, or the switch was cut: both connections close below.
        }
        finally
        {
            lock (_gate)
            {
                _open.Remove(inbound);
                _open.Remove(outbound);
            }

            inbound.Dispose();
            outbound.Dispose();
        }
    }
}
