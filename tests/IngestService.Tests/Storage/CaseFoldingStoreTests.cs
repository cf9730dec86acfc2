using System.Net;
using System.Text;
using System.Text.Json;
using IngestService.Storage;
using IngestService.Tests.Infrastructure;
using IngestService.Tests.Query;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace IngestService.Tests.Storage;

/// <summary>
/// The file-system store on a file system that folds case, as macOS and Windows do by default: every relative
/// name the store uses reaches the disk lower-cased, so names that differ only in case are one file, as there.
/// </summary>
public sealed class CaseFoldingStoreTests : ObjectStoreContract<FileSystemObjectStore>, IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly FileSystemObjectStore _store;

    public CaseFoldingStoreTests() => _store = Folding(_folder.Path);

    protected override FileSystemObjectStore Store => _store;

    protected override FileSystemObjectStore OpenSecondStore() => Folding(_folder.Path);

    internal static FileSystemObjectStore Folding(string root) => new(root, name => name.ToLowerInvariant());

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Sensor_days_of_ids_that_differ_only_in_case_are_different_objects_listed_in_key_order()
    {
        await Store.PutAsync("sensors/S1/2026-11-21.ndjson.gz", Bytes("upper"), WriteCondition.None, null, Token);
        await Store.PutAsync("sensors/s1/2026-11-21.ndjson.gz", Bytes("lower"), WriteCondition.None, null, Token);
        await Store.PutAsync("sensors/s!1/2026-11-21.ndjson.gz", Bytes("bang"), WriteCondition.None, null, Token);

        Assert.True(Store.EscapesCase);
        Assert.Equal("upper", await ReadAsync(Store, "sensors/S1/2026-11-21.ndjson.gz"));
        Assert.Equal("lower", await ReadAsync(Store, "sensors/s1/2026-11-21.ndjson.gz"));
        Assert.Equal("bang", await ReadAsync(Store, "sensors/s!1/2026-11-21.ndjson.gz"));
        var listed = new List<string>();
        await foreach (var info in Store.ListAsync("sensors/", null, Token))
        {
            listed.Add(info.Key);
        }

        Assert.Equal(["sensors/S1/2026-11-21.ndjson.gz", "sensors/s!1/2026-11-21.ndjson.gz", "sensors/s1/2026-11-21.ndjson.gz"], listed);
    }

    [Fact]
    public async Task A_conditional_create_of_one_case_is_not_refused_by_the_other()
    {
        Assert.NotNull(await Store.PutAsync("sensors/Ab/d", Bytes("1"), WriteCondition.CreateOnly, null, Token));

        Assert.NotNull(await Store.PutAsync("sensors/aB/d", Bytes("2"), WriteCondition.CreateOnly, null, Token));
    }

    [Fact]
    public async Task A_listing_that_starts_after_a_key_with_capitals_resumes_in_key_order()
    {
        foreach (var key in new[] { "k/A", "k/B", "k/a", "k/b" })
        {
            await Store.PutAsync(key, Bytes(key), WriteCondition.None, null, Token);
        }

        var listed = new List<string>();
        await foreach (var info in Store.ListAsync("k/", "k/B", Token))
        {
            listed.Add(info.Key);
        }

        Assert.Equal(["k/a", "k/b"], listed);
    }

    [Fact]
    public async Task On_a_case_sensitive_file_system_the_layout_is_the_contracts_keys_as_they_are()
    {
        using var folder = new TempFolder();
        var plain = new FileSystemObjectStore(folder.Path);

        await plain.PutAsync("sensors/S1/2026-11-21.ndjson.gz", Bytes("upper"), WriteCondition.None, null, Token);

        Assert.False(plain.EscapesCase);
        Assert.True(File.Exists(Path.Combine(folder.Path, "sensors", "S1", "2026-11-21.ndjson.gz")));
    }

    [Theory]
    [InlineData("sensors/S1/2026-11-21.ndjson.gz", "sensors/!s1/2026-11-21.ndjson.gz")]
    [InlineData("sensors/a!B/x", "sensors/a!!!b/x")]
    [InlineData("raw/2026/11/21/10/ingest-local-x.ndjson", "raw/2026/11/21/10/ingest-local-x.ndjson")]
    [InlineData("k/\u00c9t\u00e9", "k/!~00c9t!~00e9")]
    public void Escaped_names_hold_no_capital_and_read_back_as_their_key(string key, string name)
    {
        Assert.Equal(name, FileKeyNames.CaseEscaped.PathOf(key));
        Assert.Equal(name, name.ToLowerInvariant());
        Assert.Equal(key, string.Join('/', name.Split('/').Select(FileKeyNames.CaseEscaped.KeyOf)));
    }

    [Fact]
    public async Task The_Local_service_on_a_file_system_that_folds_case_keeps_S1_and_s1_apart_through_ingest_regroup_and_reads()
    {
        await using var app = new IngestAppFactory(
            QueryApp.Settings,
            services: s => s.RemoveAll<FileSystemObjectStore>().AddSingleton(sp => Folding(sp.GetRequiredService<IOptions<LocalStoreOptions>>().Value.DataPath)));
        using var client = app.CreateClient();
        foreach (var (sensor, value) in new[] { ("S1", "upper"), ("s1", "lower") })
        {
            using var content = new StringContent($$"""{"ts":"2026-11-21T10:00:00Z","seq":1,"v":"{{value}}"}""", Encoding.UTF8, "application/json");
            using var posted = await client.PostAsync($"/v1/sensors/{sensor}/events", content, Token);
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        }

        using var flushed = await client.PostAsync("/v1/admin/flush", null, Token);
        Assert.Equal(HttpStatusCode.OK, flushed.StatusCode);

        foreach (var (sensor, value) in new[] { ("S1", "upper"), ("s1", "lower") })
        {
            var lines = (await client.GetStringAsync($"/v1/sensors/{sensor}/days/2026-11-21", Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var stored = JsonDocument.Parse(Assert.Single(lines)).RootElement;
            Assert.Equal(sensor, stored.GetProperty("sensorId").GetString());
            Assert.Equal(value, stored.GetProperty("event").GetProperty("v").GetString());
        }

        var sensors = JsonDocument.Parse(await client.GetStringAsync("/v1/sensors", Token)).RootElement.GetProperty("sensors");
        Assert.Equal(["S1", "s1"], sensors.EnumerateArray().Select(s => s.GetString()));
    }
}
