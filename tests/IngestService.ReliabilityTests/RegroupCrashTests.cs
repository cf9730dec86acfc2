using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text;
using IngestService.ReliabilityTests.Infrastructure;
using IngestService.Storage;
using IngestService.Storage.Runs;
using IngestService.Tests.Infrastructure;

namespace IngestService.ReliabilityTests;

/// <summary>
/// Scenario 4: a node regrouping raw batches (the <c>Local</c> backend, so the store is this machine's file
/// system with its atomic renames and locks) is SIGKILLed mid-pass, again and again; a final pass converges
/// to every acknowledged event once in its sensor-day.
/// </summary>
[Collection(ReliabilityCollection.Name)]
[Trait("Category", "Reliability")]
public sealed class RegroupCrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Sensors = 24;
    private const int Days = 3;
    private const int BatchesPerDay = 4;
    private const int EventsPerBatch = 50;

    /// <summary>
    /// Each life is killed once it has committed this many more raw batches into runs, plus a pause that moves the
    /// kill to another point of the next pass (reading, writing its run, committing, sealing, compacting, deleting).
    /// Progress-based rather than timed, so a fast machine cannot finish the pass before the last kill.
    /// </summary>
    private static readonly (int Batches, int PauseMs)[] Lives = [(1, 0), (2, 40), (4, 0), (1, 120), (6, 20), (3, 80), (2, 60), (5, 0)];

    private readonly string _dataPath = Path.Combine(Path.GetTempPath(), "ingest-regroup-crash", Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task A_regroup_pass_killed_again_and_again_leaves_work_the_next_pass_finishes_exactly_once()
    {
        var settings = new Dictionary<string, string>
        {
            ["Ingest__Backend"] = "Local",
            ["Ingest__DataPath"] = _dataPath,
            ["Batching__Window"] = "00:00:00.020",

            // About two posts per window: many raw batches, so a pass has many steps to be killed between.
            ["Batching__MaxWindowEvents"] = "100",
            ["Regroup__Enabled"] = "false",
            ["Serilog__MinimumLevel__Default"] = "Warning",
        };

        var (expected, posts, resent) = await IngestAsync(settings);
        var rawBatches = CountFiles("raw");

        // One batch per pass, the days already over and a small fanout: a node writes runs, commits, seals, reseals
        // and compacts many times over, so a kill lands between them.
        var crashing = new Dictionary<string, string>(settings)
        {
            ["Regroup__Enabled"] = "true",
            ["Regroup__Interval"] = "00:00:01",
            ["Regroup__MaxBatchesPerPass"] = "1",
            ["Regroup__MaxParallelWrites"] = "4",
            ["Regroup__Fanout"] = "3",
            ["Regroup__ResealAfter"] = "00:00:01",
            ["Regroup__DeleteGrace"] = "00:00:02",
        };
        var kills = new JsonArray();
        var midPass = 0;
        await using (var node = new ServiceNode("regrouper", crashing))
        {
            foreach (var (batches, pause) in Lives)
            {
                var doneBefore = await ConsumedAsync();
                node.Launch();
                await node.WaitUntilAsync(
                    $"{batches} more raw batches are in committed runs",
                    async () => await ConsumedAsync() >= Math.Min(doneBefore + batches, rawBatches),
                    TimeSpan.FromSeconds(60),
                    poll: TimeSpan.FromMilliseconds(5));
                await Task.Delay(pause);
                await node.KillAsync();
                var doneAtKill = await ConsumedAsync();
                if (doneAtKill < rawBatches)
                {
                    midPass++;
                }

                kills.Add(new JsonObject { ["afterBatches"] = batches, ["pauseMs"] = pause, ["doneBefore"] = doneBefore, ["doneAtKill"] = doneAtKill, ["rawBatches"] = rawBatches });
            }
        }

        var leftTemporary = Directory.EnumerateFiles(_dataPath, "*.tmp", SearchOption.AllDirectories).Count();
        // Orphan runs of the killed passes are deleted by the final flush (at once, here: no other node is writing).
        await using var final = new ServiceNode("final", new Dictionary<string, string>(settings) { ["Regroup__OrphanAge"] = "00:00:01" });
        await final.StartAsync();
        var pass = await FlushAsync(final);
        var again = await FlushAsync(final);

        var manifest = await ManifestAsync();
        var runFiles = Directory.EnumerateFiles(Path.Combine(_dataPath, "_ingest", "runs"), "*.run", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(_dataPath, f).Replace('\\', '/')).ToList();
        var orphans = runFiles.Where(f => !manifest.KnownRuns().Contains(f)).ToList();
        long missing = 0, duplicated = 0, outOfOrder = 0, unexpected = 0, stored = 0;
        foreach (var ((sensor, day), seqs) in expected)
        {
            var check = await CheckDayAsync(final, sensor, day, seqs);
            missing += check.Missing;
            duplicated += check.Duplicated;
            outOfOrder += check.OutOfOrder;
            unexpected += check.Unexpected;
            stored += check.Stored;
        }

        Figures.Report(output, "regroup-crashes", new JsonObject
        {
            ["command"] = "dotnet test tests/IngestService.ReliabilityTests --filter FullyQualifiedName~RegroupCrashTests",
            ["acknowledged"] = expected.Values.Sum(s => s.Count),
            ["posts"] = posts,
            ["postsResent"] = resent,
            ["sensorDays"] = expected.Count,
            ["rawBatches"] = rawBatches,
            ["kills"] = kills,
            ["killsMidPass"] = midPass,
            ["temporaryFilesLeftByKills"] = leftTemporary,
            ["finalPass"] = pass,
            ["passAfterThat"] = again,
            ["runFilesLeft"] = runFiles.Count,
            ["orphansLeft"] = orphans.Count,
            ["storedEvents"] = stored,
            ["missing"] = missing,
            ["duplicated"] = duplicated,
            ["outOfOrder"] = outOfOrder,
            ["unexpected"] = unexpected,
        });

        Assert.True(midPass == Lives.Length, $"every kill should land mid-pass; {midPass} did: {kills.ToJsonString()}");
        Assert.Equal(0, missing);
        Assert.Equal(0, duplicated);
        Assert.Equal(0, outOfOrder);
        Assert.Equal(0, unexpected);
        Assert.True(pass["batchesRead"]!.GetValue<int>() > 0, "the kills left work for the final pass");
        Assert.Equal(0, again["batchesRead"]!.GetValue<int>());
        Assert.Equal(0, again["pending"]!.GetValue<int>());
        Assert.Equal(rawBatches, await ConsumedAsync());
        Assert.Empty(orphans);
        Assert.Empty(manifest.Runs);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dataPath))
        {
            Directory.Delete(_dataPath, recursive: true);
        }
    }

    /// <summary>
    /// Sensors post backlog batches (application/x-ndjson) spread over three UTC days; one post in ten is sent
    /// twice, as a sensor does when the answer is lost, so the raw batches hold duplicates to remove.
    /// </summary>
    private async Task<(Dictionary<(string Sensor, string Day), HashSet<long>> Expected, int Posts, int Resent)> IngestAsync(Dictionary<string, string> settings)
    {
        var expected = new Dictionary<(string, string), HashSet<long>>();
        var posts = 0;
        var resent = 0;
        await using var writer = new ServiceNode("writer", settings);
        await writer.StartAsync();
        var first = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        await Parallel.ForEachAsync(Enumerable.Range(0, Sensors), new ParallelOptions { MaxDegreeOfParallelism = Sensors }, async (n, ct) =>
        {
            var sensor = $"crash-{n}";
            long seq = 0;
            for (var day = 0; day < Days; day++)
            {
                var dayStart = first.AddDays(day);
                var seqs = new HashSet<long>();
                for (var batch = 0; batch < BatchesPerDay; batch++)
                {
                    var body = new StringBuilder();
                    for (var e = 0; e < EventsPerBatch; e++, seq++)
                    {
                        var ts = dayStart.AddSeconds(seq * 7).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                        body.Append(CultureInfo.InvariantCulture, $$"""{"ts":"{{ts}}","seq":{{seq}},"temperature":{{20 + (seq % 10)}}}""").Append('\n');
                        seqs.Add(seq);
                    }

                    var times = (n + batch) % 10 == 0 ? 2 : 1;
                    for (var t = 0; t < times; t++)
                    {
                        using var content = new StringContent(body.ToString(), Encoding.UTF8, "application/x-ndjson");
                        using var response = await writer.Client.PostAsync($"/v1/sensors/{sensor}/events", content, ct);
                        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{sensor}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
                        Interlocked.Increment(ref posts);
                    }

                    if (times == 2)
                    {
                        Interlocked.Increment(ref resent);
                    }
                }

                lock (expected)
                {
                    expected[(sensor, dayStart.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))] = seqs;
                }
            }
        });
        return (expected, posts, resent);
    }

    private static async Task<JsonObject> FlushAsync(ServiceNode node)
    {
        using var response = await node.Client.PostAsync("/v1/admin/flush", null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"flush: {(int)response.StatusCode} {text}\n{node.Output}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<(long Missing, long Duplicated, long OutOfOrder, long Unexpected, long Stored)> CheckDayAsync(
        ServiceNode node, string sensor, string day, HashSet<long> expected)
    {
        using var response = await node.Client.GetAsync($"/v1/sensors/{sensor}/days/{day}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return (expected.Count, 0, 0, 0, 0);
        }

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = new HashSet<long>();
        long duplicated = 0, outOfOrder = 0, unexpected = 0, stored = 0;
        (DateTimeOffset Ts, long Seq)? previous = null;
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var json = JsonDocument.Parse(line);
            var seq = json.RootElement.GetProperty("seq").GetInt64();
            var ts = DateTimeOffset.Parse(json.RootElement.GetProperty("ts").GetString()!, CultureInfo.InvariantCulture);
            stored++;
            if (!seen.Add(seq))
            {
                duplicated++;
            }

            if (!expected.Contains(seq))
            {
                unexpected++;
            }

            if (previous is { } p && (ts < p.Ts || (ts == p.Ts && seq < p.Seq)))
            {
                outOfOrder++;
            }

            previous = (ts, seq);
        }

        return (expected.Count(s => !seen.Contains(s)), duplicated, outOfOrder, unexpected, stored);
    }

    private async Task<Manifest> ManifestAsync()
    {
        var store = new FileSystemObjectStore(_dataPath);
        await using var stored = await store.GetAsync(Manifest.Key, CancellationToken.None);
        if (stored is null)
        {
            return new Manifest();
        }

        using var buffer = new MemoryStream();
        await stored.Content.CopyToAsync(buffer);
        return Manifest.Deserialize(buffer.ToArray());
    }

    /// <summary>Raw batches the manifest counts as in runs: those up to its floor and those after it it lists.</summary>
    private async Task<int> ConsumedAsync()
    {
        Manifest manifest;
        try
        {
            manifest = await ManifestAsync();
        }
        catch (IOException)
        {
            // Read while a killed node's rename was in flight: ask again at the next poll.
            return 0;
        }

        var floor = manifest.RawFloor;
        var raw = Path.Combine(_dataPath, "raw");
        var belowFloor = floor is null || !Directory.Exists(raw) ? 0 : Directory.EnumerateFiles(raw, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(_dataPath, f).Replace('\\', '/'))
            .Count(k => !k.EndsWith(".tmp", StringComparison.Ordinal) && string.CompareOrdinal(k, floor) <= 0);
        return belowFloor + manifest.Consumed.Count;
    }

    private int CountFiles(string folder)
    {
        var path = Path.Combine(_dataPath, folder);
        return Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Count(f => !f.EndsWith(".tmp", StringComparison.Ordinal) && !f.EndsWith(".lock", StringComparison.Ordinal))
            : 0;
    }
}
