using System.Diagnostics;
using System.Globalization;
using IngestService.Export;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

/// <summary>
/// The fleet export of one simulated day (bench/export.sh). <c>sealday</c> writes the day's raw batches (FleetDay's
/// ~300-byte events, each sensor one every <c>every</c> minutes) and seals the day without exporting it; <c>export</c>,
/// in a process of its own so its peak working set is the export's, exports the sealed day and reports bytes per
/// event next to the sealed gzip NDJSON, time, peak memory and requests.
/// </summary>
internal static class ExportDay
{
    private static readonly DateOnly Day = new(2026, 11, 21);

    public static async Task SealAsync(string data, int sensors, int every)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero));
        var seq = new long[sensors];
        long events = 0, rawBytes = 0;
        for (var minute = 0; minute < 1440; minute++)
        {
            var (written, bytes) = FleetDay.WriteBatch(data, clock.GetUtcNow().AddMinutes(minute), minute, sensors, every, seq);
            events += written;
            rawBytes += bytes;
        }

        var started = Stopwatch.GetTimestamp();
        using var meters = new NoMeters();
        var settings = new IngestService.Regroup.RegroupOptions { DeliveryLag = TimeSpan.Zero, LateWindow = TimeSpan.Zero, MaxBatchesPerPass = 2000 };
        var after = new FixedClock(new DateTimeOffset(2026, 11, 22, 0, 5, 0, TimeSpan.Zero));
        var report = await Harness.CreateRegrouper(new FileSystemObjectStore(data), settings, after, meters).RunPassAsync(CancellationToken.None);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"command\":\"sealday\",\"sensors\":{sensors},\"everyMinutes\":{every},\"events\":{events},\"rawBytes\":{rawBytes},\"sensorDaysWritten\":{report.SensorDaysWritten},\"seconds\":{Stopwatch.GetElapsedTime(started).TotalSeconds:0.0}}}"));
    }

    public static async Task ExportAsync(string data, int rowGroupEvents, long partBytes, ExportCompression compression)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 22, 0, 10, 0, TimeSpan.Zero));
        var counter = new RequestCounter();
        var store = counter.Wrap(new FileSystemObjectStore(data));
        var storage = Options.Create(new StorageOptions());
        var manifests = new ManifestStore(store, clock);
        var dayText = Manifest.DayText(Day);
        // A run with other settings exports the same sealed day again: forget the earlier export (its parts go).
        foreach (var file in Directory.Exists(Path.Combine(data, "analytics")) ? Directory.GetFiles(Path.Combine(data, "analytics"), "*", SearchOption.AllDirectories) : [])
        {
            File.Delete(file);
        }

        await manifests.CommitAsync(m => m.Exports.Remove(dayText), CancellationToken.None);
        var export = new FleetExport(store, manifests, new SensorDayReader(store, manifests, new RunIndexCache(store), storage),
            Options.Create(new ExportOptions { RowGroupEvents = rowGroupEvents, PartBytes = partBytes, Compression = compression }), storage, clock, NullLogger<FleetExport>.Instance);
        var scratch = Directory.CreateTempSubdirectory("export-bench-").FullName;
        var (put, get, list) = (counter.Put, counter.Get, counter.List);
        var started = Stopwatch.GetTimestamp();
        var report = await export.ExportDueAsync(scratch, TimeSpan.FromMinutes(15), CancellationToken.None);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Directory.Delete(scratch, recursive: true);

        var parquetBytes = Directory.GetFiles(Path.Combine(data, "analytics"), "*.parquet", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        var gzipBytes = Directory.GetFiles(Path.Combine(data, "sensors"), "*.ndjson.gz", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        var sensorDays = Directory.GetFiles(Path.Combine(data, "sensors"), "*.ndjson.gz", SearchOption.AllDirectories).Length;
        using var process = Process.GetCurrentProcess();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"command\":\"export\",\"compression\":\"{compression}\",\"rowGroupEvents\":{rowGroupEvents},\"partBytes\":{partBytes},\"events\":{report.Events},\"sensorDays\":{sensorDays},\"parts\":{report.Parts},"
            + $"\"parquetBytes\":{parquetBytes},\"parquetBytesPerEvent\":{(double)parquetBytes / report.Events:0.0},\"gzipNdjsonBytes\":{gzipBytes},\"gzipBytesPerEvent\":{(double)gzipBytes / report.Events:0.0},"
            + $"\"puts\":{counter.Put - put},\"gets\":{counter.Get - get},\"lists\":{counter.List - list},\"seconds\":{seconds:0.0},\"eventsPerSecond\":{report.Events / seconds:0},"
            + $"\"peakWorkingSetMiB\":{process.PeakWorkingSet64 / 1048576.0:0}}}"));
    }
}
