using System.Diagnostics.Metrics;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using IngestService.Regroup;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

// Harness for bench/regroup.sh. Each command prints one JSON line on stdout.
//   generate --data DIR --events N --sensors S --batches B [--days D] [--resend-percent P]
//   regroup  --data DIR [--memory-mib N] [--warmup-events N]
//   fleetday --data DIR [--sensors 3000] [--every 10] [--per-minute 1] [--nodes 1] [--minutes 1440] [--interval 00:01:00]
//   read     --url URL --sensors S --day yyyy-MM-dd [--parallel P]
//   share    --data DIR --nodes N [--unit-bytes B] [--unit-events E] [--warmup-events N]   (node processes regrouping one landed backlog)
//   sealday  --data DIR [--sensors 3000] [--every 2]            (bench/export.sh: one day's raw batches, sealed, not exported)
//   export   --data DIR [--row-group-events N] [--part-mib N] [--compression Zstd|Snappy]
var command = args.Length > 0 ? args[0] : "";
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

string Option(string name, string fallback) => options.TryGetValue(name, out var value) ? value : fallback;
int Number(string name, int fallback) => int.Parse(Option(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

switch (command)
{
    case "generate":
        Generate(Option("data", "bench-data"), Number("events", 1_000_000), Number("sensors", 2000), Number("batches", 1000), Number("days", 1), Number("resend-percent", 2));
        break;
    case "regroup":
        await RegroupAsync(Option("data", "bench-data"), Number("memory-mib", (int)(new RegroupOptions().MemoryBytes / 1048576)), Number("warmup-events", 320_000));
        break;
    case "fleetday":
        await FleetDay.RunAsync(Option("data", "bench-data"), Number("sensors", 3000), Number("every", 10), Number("per-minute", 1), Number("nodes", 1), Number("minutes", 1440),
            TimeSpan.Parse(Option("interval", "00:01:00"), CultureInfo.InvariantCulture));
        break;
    case "share":
        await Share.RunAsync(Path.GetFullPath(Option("data", "bench-data")), Number("nodes", 3), long.Parse(Option("unit-bytes", "16777216"), CultureInfo.InvariantCulture),
            long.Parse(Option("unit-events", "200000"), CultureInfo.InvariantCulture), Number("warmup-events", 320_000));
        break;
    case "share-node":
    {
        var shared = new RegroupOptions
        {
            UnitBytes = long.Parse(Option("unit-bytes", "16777216"), CultureInfo.InvariantCulture),
            UnitEvents = long.Parse(Option("unit-events", "200000"), CultureInfo.InvariantCulture),
            DeliveryLag = TimeSpan.Zero,
            LateWindow = TimeSpan.Zero,
        };
        var warmupEvents = Number("warmup-events", 320_000);
        if (warmupEvents > 0)
        {
            // Nodes of a fleet have run passes before; a process that has not would charge its JIT to the share.
            await WarmUpAsync(Option("data", "bench-data"), warmupEvents, new RegroupOptions { UnitBytes = shared.UnitBytes, UnitEvents = warmupEvents / 4 });
        }

        await Share.NodeAsync(Option("data", "bench-data"), Option("role", "help"), Option("stop", "stop"), Option("go", "go"), shared);
        break;
    }
    case "sealday":
        await ExportDay.SealAsync(Option("data", "bench-data"), Number("sensors", 3000), Number("every", 2));
        break;
    case "export":
        await ExportDay.ExportAsync(Option("data", "bench-data"), Number("row-group-events", new IngestService.Export.ExportOptions().RowGroupEvents),
            Number("part-mib", 512) * 1048576L, Enum.Parse<IngestService.Export.ExportCompression>(Option("compression", "Zstd")));
        break;
    case "read":
        await ReadAsync(Option("url", "http://127.0.0.1:5091"), Number("sensors", 100), Option("day", "2026-11-21"), Number("parallel", 1));
        break;
    default:
        Console.Error.WriteLine("usage: RegroupBench generate|regroup|read [--option value]...");
        return 2;
}

return 0;

// Raw batches as the local sink writes them: time-ordered windows, each holding events of many sensors,
// with a share of events sent twice (a sensor's resend) in a later batch.
static void Generate(string data, int events, int sensors, int batches, int days, int resendPercent, bool report = true)
{
    var started = Stopwatch.GetTimestamp();
    var random = new Random(42);
    var perBatch = events / batches;
    var seq = new long[sensors];
    var start = new DateTime(2026, 11, 21, 0, 0, 0, DateTimeKind.Utc);
    var span = TimeSpan.FromDays(days);
    string? previousResend = null;
    long bytes = 0;
    for (var b = 0; b < batches; b++)
    {
        var at = start + (span * b / batches);
        var folder = Path.Combine(data, "raw", at.ToString("yyyy/MM/dd/HH", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        var content = new StringBuilder(perBatch * 220);
        if (previousResend is not null)
        {
            content.Append(previousResend);
        }

        var resend = new StringBuilder();
        for (var i = 0; i < perBatch; i++)
        {
            var sensor = random.Next(sensors);
            var n = ++seq[sensor];
            var ts = (at + TimeSpan.FromMilliseconds(i)).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            var line = $"{{\"sensorId\":\"bench-{sensor:D5}\",\"seq\":{n},\"ts\":\"{ts}\",\"receivedAt\":\"{ts}\",\"event\":{{\"ts\":\"{ts}\",\"seq\":{n},\"t\":{20 + (random.NextDouble() * 5):0.00},\"h\":{40 + (random.NextDouble() * 20):0.0},\"fw\":\"1.4.2\",\"site\":\"plant-7\"}}}}\n";
            content.Append(line);
            if (random.Next(100) < resendPercent)
            {
                resend.Append(line);
            }
        }

        previousResend = resend.ToString();
        var text = content.ToString();
        bytes += Encoding.UTF8.GetByteCount(text);
        File.WriteAllText(Path.Combine(folder, $"ingest-local-{at:yyyy-MM-dd-HH-mm-ss}-{b:D6}.ndjson"), text);
    }

    if (report)
    {
        Console.WriteLine($"{{\"command\":\"generate\",\"events\":{perBatch * batches},\"sensors\":{sensors},\"batches\":{batches},\"rawBytes\":{bytes},\"seconds\":{Stopwatch.GetElapsedTime(started).TotalSeconds:0.00}}}");
    }
}

static async Task RegroupAsync(string data, int memoryMiB, int warmupEvents)
{
    var settings = new RegroupOptions { MemoryBytes = memoryMiB * 1048576L };
    if (warmupEvents > 0)
    {
        // A node's code is compiled by its earlier passes: first an unrecorded pass (two raw units) and seal of a small
        // set of its own, as the ingest benchmarks first give each target an unrecorded wrk run.
        await WarmUpAsync(data, warmupEvents, settings);
    }

    await RegroupOnceAsync(data, settings, print: true);
}

static async Task WarmUpAsync(string data, int events, RegroupOptions settings)
{
    var warmup = $"{data.TrimEnd('/')}.warmup-{Environment.ProcessId}";
    Generate(warmup, events, 2000, Math.Max(events / 1000, 1), 1, 2, report: false);
    await RegroupOnceAsync(warmup, settings, print: false);
    Directory.Delete(warmup, recursive: true);
}

static async Task RegroupOnceAsync(string data, RegroupOptions settings, bool print)
{
    using var meters = new NoMeters();
    var store = new FileSystemObjectStore(data);
    // First the pass as it runs while the day is open (its clock on the data's day): raw batches into one run. Then
    // the day's seal, on the real clock: every sensor-day written once.
    var open = new FixedClock(new DateTimeOffset(2026, 11, 21, 23, 59, 59, TimeSpan.Zero));
    var started = Stopwatch.GetTimestamp();
    var report = await Harness.CreateRegrouper(store, settings, open, meters).RunPassAsync(CancellationToken.None);
    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    started = Stopwatch.GetTimestamp();
    var seal = await Harness.CreateRegrouper(store, settings, TimeProvider.System, meters).RunPassAsync(CancellationToken.None);
    var sealSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    if (!print)
    {
        return;
    }

    using var process = Process.GetCurrentProcess();
    Console.WriteLine($"{{\"command\":\"regroup\",\"batchesRead\":{report.BatchesRead},\"events\":{report.Events},\"runsWritten\":{report.RunsWritten},\"duplicatesDropped\":{report.DuplicatesDropped},\"badLines\":{report.BadLines},\"seconds\":{seconds:0.00},\"eventsPerSecond\":{report.Events / seconds:0},\"seal\":{{\"sensorDaysWritten\":{seal.SensorDaysWritten},\"seconds\":{sealSeconds:0.00},\"eventsPerSecond\":{report.Events / sealSeconds:0}}},\"memoryMiB\":{settings.MemoryBytes / 1048576},\"peakWorkingSetMiB\":{process.PeakWorkingSet64 / 1048576.0:0},\"allocatedMiB\":{GC.GetTotalAllocatedBytes() / 1048576.0:0}}}");
}

static async Task ReadAsync(string url, int sensors, string day, int parallel)
{
    using var client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(5) };
    long events = 0, bytes = 0;
    var started = Stopwatch.GetTimestamp();
    await Parallel.ForEachAsync(Enumerable.Range(0, sensors), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (sensor, ct) =>
    {
        var body = await client.GetByteArrayAsync($"/v1/sensors/bench-{sensor:D5}/days/{day}", ct);
        Interlocked.Add(ref bytes, body.Length);
        Interlocked.Add(ref events, body.AsSpan().Count((byte)'\n'));
    });
    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    Console.WriteLine($"{{\"command\":\"read\",\"sensorDays\":{sensors},\"parallel\":{parallel},\"events\":{events},\"bytes\":{bytes},\"seconds\":{seconds:0.000},\"msPerSensorDay\":{seconds * 1000 / sensors:0.0}}}");
}

/// <summary>A clock that stays where it is put.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>The writer's parts, as the service's container puts them together.</summary>
internal static class Harness
{
    public static Regrouper CreateRegrouper(IObjectStore store, RegroupOptions settings, TimeProvider clock, IMeterFactory meters)
    {
        var options = Options.Create(settings);
        var storage = Options.Create(new StorageOptions());
        var manifests = new ManifestStore(store, clock);
        var indexes = new RunIndexCache(store);
        var claims = new WorkClaims(manifests, options, clock);
        return new Regrouper(store, manifests, indexes,
            new Sealer(store, manifests, indexes, claims, options, storage, clock, NullLogger<Sealer>.Instance),
            new Compactor(store, manifests, indexes, options, clock, NullLogger<Compactor>.Instance),
            new RunCollector(store, manifests, indexes, options, clock, NullLogger<RunCollector>.Instance),
            claims, options, storage, clock, new RegroupMetrics(meters, clock, options), NullLogger<Regrouper>.Instance);
    }
}

/// <summary>Instruments with nowhere to go: the harness reads the pass's own figures.</summary>
internal sealed class NoMeters : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}
