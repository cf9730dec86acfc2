using System.Diagnostics;
using System.Globalization;
using System.Text;
using IngestService.Regroup;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Options;

/// <summary>
/// A simulated fleet day under a driven clock: every minute one raw batch lands (the events of that minute, as one
/// Firehose object per minute would hold them) and every node looks, as the worker does each Regroup:Interval. Each
/// sensor sends one event every <c>every</c> minutes (staggered), a scaled-down reference fleet, or <c>perMinute</c>
/// events a minute (7 is the reference fleet's 10,000 a day: its segments, with fewer sensors). After the day the
/// clock runs on until the day is sealed. Requests are counted at the store seam; reads of today are counted cold
/// (a new node) and warm at 23:00 and when the most runs of the day were live; CPU from the process's CPU time.
/// </summary>
internal static class FleetDay
{
    public static async Task RunAsync(string data, int sensors, int every, int perMinute, int nodes, int minutes, TimeSpan interval)
    {
        var clock = new DrivenClock(new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero));
        var counter = new RequestCounter();
        var settings = new RegroupOptions { Interval = interval, DeliveryLag = TimeSpan.Zero, LateWindow = TimeSpan.FromHours(26) };
        using var meters = new NoMeters();
        // One store instance per node: its own in-process locks, as another process's would be.
        var regroupers = Enumerable.Range(0, nodes).Select(_ => Harness.CreateRegrouper(counter.Wrap(new FileSystemObjectStore(data)), settings, clock, meters)).ToList();

        var seq = new long[sensors];
        long events = 0, rawBytes = 0;
        var process = Process.GetCurrentProcess();
        var started = Stopwatch.GetTimestamp();
        (long Put, long Get, long List) day = default;
        string readToday = "{}", readAtMostRuns = "{}";
        var mostRuns = 0;
        var uncounted = new ManifestStore(new FileSystemObjectStore(data), clock);
        double regroupCpu = 0, dayCpu = 0;
        for (var minute = 0; minute < minutes + 3; minute++)
        {
            if (minute == minutes)
            {
                // The day's own passes; what follows seals it (in a steady state the next day's passes do).
                day = (counter.Put, counter.Get, counter.List);
                dayCpu = regroupCpu;
            }

            if (minute < minutes)
            {
                var (written, bytes) = WriteBatch(data, clock.Now, minute, sensors, every, seq, perMinute);
                events += written;
                rawBytes += bytes;
            }

            foreach (var regrouper in regroupers)
            {
                process.Refresh();
                var cpu = process.TotalProcessorTime;
                await regrouper.LookAsync(CancellationToken.None);
                process.Refresh();
                regroupCpu += (process.TotalProcessorTime - cpu).TotalSeconds;
            }

            if (minute == Math.Min(minutes - 1, 23 * 60))
            {
                readToday = await ReadTodayAsync(data, clock);
            }

            if (minute < minutes)
            {
                var today = DateOnly.FromDateTime(clock.Now.UtcDateTime);
                var live = (await uncounted.ReadAsync(CancellationToken.None)).Manifest.RunsFor("fleet-00007", today).Count();
                if (live > mostRuns)
                {
                    mostRuns = live;
                    readAtMostRuns = $"{{\"minute\":{minute},\"runs\":{live},\"read\":{await ReadTodayAsync(data, clock)}}}";
                }
            }

            clock.Now += interval;
        }

        var final = await regroupers[0].RunPassAsync(CancellationToken.None);
        long storedBytes = 0, sensorDays = 0;
        var sensorFolder = Path.Combine(data, "sensors");
        foreach (var file in Directory.Exists(sensorFolder) ? Directory.EnumerateFiles(sensorFolder, "*.ndjson.gz", SearchOption.AllDirectories) : [])
        {
            storedBytes += new FileInfo(file).Length;
            sensorDays++;
        }

        var sealedRead = sensorDays > 0 ? await ReadSealedAsync(data, clock) : "{}";
        process.Refresh();
        var dollars = ((day.Put + day.List) * 0.005 / 1000) + (day.Get * 0.0004 / 1000);
        var json = new StringBuilder();
        json.Append(CultureInfo.InvariantCulture, $"{{\"command\":\"fleetday\",\"sensors\":{sensors},\"everyMinutes\":{every},\"perMinute\":{perMinute},\"nodes\":{nodes},\"minutes\":{minutes},");
        json.Append(CultureInfo.InvariantCulture, $"\"interval\":\"{interval}\",\"events\":{events},\"rawBytes\":{rawBytes},\"sensorDays\":{sensorDays},");
        json.Append(CultureInfo.InvariantCulture, $"\"day\":{{\"put\":{day.Put},\"get\":{day.Get},\"list\":{day.List},\"s3Dollars\":{dollars:0.0000}}},");
        json.Append(CultureInfo.InvariantCulture, $"\"put\":{counter.Put},\"get\":{counter.Get},\"head\":{counter.Head},\"list\":{counter.List},\"delete\":{counter.Delete},");
        json.Append(CultureInfo.InvariantCulture, $"\"sensorDayPuts\":{counter.SensorDayPuts},\"putsPerSensorDay\":{(double)counter.SensorDayPuts / sensorDays:0.00},");
        json.Append(CultureInfo.InvariantCulture, $"\"runBytesWritten\":{counter.RunBytesWritten},\"sensorDayBytesWritten\":{counter.SensorDayBytesWritten},\"storedBytes\":{storedBytes},");
        json.Append(CultureInfo.InvariantCulture, $"\"writeAmplificationBytes\":{(double)(counter.RunBytesWritten + counter.SensorDayBytesWritten) / storedBytes:0.00},");
        json.Append(CultureInfo.InvariantCulture, $"\"writeAmplificationEvents\":{(double)(counter.RunEventsWritten + counter.SensorDayEventsWritten) / events:0.00},");
        json.Append(CultureInfo.InvariantCulture, $"\"readToday\":{readToday},\"readAtMostRuns\":{readAtMostRuns},\"readSealed\":{sealedRead},");
        json.Append(CultureInfo.InvariantCulture, $"\"regroupCpuSeconds\":{regroupCpu:0.00},\"passCpuSeconds\":{dayCpu:0.00},\"sealCpuSeconds\":{regroupCpu - dayCpu:0.00},");
        json.Append(CultureInfo.InvariantCulture, $"\"regroupCpuSecondsPerMillionEvents\":{regroupCpu * 1e6 / events:0.00},\"flushAfterDay\":{{\"batchesRead\":{final.BatchesRead},\"sensorDaysWritten\":{final.SensorDaysWritten}}},");
        json.Append(CultureInfo.InvariantCulture, $"\"gcCollections\":[{GC.CollectionCount(0)},{GC.CollectionCount(1)},{GC.CollectionCount(2)}],\"allocatedMiB\":{GC.GetTotalAllocatedBytes() / 1048576.0:0},\"serverGc\":{(System.Runtime.GCSettings.IsServerGC ? "true" : "false")},");
        json.Append(CultureInfo.InvariantCulture, $"\"peakWorkingSetMiB\":{process.PeakWorkingSet64 / 1048576.0:0},\"seconds\":{Stopwatch.GetElapsedTime(started).TotalSeconds:0.0}}}");
        Console.WriteLine(json);
    }

    /// <summary>GETs of one sensor's today on a new node (cold: manifest and run indexes too), then again on the same node (warm).</summary>
    private static async Task<string> ReadTodayAsync(string data, TimeProvider clock)
    {
        var counter = new RequestCounter();
        var store = counter.Wrap(new FileSystemObjectStore(data));
        var reader = new SensorDayReader(store, new ManifestStore(store, clock), new RunIndexCache(store), Options.Create(new StorageOptions()));
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        async Task<long> ReadAsync()
        {
            long lines = 0;
            var parts = await reader.PartsAsync("fleet-00007", today, CancellationToken.None);
            await foreach (var _ in reader.ReadAsync(parts, null, null, CancellationToken.None))
            {
                lines++;
            }

            return lines;
        }

        var lines = await ReadAsync();
        var cold = counter.Get;
        await ReadAsync();
        return $"{{\"events\":{lines},\"coldGets\":{cold},\"warmGets\":{counter.Get - cold}}}";
    }

    private static async Task<string> ReadSealedAsync(string data, TimeProvider clock)
    {
        var counter = new RequestCounter();
        var store = counter.Wrap(new FileSystemObjectStore(data));
        var manifests = new ManifestStore(store, clock);
        await manifests.CurrentAsync(CancellationToken.None);
        var before = counter.Get;
        var reader = new SensorDayReader(store, manifests, new RunIndexCache(store), Options.Create(new StorageOptions()));
        var parts = await reader.PartsAsync("fleet-00007", new DateOnly(2026, 11, 21), CancellationToken.None);
        await using var stored = await reader.OpenSealedAsync(parts, CancellationToken.None);
        return $"{{\"sealedOnly\":{(parts.SealedOnly ? "true" : "false")},\"gets\":{counter.Get - before}}}";
    }

    /// <summary>
    /// One Firehose-style object holding the events of this minute (each sensor <paramref name="eventsPerMinute"/> every
    /// <paramref name="every"/> minutes); answers their count and size.
    /// </summary>
    internal static (long Events, long Bytes) WriteBatch(string data, DateTimeOffset at, int minute, int sensors, int every, long[] seq, int eventsPerMinute = 1)
    {
        long written = 0;
        var folder = Path.Combine(data, "raw", at.ToString("yyyy/MM/dd/HH", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"ingest-raw-1-{at:yyyy-MM-dd-HH-mm-ss}-fleet");
        // Streamed to the file: a batch built in one string is megabytes on the large object heap every minute, whose
        // collections (a gen-2 each, in this process) were counted in the regroup's CPU time.
        using (var content = new StreamWriter(path, append: false, new UTF8Encoding(false), 64 * 1024))
        {
            for (var e = 0; e < eventsPerMinute; e++)
            {
                for (var s = 0; s < sensors; s++)
                {
                    if ((minute + s) % every != 0)
                    {
                        continue;
                    }

                    written++;
                    var n = ++seq[s];
                    var ts = (at + TimeSpan.FromMilliseconds((e * 60_000 / eventsPerMinute) + (s % 1000))).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                    // About 300 B of sensor payload, as in the reference fleet.
                    content.Write(string.Create(CultureInfo.InvariantCulture,
                        $"{{\"sensorId\":\"fleet-{s:D5}\",\"seq\":{n},\"ts\":\"{ts}\",\"receivedAt\":\"{ts}\",\"event\":{{\"ts\":\"{ts}\",\"seq\":{n},\"t\":{20 + (n % 50 / 10.0):0.0},\"h\":{40 + (n % 200 / 10.0):0.0},\"p\":{1013 + (n % 20)},\"fw\":\"1.4.2\",\"site\":\"plant-7\",\"line\":\"L{s % 12}\",\"status\":\"ok\",\"vib\":[{n % 7},{n % 11},{n % 13}],\"note\":\"periodic reading from the field logger, nothing to report\"}}}}\n"));
                }
            }
        }

        File.SetLastWriteTimeUtc(path, at.UtcDateTime);
        return (written, new FileInfo(path).Length);
    }

    private sealed class DrivenClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
