using System.Diagnostics.Metrics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using IngestService.Export;
using IngestService.Regroup;
using IngestService.Storage;
using IngestService.Storage.Runs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace IngestService.Tests.Regroup;

/// <summary>Raw batches written the way the local sink and Firehose write them, and regroupers over them.</summary>
public sealed class RegroupFixture : IDisposable
{
    private static readonly IMeterFactory Meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
    private readonly TempFolder _folder = new();
    private int _batches;

    public RegroupFixture() => Store = new FileSystemObjectStore(_folder.Path);

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));

    /// <summary>Ends a test that hangs instead of hanging the run (one fixture per test).</summary>
    public CancellationToken Token => _timeout.Token;

    public FileSystemObjectStore Store { get; }

    public string Root => _folder.Path;

    /// <summary>The clock of the regroupers and of the raw batches' landing times.</summary>
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));

    public DateTimeOffset Now => Time.GetUtcNow();

    /// <summary>The Local backend's lags (none): tests that need Firehose's set them.</summary>
    public RegroupOptions Options { get; } = new() { DeliveryLag = TimeSpan.Zero, LateWindow = TimeSpan.Zero };

    public static string Line(string sensorId, long? seq, string ts, string body, string receivedAt = "2026-11-21T12:00:00.000Z") =>
        $"{{\"sensorId\":\"{sensorId}\",\"seq\":{(seq is null ? "null" : seq.Value.ToString(CultureInfo.InvariantCulture))},\"ts\":\"{ts}\",\"receivedAt\":\"{receivedAt}\",\"event\":{body}}}\n";

    public static string Event(long? seq, string ts, double t = 21.5) =>
        seq is null
            ? $"{{\"ts\":\"{ts}\",\"t\":{t.ToString(CultureInfo.InvariantCulture)}}}"
            : $"{{\"ts\":\"{ts}\",\"seq\":{seq},\"t\":{t.ToString(CultureInfo.InvariantCulture)}}}";

    /// <summary>Writes a raw batch under <c>raw/YYYY/MM/DD/HH/</c>, landed at <see cref="Time"/>'s now, and answers its key.</summary>
    public string WriteRaw(string content, string hour = "2026/11/21/10", bool gzip = false, string? name = null, string rawPrefix = "raw/")
    {
        name ??= $"ingest-{Interlocked.Increment(ref _batches):D6}{(gzip ? ".gz" : ".ndjson")}";
        var folder = Path.Combine(Root, rawPrefix, hour);
        Directory.CreateDirectory(folder);
        var bytes = Encoding.UTF8.GetBytes(content);
        if (gzip)
        {
            using var compressed = new MemoryStream();
            using (var writer = new GZipStream(compressed, CompressionLevel.Fastest))
            {
                writer.Write(bytes);
            }

            bytes = compressed.ToArray();
        }

        var path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        File.SetLastWriteTimeUtc(path, Now.UtcDateTime);
        return $"{rawPrefix}{hour}/{name}";
    }

    /// <summary>A regrouper over the store; with <paramref name="export"/>, its seals also write the fleet export.</summary>
    public Regrouper CreateRegrouper(IObjectStore? store = null, string rawPrefix = "raw/", IMeterFactory? meters = null, ExportOptions? export = null)
    {
        store ??= Store;
        var options = Microsoft.Extensions.Options.Options.Create(Options);
        var storage = Microsoft.Extensions.Options.Options.Create(new StorageOptions { RawPrefix = rawPrefix });
        var manifests = new ManifestStore(store, Time);
        var indexes = new RunIndexCache(store);
        var claims = new WorkClaims(manifests, options, Time);
        var fleet = export is null ? null : new FleetExport(store, manifests, new SensorDayReader(store, manifests, indexes, storage),
            Microsoft.Extensions.Options.Options.Create(export), storage, Time, NullLogger<FleetExport>.Instance);
        var sealer = new Sealer(store, manifests, indexes, claims, options, storage, Time, NullLogger<Sealer>.Instance, fleet);
        var compactor = new Compactor(store, manifests, indexes, options, Time, NullLogger<Compactor>.Instance);
        var collector = new RunCollector(store, manifests, indexes, options, Time, NullLogger<RunCollector>.Instance);
        return new Regrouper(store, manifests, indexes, sealer, compactor, collector, claims, options, storage,
            Time, new RegroupMetrics(meters ?? Meters, Time, options), NullLogger<Regrouper>.Instance);
    }

    /// <summary>A sealer over the store alone, to hand it manifests of a test's making.</summary>
    public Sealer CreateSealer()
    {
        var options = Microsoft.Extensions.Options.Options.Create(Options);
        var manifests = new ManifestStore(Store, Time);
        return new Sealer(Store, manifests, new RunIndexCache(Store), new WorkClaims(manifests, options, Time), options,
            Microsoft.Extensions.Options.Options.Create(new StorageOptions()), Time, NullLogger<Sealer>.Instance);
    }

    /// <summary>A reader as the read API has one, over a fresh manifest (no cache from earlier reads).</summary>
    public SensorDayReader CreateReader(IObjectStore? store = null)
    {
        store ??= Store;
        return new SensorDayReader(store, new ManifestStore(store, Time), new RunIndexCache(store), Microsoft.Extensions.Options.Options.Create(new StorageOptions()));
    }

    /// <summary>The lines of a sensor-day as reads see it (its sealed object merged with its runs), in order; empty when there are none.</summary>
    public async Task<List<string>> ReadDayAsync(string sensorId, string day, IObjectStore? store = null)
    {
        var reader = CreateReader(store);
        var parts = await reader.PartsAsync(sensorId, DateOnly.Parse(day, CultureInfo.InvariantCulture), Token);
        var lines = new List<string>();
        await foreach (var line in reader.ReadAsync(parts, null, null, Token))
        {
            lines.Add(line.ToString().TrimEnd('\n'));
        }

        return lines;
    }

    /// <summary>The lines of a sealed sensor-day object alone; empty when there is none.</summary>
    public async Task<List<string>> ReadSealedAsync(string sensorId, string day, IObjectStore? store = null)
    {
        await using var stored = await (store ?? Store).GetAsync($"sensors/{sensorId}/{day}.ndjson.gz", Token);
        if (stored is null)
        {
            return [];
        }

        using var reader = new StreamReader(new GZipStream(stored.Content, CompressionMode.Decompress));
        var lines = new List<string>();
        while (await reader.ReadLineAsync(Token) is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    public async Task<Manifest> ManifestAsync() => (await new ManifestStore(Store, Time).ReadAsync(Token)).Manifest;

    /// <summary>The run objects in the store, whether or not a manifest names them.</summary>
    public List<string> RunFiles() =>
        Directory.Exists(Path.Combine(Root, "_ingest", "runs"))
            ? [.. Directory.EnumerateFiles(Path.Combine(Root, "_ingest", "runs"), "*.run", SearchOption.AllDirectories)]
            : [];

    public void Dispose()
    {
        _timeout.Dispose();
        _folder.Dispose();
    }
}

/// <summary>Passes every call to <c>inner</c>; the test stores override the calls they watch, hold or break.</summary>
public abstract class PassThroughStore(IObjectStore inner) : IObjectStore
{
    public virtual Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

    public virtual Task<StoredObject?> GetRangeAsync(string key, ObjectRange range, CancellationToken cancellationToken) => inner.GetRangeAsync(key, range, cancellationToken);

    public Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken) => inner.HeadAsync(key, cancellationToken);

    public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, CancellationToken cancellationToken) => inner.ListAsync(prefix, startAfter, cancellationToken);

    public virtual Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken) =>
        inner.PutAsync(key, content, condition, metadata, cancellationToken);

    public virtual Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);

    public Task<string?> CheckReadyAsync(CancellationToken cancellationToken) => inner.CheckReadyAsync(cancellationToken);
}

/// <summary>Passes everything to a real store, but fails every write after the first <c>allowedPuts</c>, as a node that dies would.</summary>
public sealed class DyingStore(IObjectStore inner, int allowedPuts) : PassThroughStore(inner)
{
    private int _puts;

    public int Puts => _puts;

    public override Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken) =>
        Interlocked.Increment(ref _puts) > allowedPuts
            ? throw new IOException("the node died")
            : base.PutAsync(key, content, condition, metadata, cancellationToken);
}

/// <summary>Counts writes per key, and GETs (whole or ranged) as S3 bills them.</summary>
public sealed class CountingStore(IObjectStore inner) : PassThroughStore(inner)
{
    private int _gets;

    public System.Collections.Concurrent.ConcurrentDictionary<string, int> Writes { get; } = new();

    public int Gets => _gets;

    public override Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _gets);
        return base.GetAsync(key, cancellationToken);
    }

    public override Task<StoredObject?> GetRangeAsync(string key, ObjectRange range, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _gets);
        return base.GetRangeAsync(key, range, cancellationToken);
    }

    public override Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        Writes.AddOrUpdate(key, 1, (_, n) => n + 1);
        return base.PutAsync(key, content, condition, metadata, cancellationToken);
    }
}

/// <summary>Runs an action once, just before the first raw batch is read: what lands or changes while a pass reads.</summary>
public sealed class OnFirstRawRead(IObjectStore inner, Action action) : PassThroughStore(inner)
{
    private int _fired;

    public override Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        if (key.StartsWith("raw/", StringComparison.Ordinal) && Interlocked.Exchange(ref _fired, 1) == 0)
        {
            action();
        }

        return base.GetAsync(key, cancellationToken);
    }
}
