using IngestService.Delivery;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.DependencyInjection;

namespace IngestService.Tests.Infrastructure;

/// <summary>
/// The real service in process on the Local backend, with its data in a temporary folder that is removed
/// afterwards. Settings and a replacement sink can be given per test.
/// </summary>
public sealed class IngestAppFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly IEventSink? _sink;
    private readonly Action<IServiceCollection>? _services;

    public IngestAppFactory(Dictionary<string, string?>? settings = null, IEventSink? sink = null, Action<IServiceCollection>? services = null)
    {
        DataPath = Path.Combine(Path.GetTempPath(), "ingest-tests", Guid.NewGuid().ToString("N"));
        _settings = new Dictionary<string, string?>
        {
            ["Ingest:DataPath"] = DataPath,
            ["Batching:Window"] = "00:00:00.010",
            ["Regroup:Enabled"] = "false",
        };
        foreach (var (key, value) in settings ?? [])
        {
            _settings[key] = value;
        }

        _sink = sink;
        _services = services;
    }

    public string DataPath { get; }

    public string RawPath => Path.Combine(DataPath, "raw");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        if (_sink is not null)
        {
            builder.ConfigureTestServices(services => services.RemoveAll<IEventSink>().AddSingleton(_sink));
        }

        if (_services is not null)
        {
            builder.ConfigureTestServices(_services);
        }
    }

    /// <summary>Every stored line in the raw batches, in file order.</summary>
    public IReadOnlyList<string> RawLines() =>
        Directory.Exists(RawPath)
            ? [.. RawFiles().SelectMany(File.ReadAllLines)]
            : [];

    public IReadOnlyList<string> RawFiles() =>
        Directory.Exists(RawPath)
            ? [.. Directory.EnumerateFiles(RawPath, "*.ndjson", SearchOption.AllDirectories).Order()]
            : [];

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Directory.Exists(DataPath))
        {
            Directory.Delete(DataPath, recursive: true);
        }
    }
}
