using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace IngestService.LoadGen;

/// <summary>
/// Once a second: a live table on a terminal, a plain line when stderr is redirected (CI logs, scripts).
/// Never stdout: its last line is the machine-readable report.
/// </summary>
internal static class ProgressDisplay
{
    public static Task RunAsync(RunStats stats, TextWriter output, bool interactive, CancellationToken done) =>
        interactive ? RunLiveAsync(stats, done) : RunPlainAsync(stats, output, done);

    private static async Task RunPlainAsync(RunStats stats, TextWriter output, CancellationToken done)
    {
        var sampler = new Sampler(stats);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(done))
            {
                var s = sampler.Next();
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"[{s.Elapsed.TotalSeconds,5:0}s] events/s {s.Rate,9:0}  acked {s.Acked,10}  in flight {s.InFlight,6}  errors {s.Errors,6}  p99 {s.P99Ms,8:0.0} ms"));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task RunLiveAsync(RunStats stats, CancellationToken done)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("elapsed", "events/s", "acked", "in flight", "errors", "p99 ms");
        table.AddRow("0s", "0", "0", "0", "0", "0");
        var sampler = new Sampler(stats);
        await console.Live(table).StartAsync(async context =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            try
            {
                while (await timer.WaitForNextTickAsync(done))
                {
                    var s = sampler.Next();
                    table.UpdateCell(0, 0, $"{s.Elapsed.TotalSeconds:0}s");
                    table.UpdateCell(0, 1, s.Rate.ToString("0", CultureInfo.InvariantCulture));
                    table.UpdateCell(0, 2, s.Acked.ToString(CultureInfo.InvariantCulture));
                    table.UpdateCell(0, 3, s.InFlight.ToString(CultureInfo.InvariantCulture));
                    table.UpdateCell(0, 4, s.Errors == 0 ? "0" : $"[red]{s.Errors}[/]");
                    table.UpdateCell(0, 5, s.P99Ms.ToString("0.0", CultureInfo.InvariantCulture));
                    context.Refresh();
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    private readonly record struct Sample(TimeSpan Elapsed, double Rate, long Acked, long InFlight, long Errors, double P99Ms);

    /// <summary>Turns the cumulative counters into a rate over the last interval.</summary>
    private sealed class Sampler(RunStats stats)
    {
        private readonly long _start = Stopwatch.GetTimestamp();
        private long _lastTimestamp = Stopwatch.GetTimestamp();
        private long _lastAcked;

        public Sample Next()
        {
            var now = Stopwatch.GetTimestamp();
            var acked = stats.Acked;
            var seconds = Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
            var rate = seconds > 0 ? (acked - _lastAcked) / seconds : 0;
            _lastTimestamp = now;
            _lastAcked = acked;
            return new Sample(Stopwatch.GetElapsedTime(_start, now), rate, acked, stats.InFlight, stats.Errors, stats.Latency.PercentileMilliseconds(99));
        }
    }
}
