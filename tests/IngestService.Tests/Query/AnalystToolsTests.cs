using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text;
using IngestService.Auth;
using IngestService.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace IngestService.Tests.Query;

/// <summary>A running node holding a Paris mast's local day, for the tools outside .NET.</summary>
public sealed class AnalystNodeFixture : IAsyncLifetime
{
    public const string Sensor = "mast-paris";

    public ServiceNode Node { get; private set; } = null!;

    public string BaseUrl => $"http://127.0.0.1:{Node.Port}";

    public async Task InitializeAsync()
    {
        Node = await ServiceNode.StartAsync(new() { ["Ingest__MaxFutureSkew"] = "365.00:00:00" });
        using var content = new StringContent(string.Join("\n", AnalystReadTests.ParisDay()) + "\n", Encoding.UTF8);
        content.Headers.ContentType = new("application/x-ndjson");
        using var posted = await Node.Client.PostAsync($"/v1/sensors/{Sensor}/events", content);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        using var flushed = await Node.Client.PostAsync("/v1/admin/flush", null);
        Assert.Equal(HttpStatusCode.OK, flushed.StatusCode);
    }

    public async Task DisposeAsync() => await Node.DisposeAsync();
}

/// <summary>
/// The viewer and the API reference in headless Chromium, Parquet read by DuckDB, and the analyst guide's pandas and DuckDB examples,
/// each against a real node. They need chromium, python3-pandas and Node.js (which .ci/run installs) and fail
/// with the install command when one is missing.
/// </summary>
public sealed partial class AnalystToolsTests(AnalystNodeFixture fixture) : IClassFixture<AnalystNodeFixture>
{
    private static readonly string Folder = Path.Combine(ToolProcess.RepositoryRoot(), "tests", "analyst");

    private string DeepLink => $"{fixture.BaseUrl}/?sensor={AnalystNodeFixture.Sensor}&day=2026-11-21&tz=Europe/Paris";

    [Fact]
    public async Task A_deep_link_to_a_local_day_draws_a_chart_per_numeric_field_with_no_console_errors()
    {
        var seen = await OpenViewerAsync(DeepLink, Path.Combine(Path.GetTempPath(), $"viewer-{Guid.NewGuid():N}.png"));

        Assert.False(seen.GetProperty("error").GetBoolean(), seen.ToString());
        Assert.Equal(["windSpeed"], seen.GetProperty("titles").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(1, seen.GetProperty("charts").GetInt32());
        Assert.StartsWith("48 events of mast-paris", seen.GetProperty("status").GetString(), StringComparison.Ordinal);
        Assert.True(seen.GetProperty("downloads").GetBoolean());
        Assert.Empty(seen.GetProperty("consoleErrors").EnumerateArray());
    }

    [Fact]
    public async Task A_day_without_events_says_so_in_words()
    {
        var seen = await OpenViewerAsync($"{fixture.BaseUrl}/?sensor={AnalystNodeFixture.Sensor}&day=2026-01-01");

        Assert.StartsWith("Sensor 'mast-paris' has no stored events on 2026-01-01 (UTC).", seen.GetProperty("status").GetString(), StringComparison.Ordinal);
        Assert.False(seen.GetProperty("error").GetBoolean());
        Assert.Equal(0, seen.GetProperty("charts").GetInt32());
    }

    [Fact]
    public async Task An_unknown_zone_shows_the_services_explanation_as_an_error()
    {
        var seen = await OpenViewerAsync($"{fixture.BaseUrl}/?sensor={AnalystNodeFixture.Sensor}&day=2026-11-21&tz=Mars/Olympus");

        Assert.True(seen.GetProperty("error").GetBoolean());
        Assert.Contains("not a known IANA time zone", seen.GetProperty("status").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DuckDB_reads_the_Parquet_day_with_a_timestamp_ts_a_double_windSpeed_and_every_row()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sensors/{AnalystNodeFixture.Sensor}/days/2026-11-21?tz=Europe/Paris");
        request.Headers.Accept.ParseAdd("application/vnd.apache.parquet");
        using var response = await fixture.Node.Client.SendAsync(request);
        var file = Path.Combine(Path.GetTempPath(), $"day-{Guid.NewGuid():N}.parquet");
        await File.WriteAllBytesAsync(file, await response.Content.ReadAsByteArrayAsync());
        try
        {
            var read = JsonDocument.Parse(await NodeAsync("duckdb-types.mjs", [file])).RootElement;

            Assert.Equal(48, read.GetProperty("rows").GetInt32());
            Assert.Equal("TIMESTAMP", read.GetProperty("types").GetProperty("ts").GetString());
            Assert.Equal("DOUBLE", read.GetProperty("types").GetProperty("windSpeed").GetString());
            Assert.Equal("BIGINT", read.GetProperty("types").GetProperty("seq").GetString());
            Assert.Equal("BOOLEAN", read.GetProperty("types").GetProperty("ok").GetString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task The_api_reference_at_docs_makes_no_request_outside_the_node_in_headless_Chromium()
    {
        var seen = JsonDocument.Parse(await NodeAsync("offsite-requests.mjs", [$"{fixture.BaseUrl}/docs"])).RootElement;

        Assert.True(seen.GetProperty("requests").GetInt32() >= 3, seen.ToString());
        Assert.True(seen.GetProperty("offsite").GetArrayLength() == 0, $"/docs called outside the node: {seen.GetProperty("offsite")}");
    }

    [Fact]
    public async Task DuckDB_reads_every_value_of_fields_whose_names_collide_with_the_envelope_or_its_prefix()
    {
        const string sensor = "collide-pq";
        using var content = new StringContent(
            """{"ts":"2026-11-21T10:00:00+01:00","seq":1,"event.ts":"literal","event.seq":7,"event.event.ts":"deeper","receivedAt":"mine","TS":"upper"}""" + "\n",
            Encoding.UTF8);
        content.Headers.ContentType = new("application/x-ndjson");
        using var posted = await fixture.Node.Client.PostAsync($"/v1/sensors/{sensor}/events", content);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        using var flushed = await fixture.Node.Client.PostAsync("/v1/admin/flush", null);
        Assert.Equal(HttpStatusCode.OK, flushed.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sensors/{sensor}/days/2026-11-21");
        request.Headers.Accept.ParseAdd("application/vnd.apache.parquet");
        using var response = await fixture.Node.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var file = Path.Combine(Path.GetTempPath(), $"collide-{Guid.NewGuid():N}.parquet");
        await File.WriteAllBytesAsync(file, await response.Content.ReadAsByteArrayAsync());
        try
        {
            var read = JsonDocument.Parse(await NodeAsync("duckdb-rows.mjs", [file])).RootElement;

            var columns = read.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToList();
            var row = read.GetProperty("rows").EnumerateArray().Single().EnumerateArray().Select(v => v.GetString()).ToList();
            var value = (string column) => row[columns.IndexOf(column)];
            Assert.Equal(columns.Count, columns.Distinct(StringComparer.OrdinalIgnoreCase).Count());
            Assert.Equal("2026-11-21T10:00:00+01:00", value("event.ts"));
            Assert.Equal("1", value("event.seq"));
            Assert.Equal("literal", value("event.event.ts"));
            Assert.Equal("7", value("event.event.seq"));
            Assert.Equal("deeper", value("event.event.event.ts"));
            Assert.Equal("mine", value("event.receivedAt"));
            Assert.Contains("upper", row);
            Assert.Equal(11, columns.Count);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task The_guides_pandas_example_reads_48_events_with_a_float64_windSpeed()
    {
        var code = GuideBlock("python").Replace("http://localhost:5080", fixture.BaseUrl, StringComparison.Ordinal);

        var output = await ToolProcess.RunAsync(FindPythonWithPandas(), ["-c", code], Folder);

        Assert.Equal(["48 float64 UTC", "48 3"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public async Task The_guides_DuckDB_example_reads_the_downloaded_Parquet_day()
    {
        var work = Path.Combine(Folder, $"guide-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            var curl = GuideBlock("sh").Replace("http://localhost:5080", fixture.BaseUrl, StringComparison.Ordinal);
            await ToolProcess.RunAsync("sh", ["-c", curl], work);
            await File.WriteAllTextAsync(Path.Combine(work, "example.mjs"), GuideBlock("js"));

            var output = await ToolProcess.RunAsync("node", ["example.mjs"], work);

            Assert.Equal("""[{"events":48,"mean":3.75}]""", output.Trim());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task With_Jwt_a_read_token_pasted_once_opens_the_chart_and_is_kept_for_the_tab()
    {
        var key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await using var node = await ServiceNode.StartAsync(new() { ["Auth__Mode"] = "Jwt", ["Auth__SigningKey"] = key, ["Ingest__MaxFutureSkew"] = "365.00:00:00" });
        using var content = new StringContent(string.Join("\n", AnalystReadTests.ParisDay()) + "\n", Encoding.UTF8);
        content.Headers.ContentType = new("application/x-ndjson");
        using var post = new HttpRequestMessage(HttpMethod.Post, $"/v1/sensors/{AnalystNodeFixture.Sensor}/events") { Content = content };
        post.Headers.Authorization = new("Bearer", Mint(key, "--sensor", AnalystNodeFixture.Sensor, "--scope", "ingest"));
        using var flush = new HttpRequestMessage(HttpMethod.Post, "/v1/admin/flush");
        flush.Headers.Authorization = new("Bearer", Mint(key, "--scope", "admin"));
        Assert.Equal(HttpStatusCode.OK, (await node.Client.SendAsync(post)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.Client.SendAsync(flush)).StatusCode);

        var seen = await OpenViewerAsync(
            $"http://127.0.0.1:{node.Port}/?sensor={AnalystNodeFixture.Sensor}&day=2026-11-21&tz=Europe/Paris", token: Mint(key, "--scope", "read"));

        Assert.Contains("needs a read token", seen.GetProperty("before").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("48 events of mast-paris", seen.GetProperty("status").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, seen.GetProperty("charts").GetInt32());
        Assert.True(seen.GetProperty("tokenKept").GetBoolean());
    }

    private static string Mint(string key, params string[] args)
    {
        var output = new StringWriter();
        var config = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Auth:SigningKey"] = key }).Build();
        Assert.Equal(0, TokenCommand.Run(["token", .. args], config, output, TextWriter.Null));
        return output.ToString().Trim();
    }

    private static async Task<JsonElement> OpenViewerAsync(string url, string? screenshot = null, string? token = null)
    {
        string[] args = screenshot is null ? [url] : [url, screenshot];
        return JsonDocument.Parse(await NodeAsync("viewer.mjs", args, token)).RootElement;
    }

    private static async Task<string> NodeAsync(string script, string[] args, string? token = null)
    {
        if (!Directory.Exists(Path.Combine(Folder, "node_modules", "playwright-core")))
        {
            await ToolProcess.RunAsync("npm", ["ci", "--no-audit", "--no-fund"], Folder);
        }

        return await ToolProcess.RunAsync("node", [script, .. args], Folder, token is null ? null : new() { ["VIEWER_TOKEN"] = token });
    }

    /// <summary>The one fenced block of <paramref name="language"/> in docs/analysts.md.</summary>
    private static string GuideBlock(string language)
    {
        var guide = File.ReadAllText(Path.Combine(ToolProcess.RepositoryRoot(), "docs", "analysts.md"));
        return Regex.Matches(guide, "```" + language + "\n(.*?)```", RegexOptions.Singleline).Single().Groups[1].Value;
    }

    /// <summary>Debian's python3-pandas lives beside /usr/bin/python3, which another python3 on PATH may shadow.</summary>
    private static string FindPythonWithPandas()
    {
        foreach (var python in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                using var probe = Process.Start(new ProcessStartInfo(python, ["-c", "import pandas"]) { RedirectStandardError = true })!;
                probe.WaitForExit(60_000);
                if (probe.ExitCode == 0)
                {
                    return python;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not installed under that name.
            }
        }

        Assert.Fail("No python3 with pandas was found: apt-get install -y python3-pandas (.ci/run installs it).");
        return "";
    }
}
