using Amazon.Runtime;
using IngestService.Delivery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace IngestService.Tests.Infrastructure;

/// <summary>The backend a test node runs on.</summary>
public enum TestBackend
{
    /// <summary>Raw batches and the store in the node's temporary folder.</summary>
    Local,

    /// <summary>Firehose, Kinesis and S3 at the endpoints the settings name, signed with the given credentials.</summary>
    Aws,
}

/// <summary>
/// The one way tests start the real service in process: <see cref="Program"/> on the chosen backend, with
/// regrouping off, a short batching window and a temporary data folder removed afterwards. Settings override the
/// defaults; sinks, a clock and AWS credentials replace the service's own. Linked into the integration and
/// load-generator tests.
/// </summary>
public class IngestAppFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly IReadOnlyList<IEventSink>? _sinks;
    private readonly TimeProvider? _clock;
    private readonly AWSCredentials? _awsCredentials;
    private readonly Action<IServiceCollection>? _services;

    public IngestAppFactory(
        Dictionary<string, string?>? settings = null,
        IReadOnlyList<IEventSink>? sinks = null,
        TimeProvider? clock = null,
        TestBackend backend = TestBackend.Local,
        AWSCredentials? awsCredentials = null,
        Action<IServiceCollection>? services = null)
    {
        DataPath = Path.Combine(Path.GetTempPath(), "ingest-tests", Guid.NewGuid().ToString("N"));
        _settings = backend switch
        {
            TestBackend.Aws => new()
            {
                ["Ingest:Backend"] = "Aws",
                ["Auth:AllowAnonymous"] = "true",
                ["Batching:Window"] = "00:00:00.050",
                // Tests post a few events at a time: windows that wait to fill a 5 KB record would only slow them.
                ["Batching:FillWindow"] = "00:00:00.050",
                ["Batching:AckTimeout"] = "00:00:05",
            },
            _ => new()
            {
                ["Batching:Window"] = "00:00:00.010",
            },
        };
        _settings["Ingest:DataPath"] = DataPath;
        _settings["Regroup:Enabled"] = "false";
        foreach (var (key, value) in settings ?? [])
        {
            _settings[key] = value;
        }

        _sinks = sinks;
        _clock = clock;
        _awsCredentials = awsCredentials;
        _services = services;
    }

    public string DataPath { get; }

    public string RawPath => Path.Combine(DataPath, "raw");

    /// <summary>Every stored line in the raw batches, in file order.</summary>
    public IReadOnlyList<string> RawLines() =>
        Directory.Exists(RawPath)
            ? [.. RawFiles().SelectMany(File.ReadAllLines)]
            : [];

    public IReadOnlyList<string> RawFiles() =>
        Directory.Exists(RawPath)
            ? [.. Directory.EnumerateFiles(RawPath, "*.ndjson", SearchOption.AllDirectories).Order()]
            : [];

    /// <summary>
    /// What start-up throws with these options. Built the way <see cref="Program"/> builds the service, outside
    /// WebApplicationFactory, whose deferred host can report its own disposed service provider instead of the
    /// start-up failure when the machine is loaded.
    /// </summary>
    public async Task<Exception> StartupFailureAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(_settings);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddIngestService();
        Replace(builder.Services);
        await using var app = builder.Build();

        var error = await Record.ExceptionAsync(() => app.StartAsync());

        Assert.True(error is not null, "start-up should have failed");
        return error;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureTestServices(Replace);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Directory.Exists(DataPath))
        {
            Directory.Delete(DataPath, recursive: true);
        }
    }

    private void Replace(IServiceCollection services)
    {
        if (_sinks is not null)
        {
            services.RemoveAll<IEventSink>();
            foreach (var sink in _sinks)
            {
                services.AddSingleton(sink);
            }
        }

        if (_clock is not null)
        {
            services.AddSingleton(_clock);
        }

        if (_awsCredentials is not null)
        {
            services.AddSingleton(_awsCredentials);
        }

        _services?.Invoke(services);
    }
}
