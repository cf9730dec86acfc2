using System.Threading.Channels;
using IngestService.Delivery;

namespace IngestService.Tests.Infrastructure;

/// <summary>
/// A sink the test steers: every window it receives is published on <see cref="Windows"/>, and the test decides
/// when and how it ends through the delivery's <see cref="SinkCall.Accept"/> and friends.
/// </summary>
/// <remarks>With <paramref name="ignoresCancellation"/> the delivery keeps waiting past the ack deadline, as a buggy sink would.</remarks>
public sealed class ScriptedSink(string name = "scripted", bool ignoresCancellation = false) : IEventSink
{
    private readonly Channel<SinkCall> _calls = Channel.CreateUnbounded<SinkCall>();

    public string Name => name;

    public ChannelReader<SinkCall> Windows => _calls.Reader;

    public string? ReadyProblem { get; set; }

    /// <summary>What <see cref="EnvelopeBytesToFill"/> answers: 0, as for a sink that does not bill records whole.</summary>
    public long FillBytes { get; set; }

    public long EnvelopeBytesToFill(int recordBytes) => FillBytes;

    public async Task DeliverAsync(IReadOnlyList<PendingEvent> events, bool[] accepted, CancellationToken cancellationToken)
    {
        var call = new SinkCall([.. events.Select(e => e.Line.ToArray())], [.. events.Select(e => e.SensorId)], accepted);
        await _calls.Writer.WriteAsync(call, cancellationToken);
        await call.Outcome.Task.WaitAsync(ignoresCancellation ? CancellationToken.None : cancellationToken);
    }

    public Task<string?> CheckReadyAsync(CancellationToken cancellationToken) => Task.FromResult(ReadyProblem);

    public async Task<SinkCall> NextWindowAsync()
    {
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _calls.Reader.ReadAsync(giveUp.Token);
    }
}

public sealed class SinkCall(byte[][] lines, string[] sensors, bool[] accepted)
{
    public byte[][] Lines { get; } = lines;

    public string[] Sensors { get; } = sensors;

    public TaskCompletionSource Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Accept(Func<int, bool>? which = null)
    {
        for (var i = 0; i < accepted.Length; i++)
        {
            accepted[i] = which?.Invoke(i) ?? true;
        }

        Outcome.TrySetResult();
    }

    public void Fail() => Outcome.TrySetException(new IOException("injected sink failure"));
}

/// <summary>Accepts everything at once, or fails everything while <see cref="Failing"/> is set.</summary>
public sealed class SwitchableSink : IEventSink
{
    public volatile bool Failing;

    public int Windows;

    public string Name => "switchable";

    public Task DeliverAsync(IReadOnlyList<PendingEvent> events, bool[] accepted, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Windows);
        if (Failing)
        {
            throw new IOException("injected sink failure");
        }

        Array.Fill(accepted, true);
        return Task.CompletedTask;
    }

    public Task<string?> CheckReadyAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}
