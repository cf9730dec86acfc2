using System.Text.Json;
using IngestService.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace IngestService.LoadGen.Tests;

public sealed class LoadGenRunTests
{
    [Fact]
    public async Task Against_a_correct_store_verification_finds_nothing_and_the_run_succeeds()
    {
        var fake = new FakeContractHandler();
        var (exit, report, _) = await RunAsync(fake, "--sensors", "5", "--events", "12", "--ts-spread", "3d", "--verify");

        Assert.Equal(LoadGenCommand.Success, exit);
        Assert.Equal(60, report.GetProperty("acked").GetInt64());
        Assert.Equal(60, report.GetProperty("statuses").GetProperty("200").GetInt64());
        var verify = report.GetProperty("verify");
        Assert.Equal(0, verify.GetProperty("missing").GetInt64());
        Assert.Equal(0, verify.GetProperty("duplicates").GetInt64());
        Assert.Equal(0, verify.GetProperty("outOfOrder").GetInt64());
        Assert.Equal(1, fake.FlushCalls);
    }

    [Fact]
    public async Task A_spread_over_days_makes_verification_read_several_days_per_sensor()
    {
        // Pinned at noon, 30 events over 3 days fall on four UTC days: 5, 10, 10 and 5 events per sensor.
        var fake = new FakeContractHandler { Faulty = true };
        var (exit, report, stderr) = await RunAsync(fake, Noon, "--sensors", "2", "--events", "30", "--ts-spread", "3d", "--verify");

        // The faulty store drops seq 1 and doubles seq 2 (both on the first day) and swaps each day's first pair:
        // one out-of-order event per sensor-day.
        Assert.Equal(LoadGenCommand.Faults, exit);
        Assert.Equal(8, fake.DayCount);
        var verify = report.GetProperty("verify");
        Assert.Equal(2, verify.GetProperty("missing").GetInt64());
        Assert.Equal(2, verify.GetProperty("duplicates").GetInt64());
        Assert.Equal(8, verify.GetProperty("outOfOrder").GetInt64());
        Assert.Contains("verification found", stderr);
    }

    [Fact]
    public async Task A_refused_event_is_resent_with_the_same_bytes_before_the_next_seq()
    {
        var fake = new FakeContractHandler { RefuseFirstAttempt = true };
        var (exit, report, _) = await RunAsync(fake, "--sensors", "3", "--events", "4", "--event-bytes", "300", "--verify");

        Assert.Equal(LoadGenCommand.Success, exit);
        Assert.Equal(12, report.GetProperty("acked").GetInt64());
        Assert.Equal(12, report.GetProperty("statuses").GetProperty("503").GetInt64());
        Assert.Equal(24, report.GetProperty("sent").GetInt64());
        Assert.All(fake.Bodies.Values, attempts =>
        {
            Assert.Equal(2, attempts.Count);
            Assert.Equal(attempts[0], attempts[1]);
        });
    }

    [Fact]
    public async Task Backlog_batches_carry_several_events_per_request()
    {
        var fake = new FakeContractHandler();
        var (exit, report, _) = await RunAsync(fake, "--sensors", "2", "--events", "10", "--batch", "4", "--verify");

        Assert.Equal(LoadGenCommand.Success, exit);
        Assert.Equal(20, report.GetProperty("acked").GetInt64());
        Assert.Equal(6, report.GetProperty("requests").GetInt64());
        Assert.Equal(new long[] { 0, 4, 8 }, fake.Bodies.Keys.Where(k => k.Sensor.EndsWith("-0", StringComparison.Ordinal)).Select(k => k.Seq).Order());
    }

    [Fact]
    public async Task An_unreachable_service_fails_with_a_message()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        LoadGenOptions.TryParse(["--url", "http://127.0.0.1:9", "--sensors", "1", "--duration", "1s"], out var options, out _);

        var exit = await LoadGenCommand.RunAsync(options, stdout, stderr, interactive: false, handler: null, TimeProvider.System, CancellationToken.None);

        Assert.Equal(LoadGenCommand.Unreachable, exit);
        Assert.Contains("cannot reach the service", stderr.ToString());
    }

    [Fact]
    public async Task Twenty_sensors_against_the_real_service_are_all_acknowledged_and_verified_in_their_sensor_days()
    {
        await using var service = new IngestAppFactory();
        using var handler = service.Server.CreateHandler();

        var (exit, report, stderr) = await RunAsync(handler, "--url", "http://localhost/", "--sensors", "20", "--duration", "2s", "--ts-spread", "3d", "--verify");

        Assert.True(exit == LoadGenCommand.Success, stderr);
        var acked = report.GetProperty("acked").GetInt64();
        Assert.True(acked >= 20, $"every sensor should get at least one event through: {report}");
        Assert.Equal(acked, report.GetProperty("statuses").GetProperty("200").GetInt64());
        var verify = report.GetProperty("verify");
        Assert.Equal(0, verify.GetProperty("missing").GetInt64());
        Assert.Equal(0, verify.GetProperty("duplicates").GetInt64());
        Assert.Equal(0, verify.GetProperty("outOfOrder").GetInt64());
        Assert.True(report.GetProperty("p99Ms").GetDouble() > 0);
        Assert.NotEmpty(Directory.EnumerateFiles(service.DataPath, "*", SearchOption.AllDirectories));
    }

    private static readonly DateTimeOffset Noon = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    private static Task<(int Exit, JsonElement Report, string Stderr)> RunAsync(HttpMessageHandler handler, params string[] args) =>
        RunAsync(handler, Noon, args);

    private static async Task<(int Exit, JsonElement Report, string Stderr)> RunAsync(HttpMessageHandler handler, DateTimeOffset now, params string[] args)
    {
        string[] all = args.Contains("--url") ? args : ["--url", "http://fake/", .. args];
        Assert.True(LoadGenOptions.TryParse(all, out var options, out var error), error);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await LoadGenCommand.RunAsync(options, stdout, stderr, interactive: false, handler, new FakeTimeProvider(now), CancellationToken.None);

        var lastLine = stdout.ToString().TrimEnd().Split('\n')[^1];
        return (exit, JsonDocument.Parse(lastLine).RootElement.Clone(), stderr.ToString());
    }
}
