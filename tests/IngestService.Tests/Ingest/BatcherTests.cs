using System.Diagnostics.Metrics;
using System.Text;
using IngestService.Delivery;
using IngestService.Events;
using IngestService.Ingest;
using IngestService.Telemetry;
using IngestService.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace IngestService.Tests.Ingest;

public sealed class BatcherTests : IAsyncLifetime
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 21, 10, 0, 0, TimeSpan.Zero));
    private readonly TimerProbe _timers;
    private readonly List<Batcher> _batchers = [];
    private readonly TestMeterFactory _meters = new();

    public BatcherTests() => _timers = new TimerProbe(_clock);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var batcher in _batchers)
        {
            // Release anything a test left waiting so StopAsync can drain.
            _clock.Advance(TimeSpan.FromMinutes(10));
            await batcher.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_event_is_not_acknowledged_before_its_sink_accepts_it()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);

        var e = Enqueue(batcher, "s1", 1);
        await CloseWindowAsync();
        var call = await sink.NextWindowAsync();

        Assert.False(e.Completion.IsCompleted);
        call.Accept();
        Assert.Equal(DeliveryOutcome.Stored, await e.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task One_window_carries_the_events_of_many_sensors()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);

        var events = Enumerable.Range(0, 50).Select(i => Enqueue(batcher, $"sensor-{i}", 1)).ToArray();
        await CloseWindowAsync();
        var call = await sink.NextWindowAsync();
        call.Accept();

        Assert.Equal(50, call.Lines.Length);
        Assert.Equal(50, call.Sensors.Distinct().Count());
        Assert.All(await Task.WhenAll(events.Select(e => e.Completion)), o => Assert.Equal(DeliveryOutcome.Stored, o));
    }

    [Fact]
    public async Task Exactly_the_events_a_sink_did_not_accept_are_failed()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);

        var events = Enumerable.Range(0, 10).Select(i => Enqueue(batcher, $"s{i}", i)).ToArray();
        await CloseWindowAsync();
        (await sink.NextWindowAsync()).Accept(i => i % 2 == 0);

        var outcomes = await Task.WhenAll(events.Select(e => e.Completion));
        for (var i = 0; i < outcomes.Length; i++)
        {
            Assert.Equal(i % 2 == 0 ? DeliveryOutcome.Stored : DeliveryOutcome.SinkFailed, outcomes[i]);
        }
    }

    [Fact]
    public async Task An_event_is_stored_only_when_every_sink_accepted_it()
    {
        var firehose = new ScriptedSink("firehose");
        var kinesis = new ScriptedSink("kinesis");
        var batcher = await StartAsync(firehose, kinesis);

        var events = Enumerable.Range(0, 4).Select(i => Enqueue(batcher, $"s{i}", i)).ToArray();
        await CloseWindowAsync();
        (await firehose.NextWindowAsync()).Accept(i => i < 2);
        (await kinesis.NextWindowAsync()).Accept(i => i % 2 == 0);

        var outcomes = await Task.WhenAll(events.Select(e => e.Completion));
        Assert.Equal([DeliveryOutcome.Stored, DeliveryOutcome.SinkFailed, DeliveryOutcome.SinkFailed, DeliveryOutcome.SinkFailed], outcomes);
    }

    [Fact]
    public async Task A_failing_sink_fails_its_window_and_the_next_window_succeeds()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);

        var first = Enqueue(batcher, "s1", 1);
        await CloseWindowAsync();
        (await sink.NextWindowAsync()).Fail();
        Assert.Equal(DeliveryOutcome.SinkFailed, await first.Completion.WaitAsync(TimeSpan.FromSeconds(10)));

        var resent = Enqueue(batcher, "s1", 1);
        await CloseWindowAsync();
        (await sink.NextWindowAsync()).Accept();
        Assert.Equal(DeliveryOutcome.Stored, await resent.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Events_not_accepted_within_the_ack_timeout_time_out()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);

        var e = Enqueue(batcher, "s1", 1);
        await CloseWindowAsync();
        await sink.NextWindowAsync();
        _clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(DeliveryOutcome.TimedOut, await e.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Over_the_pending_caps_the_batcher_refuses_and_takes_events_again_once_answered()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync([sink], o => o.MaxPendingEvents = 3);

        var held = Enumerable.Range(0, 3).Select(i => Enqueue(batcher, $"s{i}", 1)).ToArray();
        Assert.Equal(Admission.OverCapacity, batcher.TryEnqueue([Event("s9", 1)]));
        Assert.Equal(3, batcher.PendingEvents);

        await CloseWindowAsync();
        (await sink.NextWindowAsync()).Accept();
        await Task.WhenAll(held.Select(e => e.Completion));

        Assert.Equal(0, batcher.PendingEvents);
        Assert.Equal(0, batcher.PendingBytes);
        Assert.Equal(Admission.Accepted, batcher.TryEnqueue([Event("s9", 1)]));
    }

    [Fact]
    public async Task A_batch_is_admitted_whole_or_not_at_all()
    {
        var batcher = await StartAsync([new ScriptedSink()], o => o.MaxPendingEvents = 3);

        Assert.Equal(Admission.OverCapacity, batcher.TryEnqueue([.. Enumerable.Range(0, 4).Select(i => Event("s1", i))]));
        Assert.Equal(0, batcher.PendingEvents);
    }

    [Fact]
    public async Task A_window_closes_at_its_event_cap_without_waiting_for_the_clock()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync([sink], o => o.MaxWindowEvents = 5);

        foreach (var i in Enumerable.Range(0, 12))
        {
            Enqueue(batcher, $"s{i}", 1);
        }

        Assert.Equal(5, (await sink.NextWindowAsync()).Lines.Length);
        Assert.Equal(5, (await sink.NextWindowAsync()).Lines.Length);
    }

    [Fact]
    public async Task A_slow_flush_does_not_stall_the_next_window()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);

        var slow = Enqueue(batcher, "s1", 1);
        await CloseWindowAsync();
        var stuck = await sink.NextWindowAsync();

        var fast = Enqueue(batcher, "s2", 1);
        // The stuck flush holds its deadline and give-up timers; the third is the new window's.
        await CloseWindowAsync(timers: 3);
        (await sink.NextWindowAsync()).Accept();

        Assert.Equal(DeliveryOutcome.Stored, await fast.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(slow.Completion.IsCompleted);
        stuck.Accept();
        Assert.Equal(DeliveryOutcome.Stored, await slow.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Theory]
    [InlineData(30, 70)] // back to back: the window closes a Window after the last close
    [InlineData(150, 100)] // after a quiet spell: a whole Window from its first event
    public async Task A_window_that_follows_another_keeps_its_cadence_and_one_after_a_quiet_spell_runs_a_whole_window(int afterCloseMs, int closesAfterMs)
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);
        var answered = Enqueue(batcher, "s1", 1);
        await CloseWindowAsync();
        (await sink.NextWindowAsync()).Accept();
        await answered.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        // The delivery's deadline timers are gone once its sensors are answered: what is armed next is the new window's.
        await _timers.WaitUntilNoTimerIsArmedAsync();

        // Its sensor is answered, say, 30 ms after the close, and sends again at once, as a sensor draining its queue does.
        _clock.Advance(TimeSpan.FromMilliseconds(afterCloseMs));
        var next = Enqueue(batcher, "s1", 2);
        await _timers.WaitForArmedTimersAsync();
        _clock.Advance(TimeSpan.FromMilliseconds(closesAfterMs - 1));
        Assert.True(_timers.ArmedCount == 1, $"the window's timer fired before {closesAfterMs} ms");

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, _timers.ArmedCount);
        (await sink.NextWindowAsync()).Accept();
        Assert.Equal(DeliveryOutcome.Stored, await next.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Stopping_delivers_held_events_answers_them_all_and_refuses_new_ones()
    {
        var sink = new SwitchableSink();
        var batcher = await StartAsync(sink);

        var held = Enumerable.Range(0, 20).Select(i => Enqueue(batcher, $"s{i}", 1)).ToArray();
        var stopping = batcher.StopAsync(CancellationToken.None);
        Assert.Equal(Admission.Draining, batcher.TryEnqueue([Event("late", 1)]));

        // No clock movement: completing the queue closes the open window at once.
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.All(held, e => Assert.Equal(DeliveryOutcome.Stored, e.Completion.Result));
        Assert.Equal(0, batcher.PendingEvents);
    }

    [Fact]
    public async Task The_stored_line_is_the_envelope_with_the_event_bytes_verbatim()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);

        const string body = "{\"ts\":\"2026-11-21T11:00:00+01:00\",\"seq\":7,\"t\":21.50,\"tags\":[\"a\",{\"b\":null}]}";
        var header = new EventHeader(new DateTimeOffset(2026, 11, 21, 10, 0, 0, TimeSpan.Zero), 7);
        batcher.TryEnqueue([PendingEvent.Create("s1", header, _clock.GetUtcNow(), Encoding.UTF8.GetBytes(body), _clock.GetTimestamp())]);
        await CloseWindowAsync();
        var call = await sink.NextWindowAsync();
        call.Accept();

        Assert.Equal(
            "{\"sensorId\":\"s1\",\"seq\":7,\"ts\":\"2026-11-21T10:00:00.000Z\",\"receivedAt\":\"2026-11-21T10:00:00.000Z\",\"event\":" + body + "}\n",
            Encoding.UTF8.GetString(call.Lines[0]));
    }

    [Fact]
    public async Task An_event_that_arrives_as_a_window_closes_leaves_no_empty_window_open_behind_it()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);

        // The late event completes the loop's pending wake-up while the closing window's last read takes it;
        // repeated because that ordering is up to the thread pool.
        for (var i = 0; i < 20; i++)
        {
            var first = Enqueue(batcher, "s1", i);
            await _timers.WaitForArmedTimersAsync();
            var late = Enqueue(batcher, "s2", i);
            _clock.Advance(Window);
            (await sink.NextWindowAsync()).Accept();
            await Task.WhenAll(first.Completion, late.Completion).WaitAsync(TimeSpan.FromSeconds(10));

            // No timer left: no window is open without an event in it.
            await _timers.WaitUntilNoTimerIsArmedAsync();
        }
    }

    [Fact]
    public async Task After_a_loop_fault_the_held_event_is_failed_and_every_later_event_is_refused_at_once()
    {
        var batcher = await StartAsync(new ScriptedSink());
        using var faulted = new MetricCollector<int>(_meters, IngestMetrics.MeterName, "ingest_batcher_faulted");
        faulted.RecordObservableInstruments();
        Assert.Equal(0, faulted.LastMeasurement?.Value);

        _timers.FailNextTimer();
        var held = Enqueue(batcher, "s1", 1);

        Assert.Equal(DeliveryOutcome.SinkFailed, await held.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(batcher.IsFaulted);
        faulted.RecordObservableInstruments();
        Assert.Equal(1, faulted.LastMeasurement?.Value);
        Assert.Equal(Admission.Faulted, batcher.TryEnqueue([Event("s2", 1)]));
        Assert.Equal(0, batcher.PendingEvents);
        Assert.Equal(0, batcher.PendingBytes);
    }

    [Fact]
    public async Task A_sink_that_ignores_the_ack_deadline_still_gets_its_window_answered_as_timed_out()
    {
        var sink = new ScriptedSink(ignoresCancellation: true);
        var batcher = await StartAsync(sink);

        var e = Enqueue(batcher, "s1", 1);
        await CloseWindowAsync();
        await sink.NextWindowAsync();
        _clock.Advance(new BatchingOptions().AckTimeout);
        Assert.False(e.Completion.IsCompleted);
        _clock.Advance(WindowDelivery.StuckSinkGrace);

        Assert.Equal(DeliveryOutcome.TimedOut, await e.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, batcher.PendingEvents);
        Assert.Equal(Admission.Accepted, batcher.TryEnqueue([Event("s2", 1)]));
    }

    [Fact]
    public async Task A_sink_busy_before_its_first_wait_holds_up_neither_the_other_sink_nor_the_next_window()
    {
        using var busy = new BusySink();
        var other = new ScriptedSink();
        var batcher = await StartAsync(busy, other);

        var first = Enqueue(batcher, "s1", 1);
        await CloseWindowAsync();
        (await other.NextWindowAsync()).Accept();
        var second = Enqueue(batcher, "s2", 1);
        await CloseWindowAsync(timers: 3);
        (await other.NextWindowAsync()).Accept();

        Assert.False(first.Completion.IsCompleted);
        busy.Release();
        Assert.Equal(DeliveryOutcome.Stored, await first.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(DeliveryOutcome.Stored, await second.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_window_whose_record_is_short_of_its_billing_increment_keeps_collecting_until_it_is_full()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);
        PendingEvent[] events = [Event("s1", 1), Event("s2", 1), Event("s3", 1)];
        sink.FillBytes = events.Sum(e => (long)e.Length);

        batcher.TryEnqueue([events[0]]);
        await _timers.WaitForArmedTimersAsync();
        _clock.Advance(Window / 2);
        batcher.TryEnqueue([events[1]]);
        _clock.Advance(Window / 2);
        // Its time is up with the record short and an event arrived within the Window: the timer is armed again.
        await _timers.WaitForArmedTimersAsync();
        Assert.False(events[0].Completion.IsCompleted);
        batcher.TryEnqueue([events[2]]);

        // No clock movement: the third event fills the record and closes the window.
        var call = await sink.NextWindowAsync();
        Assert.Equal(3, call.Lines.Length);
        call.Accept();
        Assert.All(await Task.WhenAll(events.Select(e => e.Completion)), o => Assert.Equal(DeliveryOutcome.Stored, o));
    }

    [Fact]
    public async Task A_window_that_cannot_fill_its_record_closes_at_the_fill_window_while_events_keep_arriving()
    {
        var sink = new ScriptedSink { FillBytes = 1_000_000 };
        var batcher = await StartAsync([sink], o => o.FillWindow = TimeSpan.FromMilliseconds(500));

        // An event every half Window: the window never goes a Window without one.
        Enqueue(batcher, "s0", 1);
        await _timers.WaitForArmedTimersAsync();
        for (var i = 1; i <= 10; i++)
        {
            _clock.Advance(Window / 2);
            if (i < 10)
            {
                Enqueue(batcher, $"s{i}", 1);
            }
        }

        var call = await sink.NextWindowAsync();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"s{i}"), call.Sensors);
    }

    [Fact]
    public async Task A_filling_window_closes_once_a_window_passes_with_no_event_as_when_its_senders_wait_for_their_answers()
    {
        var sink = new ScriptedSink { FillBytes = 1_000_000 };
        var batcher = await StartAsync([sink], o => o.FillWindow = TimeSpan.FromMilliseconds(500));

        Enqueue(batcher, "s1", 1);
        var second = Enqueue(batcher, "s2", 1);
        await CloseWindowAsync();

        // No clock movement past the Window: nothing arrived in it, so nothing would fill the record by waiting.
        var call = await sink.NextWindowAsync();
        Assert.Equal(["s1", "s2"], call.Sensors);
        call.Accept();
        Assert.Equal(DeliveryOutcome.Stored, await second.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_window_whose_record_is_already_worth_its_billing_closes_after_the_window()
    {
        var sink = new ScriptedSink();
        var batcher = await StartAsync(sink);
        var first = Enqueue(batcher, "s1", 1);
        var second = Enqueue(batcher, "s2", 1);
        sink.FillBytes = first.Length + second.Length;

        await CloseWindowAsync();

        Assert.Equal(2, (await sink.NextWindowAsync()).Lines.Length);
    }

    [Fact]
    public void A_fill_window_as_long_as_the_ack_timeout_is_refused()
    {
        var options = new BatchingOptions { AckTimeout = TimeSpan.FromSeconds(1), FillWindow = TimeSpan.FromSeconds(1) };
        var errors = new List<System.ComponentModel.DataAnnotations.ValidationResult>();

        Assert.False(System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), errors, validateAllProperties: true));
        Assert.Contains(errors, e => e.ErrorMessage!.Contains("Batching:FillWindow", StringComparison.Ordinal));
        var off = new BatchingOptions { AckTimeout = TimeSpan.FromSeconds(1), FillWindow = TimeSpan.FromSeconds(1), FillRecordBytes = 0 };
        Assert.True(System.ComponentModel.DataAnnotations.Validator.TryValidateObject(off, new(off), [], validateAllProperties: true));
    }

    private async Task CloseWindowAsync(int timers = 1)
    {
        await _timers.WaitForArmedTimersAsync(timers);
        _clock.Advance(Window);
    }

    private PendingEvent Enqueue(Batcher batcher, string sensor, long seq)
    {
        var e = Event(sensor, seq);
        Assert.Equal(Admission.Accepted, batcher.TryEnqueue([e]));
        return e;
    }

    private PendingEvent Event(string sensor, long seq)
    {
        var body = Encoding.UTF8.GetBytes($"{{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":{seq}}}");
        return PendingEvent.Create(sensor, new EventHeader(_clock.GetUtcNow(), seq), _clock.GetUtcNow(), body, _clock.GetTimestamp());
    }

    private Task<Batcher> StartAsync(params IEventSink[] sinks) => StartAsync(sinks, _ => { });

    private async Task<Batcher> StartAsync(IEventSink[] sinks, Action<BatchingOptions> configure)
    {
        var options = new BatchingOptions { Window = Window };
        configure(options);
        var batcher = new Batcher(sinks, Options.Create(options), _timers, new IngestMetrics(_meters), NullLogger<Batcher>.Instance);
        _batchers.Add(batcher);
        await batcher.StartAsync(CancellationToken.None);
        return batcher;
    }

    /// <summary>Works synchronously (as serializing and signing a large request does) until released, then accepts all.</summary>
    private sealed class BusySink : IEventSink, IDisposable
    {
        private readonly ManualResetEventSlim _released = new();

        public string Name => "busy";

        public void Release() => _released.Set();

        public Task DeliverAsync(IReadOnlyList<PendingEvent> events, bool[] accepted, CancellationToken cancellationToken)
        {
            _released.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
            Array.Fill(accepted, true);
            return Task.CompletedTask;
        }

        public Task<string?> CheckReadyAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);

        public void Dispose() => _released.Dispose();
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        public Meter Create(MeterOptions options)
        {
            options.Scope = this;
            return new Meter(options);
        }

        public void Dispose()
        {
        }
    }
}
