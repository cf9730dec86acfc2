using System.Diagnostics;
using System.Net;

namespace IngestService.LoadGen;

/// <summary>One whole run: reachability check, load, optional verification, report, exit code.</summary>
internal static class LoadGenCommand
{
    public const int Success = 0;
    public const int Faults = 1;
    public const int BadArguments = 2;
    public const int Unreachable = 3;

    /// <summary>Requests still unanswered this long after the run ends are given up (the default ack timeout is 10 s).</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    /// <remarks>
    /// A null <c>handler</c> builds the fast default transport; tests pass an in-memory one. <c>time</c> dates the
    /// events, so a test can pin the days a <c>--ts-spread</c> crosses.
    /// </remarks>
    public static async Task<int> RunAsync(
        LoadGenOptions options, TextWriter stdout, TextWriter stderr, bool interactive, HttpMessageHandler? handler, TimeProvider time, CancellationToken interrupt)
    {
        using var client = new HttpClient(handler ?? CreateHandler(options), disposeHandler: handler is null)
        {
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        if (await ProbeAsync(client, options.Url, interrupt) is { } problem)
        {
            await stderr.WriteLineAsync($"error: cannot reach the service at {options.Url}: {problem}");
            return Unreachable;
        }

        using var stopNew = CancellationTokenSource.CreateLinkedTokenSource(interrupt);
        using var abort = new CancellationTokenSource();
        if (options.Duration is { } duration)
        {
            stopNew.CancelAfter(duration);
        }

        // A second interrupt, or requests hanging well past the end, abandon what is still in flight.
        await using var hard = stopNew.Token.Register(() => abort.CancelAfter(Grace));

        var stats = new RunStats();
        var run = new LoadRun(options, client, stats, stderr, time);
        using var progressDone = new CancellationTokenSource();
        var progress = ProgressDisplay.RunAsync(stats, stderr, interactive, progressDone.Token);
        var started = Stopwatch.GetTimestamp();
        if (options.Warmup > TimeSpan.Zero)
        {
            stats.WarmUpUntilMeasuring();
        }
        else
        {
            stats.BeginMeasuring(started);
        }

        await using (new Timer(_ => stats.BeginMeasuring(Stopwatch.GetTimestamp()), null, options.Warmup > TimeSpan.Zero ? options.Warmup : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan))
        {
            await run.RunAsync(stopNew.Token, abort.Token);
        }

        var ended = Stopwatch.GetTimestamp();
        await progressDone.CancelAsync();
        await progress;

        VerifyCounts? verify = null;
        if (options.Verify)
        {
            try
            {
                verify = await new Verifier(client, options.VerifyUrl ?? options.Url, options.Token).VerifyAsync(run.Sensors, interrupt);
            }
            catch (Exception ex) when (ex is VerifyException or HttpRequestException)
            {
                await stderr.WriteLineAsync($"error: verification could not run: {ex.Message}");
                await stdout.WriteLineAsync(RunReport.From(options, stats, started, ended, null).ToJson());
                return Unreachable;
            }
        }

        var report = RunReport.From(options, stats, started, ended, verify);
        await stdout.WriteLineAsync(report.ToJson());
        if (verify is { Clean: false } v)
        {
            await stderr.WriteLineAsync($"error: verification found {v.Missing} missing, {v.Duplicates} duplicate and {v.OutOfOrder} out-of-order events");
            return Faults;
        }

        if (stats.Acked == 0)
        {
            await stderr.WriteLineAsync("error: the service acknowledged no event");
            return Faults;
        }

        return Success;
    }

    private static SocketsHttpHandler CreateHandler(LoadGenOptions options) => new()
    {
        // One keep-alive connection per sensor, as real sensors would hold; a few more for verification.
        MaxConnectionsPerServer = options.Sensors + 32,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        UseCookies = false,
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
    };

    /// <summary>Any HTTP answer means reachable; only a failed connection is a problem.</summary>
    private static async Task<string?> ProbeAsync(HttpClient client, Uri url, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            using var response = await client.GetAsync(new Uri(url, "healthz"), timeout.Token);
            return null;
        }
        catch (HttpRequestException ex)
        {
            return ex.InnerException?.Message ?? ex.Message;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "no answer within 10 s";
        }
    }
}
