using System.Diagnostics;
using System.Globalization;
using System.Text;
using IngestService.Regroup;
using IngestService.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

/// <summary>
/// A simulated fleet day under a driven clock: every minute one raw batch lands (every sensor's events of that
/// minute, as one Firehose object per minute would hold them) and every node looks, as the worker does each
/// Regroup:Interval. After the day, the clock runs on without new batches until the day is merged. Requests are
/// counted at the store seam; CPU per merge from the process's CPU time.
/// </summary>
internal static class FleetDay
{
    public static async Task RunAsync(string data, int sensors, int eventsPerMinute, int nodes, int minutes, TimeSpan freshness, TimeSpan interval)
    {
        var clock = new DrivenClock(new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero));
        var counter = new RequestCounter();
        var settings = new RegroupOptions { Freshness = freshness, Interval = interval, DeliveryLag = TimeSpan.Zero };
        using var meters = new NoMeters();
        var regroupers = Enumerable.Range(0, nodes).Select(_ =>
        {
            // One store instance per node: its own in-process locks, as another process's would be.
            var store = counter.Wrap(new FileSystemObjectStore(data));
            return new Regrouper(store, new SensorDayMerger(store, clock, NullLogger<SensorDayMerger>.Instance), Options.Create(settings),
                Options.Create(new StorageOptions()), clock, new RegroupMetrics(meters, clock, Options.Create(settings)), NullLogger<Regrouper>.Instance);
        }).ToList();

        var seq = new long[sensors];
        var merges = new List<(int Minute, long Events, double CpuSeconds)>();
        long events = 0, rawBytes = 0;
        var process = Process.GetCurrentProcess();
        var started = Stopwatch.GetTimestamp();
        var drainUntil = minutes + (int)Math.Ceiling(freshness.TotalMinutes) + 1;
        (long Put, long Get, long List, long SensorDayPuts) day = default;
        for (var minute = 0; minute < drainUntil; minute++)
        {
            if (minute == minutes)
            {
                // The day's own looks; what follows only drains its tail (in a steady state, the next day's looks do).
                day = (counter.Put, counter.Get, counter.List, counter.SensorDayPuts);
            }

            if (minute < minutes)
            {
                rawBytes += WriteBatch(data, clock.Now, sensors, eventsPerMinute, seq);
                events += (long)sensors * eventsPerMinute;
            }

            foreach (var regrouper in regroupers)
            {
                process.Refresh();
                var cpu = process.TotalProcessorTime;
                var report = await regrouper.LookAsync(CancellationToken.None);
                if (report.Merged && report.Events > 0)
                {
                    process.Refresh();
                    merges.Add((minute, report.Events, (process.TotalProcessorTime - cpu).TotalSeconds));
                }
            }

            clock.Now += interval;
        }

        var final = await regroupers[0].RunPassAsync(CancellationToken.None);
        long storedBytes = 0, sensorDays = 0;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(data, "sensors"), "*.ndjson.gz", SearchOption.AllDirectories))
        {
            storedBytes += new FileInfo(file).Length;
            sensorDays++;
        }

        process.Refresh();
        var first = merges[0];
        var last = merges[^1];
        var json = new StringBuilder();
        json.Append(CultureInfo.InvariantCulture, $"{{\"command\":\"fleetday\",\"sensors\":{sensors},\"eventsPerSensorPerMinute\":{eventsPerMinute},\"nodes\":{nodes},\"minutes\":{minutes},");
        json.Append(CultureInfo.InvariantCulture, $"\"freshness\":\"{freshness}\",\"interval\":\"{interval}\",\"events\":{events},\"rawBytes\":{rawBytes},\"sensorDays\":{sensorDays},");
        json.Append(CultureInfo.InvariantCulture, $"\"day\":{{\"put\":{day.Put},\"get\":{day.Get},\"list\":{day.List},\"sensorDayPuts\":{day.SensorDayPuts}}},");
        json.Append(CultureInfo.InvariantCulture, $"\"put\":{counter.Put},\"get\":{counter.Get},\"head\":{counter.Head},\"list\":{counter.List},\"delete\":{counter.Delete},");
        json.Append(CultureInfo.InvariantCulture, $"\"sensorDayPuts\":{counter.SensorDayPuts},\"putsPerSensorDay\":{(double)counter.SensorDayPuts / sensorDays:0.00},");
        json.Append(CultureInfo.InvariantCulture, $"\"getsPerSensorDay\":{(double)counter.Get / sensorDays:0.00},\"listsPerSensorDay\":{(double)counter.List / sensorDays:0.000},");
        json.Append(CultureInfo.InvariantCulture, $"\"writeAmplification\":{(double)counter.SensorDayBytesWritten / storedBytes:0.00},\"storedBytes\":{storedBytes},");
        json.Append(CultureInfo.InvariantCulture, $"\"merges\":{merges.Count},\"firstMerge\":{{\"minute\":{first.Minute},\"events\":{first.Events},\"cpuSecondsPerMillionEvents\":{first.CpuSeconds * 1e6 / first.Events:0.00}}},");
        json.Append(CultureInfo.InvariantCulture, $"\"lastMerge\":{{\"minute\":{last.Minute},\"events\":{last.Events},\"cpuSecondsPerMillionEvents\":{last.CpuSeconds * 1e6 / last.Events:0.00}}},");
        json.Append(CultureInfo.InvariantCulture, $"\"flushAfterDrain\":{{\"batchesRead\":{final.BatchesRead}}},\"peakWorkingSetMiB\":{process.PeakWorkingSet64 / 1048576.0:0},\"seconds\":{Stopwatch.GetElapsedTime(started).TotalSeconds:0.0}}}");
        Console.WriteLine(json);
    }

    /// <summary>One Firehose-style object holding every sensor's events of this minute; answers its size.</summary>
    private static long WriteBatch(string data, DateTimeOffset at, int sensors, int eventsPerMinute, long[] seq)
    {
        var folder = Path.Combine(data, "raw", at.ToString("yyyy/MM/dd/HH", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        var content = new StringBuilder(sensors * eventsPerMinute * 400);
        for (var e = 0; e < eventsPerMinute; e++)
        {
            for (var s = 0; s < sensors; s++)
            {
                var n = ++seq[s];
                var ts = (at + TimeSpan.FromMilliseconds((e * 60_000 / eventsPerMinute) + (s % 1000))).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                // About 300 B of sensor payload, as in the reference fleet.
                content.Append(CultureInfo.InvariantCulture,
                    $"{{\"sensorId\":\"fleet-{s:D5}\",\"seq\":{n},\"ts\":\"{ts}\",\"receivedAt\":\"{ts}\",\"event\":{{\"ts\":\"{ts}\",\"seq\":{n},\"t\":{20 + (n % 50 / 10.0):0.0},\"h\":{40 + (n % 200 / 10.0):0.0},\"p\":{1013 + (n % 20)},\"fw\":\"1.4.2\",\"site\":\"plant-7\",\"line\":\"L{s % 12}\",\"status\":\"ok\",\"vib\":[{n % 7},{n % 11},{n % 13}],\"note\":\"periodic reading from the field logger, nothing to report\"}}}}\n");
            }
        }

        var path = Path.Combine(folder, $"ingest-raw-1-{at:yyyy-MM-dd-HH-mm-ss}-fleet");
        var bytes = Encoding.UTF8.GetBytes(content.ToString());
        File.WriteAllBytes(path, bytes);
        File.SetLastWriteTimeUtc(path, at.UtcDateTime);
        return bytes.Length;
    }

    private sealed class DrivenClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
